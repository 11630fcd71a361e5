// Client-side playback of whole `episode` messages at the viewer's own speed
// (docs/decisions.md#delivery-model).
// The cursor counts steps shown: 0 is the start state, k the state after step k.
// When an episode has been shown to its end, the player asks the server for the next
// one (`next {after}`), exactly once per episode.

import type { Episode, Order, Speed } from './protocol'

export interface PlaybackHooks {
  requestNext(after: number, order: Order): void
  /** Called once when an episode has been played to its last step. */
  finished?(episode: Episode): void
}

export interface PlaybackOptions {
  stepsPerSecondAt1x?: number
  /** How long the last frame stays before a waiting episode replaces it, in steps. */
  holdSteps?: number
}

/** Longest time a single tick may account for (a throttled tab must not jump far). */
const MAX_TICK_MS = 1000

export class Playback {
  episode: Episode | null = null
  /** Next episode, received before the current one ended (or during the end hold). */
  pending: Episode | null = null
  cursor = 0
  playing = true
  speed: Speed = 1
  order: Order = 'latest'
  /** Ask for the next episode at the end (off while watching a replay). */
  follow = true
  awaitingNext = false
  stepsPerSecondAt1x: number
  holdSteps: number
  private accMs = 0
  private endMs = 0
  private finishedId: number | null = null

  constructor(
    private readonly hooks: PlaybackHooks,
    opts: PlaybackOptions = {},
  ) {
    this.stepsPerSecondAt1x = opts.stepsPerSecondAt1x ?? 5
    this.holdSteps = opts.holdSteps ?? 3
  }

  get length(): number {
    return this.episode?.steps.step.length ?? 0
  }

  get atEnd(): boolean {
    return this.episode !== null && this.cursor >= this.length
  }

  /** Milliseconds per step at the current speed (0 for instant). */
  get intervalMs(): number {
    return this.speed === 'instant' ? 0 : 1000 / (this.stepsPerSecondAt1x * this.speed)
  }

  /** Shows nothing (another run is being watched). */
  clear(): void {
    this.episode = null
    this.rewind()
    this.finishedId = null
  }

  /** Shows `episode` now, from its start. */
  load(episode: Episode): void {
    this.episode = episode
    this.rewind()
    this.follow = episode.source !== 'replay'
    if (this.speed === 'instant') this.cursor = this.length
  }

  /** An episode answering `next`: shown at once if nothing is playing, else queued. */
  offer(episode: Episode): void {
    this.awaitingNext = false
    if (this.episode === null) this.load(episode)
    else this.pending = episode
  }

  setSpeed(speed: Speed): void {
    this.speed = speed
    this.accMs = 0
  }

  /** Advances by `dtMs` of wall time. Returns true when what is shown changed. */
  tick(dtMs: number): boolean {
    if (this.episode === null || !this.playing) return false
    const before = this.episode
    const cursorBefore = this.cursor
    const dt = Math.min(Math.max(dtMs, 0), MAX_TICK_MS)
    if (!this.atEnd) {
      if (this.speed === 'instant') {
        this.cursor = this.length
      } else {
        this.accMs += dt
        const interval = this.intervalMs
        const steps = Math.floor(this.accMs / interval)
        if (steps > 0) {
          this.cursor = Math.min(this.length, this.cursor + steps)
          this.accMs -= steps * interval
        }
      }
      if (this.atEnd) this.endMs = 0
    } else {
      this.endMs += dt
    }
    if (this.atEnd) this.reachedEnd()
    return this.episode !== before || this.cursor !== cursorBefore
  }

  /** One step forward (the → key); at the end it moves on to the next episode. */
  stepOnce(): void {
    if (this.episode === null) return
    if (!this.atEnd) {
      this.cursor += 1
      if (this.atEnd) this.reachedEnd()
      return
    }
    if (this.pending !== null) {
      this.load(this.pending)
      return
    }
    this.reachedEnd()
  }

  seek(cursor: number): void {
    if (this.episode === null) return
    this.cursor = Math.max(0, Math.min(this.length, Math.round(cursor)))
    this.accMs = 0
    this.endMs = 0
    if (this.atEnd) this.reachedEnd()
  }

  private rewind(): void {
    this.pending = null
    this.cursor = 0
    this.accMs = 0
    this.endMs = 0
    this.awaitingNext = false
  }

  private reachedEnd(): void {
    const ep = this.episode
    if (ep === null) return
    if (this.finishedId !== ep.episode_id) {
      this.finishedId = ep.episode_id
      this.hooks.finished?.(ep)
    }
    if (!this.follow) return
    if (this.pending !== null) {
      // Let the last frame be seen before switching (not in instant mode).
      const hold = this.speed === 'instant' ? 0 : this.holdSteps * this.intervalMs
      if (this.playing && this.endMs >= hold) this.load(this.pending)
      return
    }
    if (!this.awaitingNext) {
      this.awaitingNext = true
      this.hooks.requestNext(ep.episode_id, this.order)
    }
  }
}
