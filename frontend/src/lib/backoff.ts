// Reconnect delays: exponential with "full jitter" (a uniform draw below the exponential
// cap), so many viewers that lost the same server do not reconnect in lockstep.

export interface BackoffOptions {
  baseMs?: number
  maxMs?: number
  factor?: number
  /** Uniform [0, 1) source; injectable for tests. */
  random?: () => number
}

export class Backoff {
  readonly baseMs: number
  readonly maxMs: number
  readonly factor: number
  private readonly random: () => number
  private attempt = 0

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 500
    this.maxMs = opts.maxMs ?? 15_000
    this.factor = opts.factor ?? 2
    this.random = opts.random ?? Math.random
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt
  }

  /** The cap for the current attempt (before jitter). */
  ceiling(): number {
    return Math.min(this.maxMs, this.baseMs * this.factor ** this.attempt)
  }

  /** Delay before the next attempt; at least half the cap, so retries never spin. */
  next(): number {
    const cap = this.ceiling()
    this.attempt += 1
    return Math.round(cap / 2 + (this.random() * cap) / 2)
  }

  reset(): void {
    this.attempt = 0
  }
}
