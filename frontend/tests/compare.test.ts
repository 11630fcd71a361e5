import { describe, expect, it } from 'vitest'
import { nextInStep, type PaneState } from '../src/lib/compare'

const pane = (p: Partial<PaneState>): PaneState => ({ shown: null, atEnd: false, latest: null, waiting: false, ...p })

describe('compare in step', () => {
  it('starts both on the newest episode both runs have', () => {
    expect(nextInStep(pane({ latest: 120 }), pane({ latest: 90 }))).toBe(90)
    expect(nextInStep(pane({ shown: 118, latest: 120 }), pane({ shown: 90, latest: 90 }))).toBe(90)
    expect(nextInStep(pane({ latest: 120 }), pane({}))).toBeNull()
  })

  it('moves on only when both have played the episode to its end', () => {
    const a = pane({ shown: 90, latest: 130, atEnd: true })
    expect(nextInStep(a, pane({ shown: 90, latest: 100, atEnd: false }))).toBeNull()
    expect(nextInStep(a, pane({ shown: 90, latest: 100, atEnd: true }))).toBe(100)
    // Nothing newer in both yet: wait.
    expect(nextInStep(a, pane({ shown: 90, latest: 90, atEnd: true }))).toBeNull()
  })

  it('waits while an episode is on its way', () => {
    expect(nextInStep(pane({ shown: 1, latest: 50, waiting: true }), pane({ shown: 2, latest: 60 }))).toBeNull()
  })
})
