import { describe, expect, it } from 'vitest'
import { DEFAULT_VIEW, formatView, historyMode, parseView, type ViewState } from '../src/lib/url'

const view = (v: Partial<ViewState>): ViewState => ({ ...DEFAULT_VIEW, ...v })

describe('URL state', () => {
  it('reads a link to one step of one episode of one run', () => {
    expect(parseView('?run=with-curiosity&ep=1234&step=87&filter=failures&speed=4')).toEqual({
      runs: ['with-curiosity'],
      ep: 1234,
      step: 87,
      filter: { kind: 'failures' },
      speed: 4,
      sync: false,
    })
  })

  it('reads a comparison in step', () => {
    expect(parseView('?compare=with-curiosity,epsilon-only&ep=1234&sync=1')).toEqual(
      view({ runs: ['with-curiosity', 'epsilon-only'], ep: 1234, sync: true }),
    )
  })

  it('leaves what it cannot read at the default', () => {
    expect(parseView('')).toEqual(DEFAULT_VIEW)
    expect(parseView('?run=Bad%20Id&ep=-3&step=4&speed=3&filter=teleport&sync=1')).toEqual(DEFAULT_VIEW)
    // One run named twice is no comparison; a step needs an episode.
    expect(parseView('?compare=a,a&step=9')).toEqual(DEFAULT_VIEW)
    expect(parseView('?run=L1_full~2026-12-05_071500&speed=instant').runs).toEqual(['L1_full~2026-12-05_071500'])
    expect(parseView('?filter=every_nth&n=0').filter).toEqual({ kind: 'every_nth', n: 1 })
  })

  it('writes what it reads', () => {
    for (const q of [
      '',
      '?run=a',
      '?run=a&ep=12&step=3&filter=every_nth&n=5&speed=0.5',
      '?compare=a,b&ep=7&sync=1',
      '?compare=a,b&speed=instant',
    ]) {
      expect(formatView(parseView(q))).toBe(q)
    }
  })

  it('a new run, comparison or chosen episode is a new history entry; step and speed are not', () => {
    const live = view({ runs: ['a'] })
    expect(historyMode(live, live)).toBeNull()
    expect(historyMode(live, view({ runs: ['b'] }))).toBe('push')
    expect(historyMode(live, view({ runs: ['a', 'b'] }))).toBe('push')
    expect(historyMode(view({ runs: ['a', 'b'] }), view({ runs: ['a', 'b'], sync: true }))).toBe('push')
    expect(historyMode(live, view({ runs: ['a'], ep: 40 }))).toBe('push')
    // Pausing pins the episode and step shown: the same entry.
    expect(historyMode(live, view({ runs: ['a'], ep: 40, step: 3 }))).toBe('replace')
    expect(historyMode(view({ runs: ['a'], ep: 40, step: 3 }), view({ runs: ['a'], ep: 40, step: 4 }))).toBe('replace')
    expect(historyMode(live, view({ runs: ['a'], speed: 10 }))).toBe('replace')
    expect(historyMode(live, view({ runs: ['a'], filter: { kind: 'failures' } }))).toBe('replace')
    // Naming the server's first run, shown by a view without a run, is the same view.
    expect(historyMode(view({}), view({ runs: ['a'] }), 'a')).toBe('replace')
    expect(historyMode(view({}), view({ runs: ['b'] }), 'a')).toBe('push')
  })
})
