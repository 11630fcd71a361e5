import { describe, expect, it } from 'vitest'
import { decode, encode, isOpen, stepAt, PROTOCOL_VERSION, type ClientMessage } from '../src/lib/protocol'
import { clone, fixtures } from './fixtures'

describe('decode', () => {
  it('accepts every server example generated from the Rust types', () => {
    expect(fixtures.protocol_version).toBe(PROTOCOL_VERSION)
    const types = Object.keys(fixtures.server)
    expect(types).toHaveLength(14)
    for (const [type, message] of Object.entries(fixtures.server)) {
      const result = decode(JSON.stringify(message))
      expect(result.ok, type).toBe(true)
      if (result.ok) expect(result.message.type).toBe(type)
    }
  })

  it('accepts the stream fixtures', () => {
    const s = fixtures.stream
    for (const m of [s.hello_live, s.hello_temporal, s.stats_history, s.replay_episode, s.recordings, ...s.episodes, ...s.temporal_episodes]) {
      expect(decode(JSON.stringify(m)).ok).toBe(true)
    }
  })

  it('rejects what it cannot trust', () => {
    const episode = clone(fixtures.stream.episodes[0]) as unknown as Record<string, unknown>
    const short = clone(episode) as { steps: { reward: unknown[] } }
    short.steps.reward.pop()
    const cases: [unknown, RegExp][] = [
      ['{', /invalid JSON/],
      [new ArrayBuffer(3), /binary/],
      ['[1]', /not an object/],
      ['null', /not an object/],
      [JSON.stringify({ ...episode, v: 1 }), /protocol version 1/],
      [JSON.stringify({ type: 'teleport', v: PROTOCOL_VERSION }), /unknown message type/],
      [JSON.stringify({ type: 'episode_summary', v: PROTOCOL_VERSION, run_id: 'main', episode_id: 3 }), /without source/],
      [JSON.stringify(short), /column reward/],
    ]
    for (const [input, pattern] of cases) {
      const result = decode(input)
      expect(result.ok).toBe(false)
      if (!result.ok) expect(result.error).toMatch(pattern)
    }
  })

  it('keeps nulls that stand for non-finite numbers', () => {
    const ep = clone(fixtures.stream.episodes[0])
    ;(ep.steps.reward as (number | null)[])[0] = null
    const result = decode(JSON.stringify(ep))
    expect(result.ok).toBe(true)
    if (result.ok && result.message.type === 'episode') expect(result.message.steps.reward[0]).toBeNull()
  })
})

describe('encode', () => {
  it('writes client messages exactly like the Rust examples', () => {
    for (const [, message] of Object.entries(fixtures.client)) {
      expect(JSON.parse(encode(message as unknown as ClientMessage))).toEqual(message)
    }
  })
})

describe('helpers', () => {
  it('stepAt reads one row of the columns', () => {
    const ep = fixtures.stream.episodes[1]
    const row = stepAt(ep.steps, 2)
    expect(row?.step).toBe(3)
    expect(row?.meters).toHaveLength(fixtures.stream.hello_live.meters.length)
    expect(stepAt(ep.steps, ep.steps.step.length)).toBeNull()
    expect(stepAt(ep.steps, -1)).toBeNull()
  })

  it('isOpen follows the operating-hours rule, wrapping past midnight', () => {
    expect(isOpen([0, 24], 23)).toBe(true)
    expect(isOpen([8, 18], 17)).toBe(true)
    expect(isOpen([8, 18], 18)).toBe(false)
    expect(isOpen([18, 28], 2)).toBe(true)
    expect(isOpen([18, 28], 4)).toBe(false)
    expect(isOpen([18, 28], 18)).toBe(true)
  })
})
