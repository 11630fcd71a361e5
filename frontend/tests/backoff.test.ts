import { describe, expect, it } from 'vitest'
import { Backoff } from '../src/lib/backoff'

describe('Backoff', () => {
  it('doubles up to the cap, with jitter between half and all of it', () => {
    const low = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0 })
    expect([low.next(), low.next(), low.next(), low.next(), low.next(), low.next()]).toEqual([50, 100, 200, 400, 500, 500])
    const high = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0.999999 })
    expect([high.next(), high.next(), high.next(), high.next(), high.next()]).toEqual([100, 200, 400, 800, 1000])
  })

  it('spreads delays (no lockstep) and never exceeds the cap', () => {
    const b = new Backoff({ baseMs: 1000, maxMs: 8000 })
    const seen = new Set<number>()
    for (let i = 0; i < 50; i++) {
      b.reset()
      for (let k = 0; k < 3; k++) b.next()
      const d = b.next()
      expect(d).toBeGreaterThanOrEqual(4000)
      expect(d).toBeLessThanOrEqual(8000)
      seen.add(d)
    }
    expect(seen.size).toBeGreaterThan(10)
  })

  it('starts over after reset and counts attempts', () => {
    const b = new Backoff({ baseMs: 100, random: () => 0 })
    b.next()
    b.next()
    expect(b.attempts).toBe(2)
    b.reset()
    expect(b.attempts).toBe(0)
    expect(b.next()).toBe(50)
  })
})
