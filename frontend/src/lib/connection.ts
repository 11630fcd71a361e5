// One WebSocket to the server with automatic reconnection (exponential backoff + jitter).
// What is on screen stays; the store is told the state so it can show a banner.

import { Backoff } from './backoff'
import { decode, encode, type ClientMessage, type ServerMessage } from './protocol'

export type ConnectionState = 'connecting' | 'open' | 'offline'

export interface SocketLike {
  readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onclose: ((ev: unknown) => void) | null
  onerror: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
}

export interface ConnectionHooks {
  onMessage(message: ServerMessage): void
  onState(state: ConnectionState, info: { retryInMs: number | null; attempts: number }): void
  onDecodeError?(error: string): void
}

export interface ConnectionOptions {
  url: string
  createSocket?: (url: string) => SocketLike
  backoff?: Backoff
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (handle: unknown) => void
}

const OPEN = 1

/** `ws(s)://<page host>/ws`, from the page's own origin; `?run=<id>` watches that run. */
export function wsUrlFromLocation(loc: { protocol: string; host: string }, runId: string | null = null): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${loc.host}/ws${runId === null ? '' : `?run=${encodeURIComponent(runId)}`}`
}

export class Connection {
  private socket: SocketLike | null = null
  private timer: unknown = null
  private stopped = false
  readonly backoff: Backoff
  private readonly createSocket: (url: string) => SocketLike
  private readonly setTimer: (fn: () => void, ms: number) => unknown
  private readonly clearTimer: (handle: unknown) => void

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    this.backoff = opts.backoff ?? new Backoff()
    this.createSocket = opts.createSocket ?? ((url) => new WebSocket(url) as unknown as SocketLike)
    this.setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms))
    this.clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>))
  }

  start(): void {
    this.stopped = false
    this.open()
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== null) this.clearTimer(this.timer)
    this.timer = null
    this.socket?.close(1000, 'viewer closed')
    this.socket = null
  }

  get isOpen(): boolean {
    return this.socket !== null && this.socket.readyState === OPEN
  }

  /** Sends when open; returns false (message dropped) while offline. */
  send(message: ClientMessage): boolean {
    if (!this.isOpen || this.socket === null) return false
    this.socket.send(encode(message))
    return true
  }

  private open(): void {
    this.timer = null
    this.hooks.onState('connecting', { retryInMs: null, attempts: this.backoff.attempts })
    let socket: SocketLike
    try {
      socket = this.createSocket(this.opts.url)
    } catch {
      this.scheduleRetry()
      return
    }
    this.socket = socket
    socket.onopen = () => {
      this.backoff.reset()
      this.hooks.onState('open', { retryInMs: null, attempts: 0 })
    }
    socket.onmessage = (ev) => {
      const result = decode(ev.data)
      if (result.ok) this.hooks.onMessage(result.message)
      else this.hooks.onDecodeError?.(result.error)
    }
    socket.onerror = () => {
      // A close event always follows; reconnection is handled there.
    }
    socket.onclose = () => {
      if (this.socket !== socket) return
      this.socket = null
      if (!this.stopped) this.scheduleRetry()
    }
  }

  private scheduleRetry(): void {
    const delay = this.backoff.next()
    this.hooks.onState('offline', { retryInMs: delay, attempts: this.backoff.attempts })
    this.timer = this.setTimer(() => this.open(), delay)
  }
}
