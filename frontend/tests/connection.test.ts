import { describe, expect, it } from 'vitest'
import { Backoff } from '../src/lib/backoff'
import { Connection, wsUrlFromLocation, type ConnectionState, type SocketLike } from '../src/lib/connection'
import { fixtures } from './fixtures'

class FakeSocket implements SocketLike {
  readyState = 0
  sent: string[] = []
  onopen: ((ev: unknown) => void) | null = null
  onclose: ((ev: unknown) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(data)
  }
  close() {
    this.readyState = 3
    this.onclose?.({})
  }
  serverOpens() {
    this.readyState = 1
    this.onopen?.({})
  }
  serverDrops() {
    this.readyState = 3
    this.onclose?.({})
  }
}

function harness() {
  const sockets: FakeSocket[] = []
  const timers: { fn: () => void; ms: number }[] = []
  const states: [ConnectionState, number | null][] = []
  const messages: string[] = []
  const errors: string[] = []
  const conn = new Connection(
    {
      url: 'ws://example.test/ws',
      createSocket: (url) => {
        const s = new FakeSocket(url)
        sockets.push(s)
        return s
      },
      backoff: new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0 }),
      setTimer: (fn, ms) => timers.push({ fn, ms }),
      clearTimer: () => {},
    },
    {
      onMessage: (m) => messages.push(m.type),
      onState: (s, info) => states.push([s, info.retryInMs]),
      onDecodeError: (e) => errors.push(e),
    },
  )
  return { conn, sockets, timers, states, messages, errors }
}

describe('Connection', () => {
  it('derives the socket URL from the page origin', () => {
    expect(wsUrlFromLocation({ protocol: 'http:', host: '127.0.0.1:8766' })).toBe('ws://127.0.0.1:8766/ws')
    expect(wsUrlFromLocation({ protocol: 'https:', host: 'town.example' })).toBe('wss://town.example/ws')
  })

  it('reconnects with growing delays and resets after a success', () => {
    const h = harness()
    h.conn.start()
    expect(h.sockets).toHaveLength(1)
    h.sockets[0].serverDrops()
    expect(h.states.at(-1)).toEqual(['offline', 50])
    h.timers.shift()!.fn()
    h.sockets[1].serverDrops()
    expect(h.states.at(-1)).toEqual(['offline', 100])
    h.timers.shift()!.fn()
    h.sockets[2].serverOpens()
    expect(h.states.at(-1)).toEqual(['open', null])
    h.sockets[2].serverDrops()
    expect(h.states.at(-1)).toEqual(['offline', 50])
  })

  it('decodes frames and reports bad ones', () => {
    const h = harness()
    h.conn.start()
    h.sockets[0].serverOpens()
    h.sockets[0].onmessage?.({ data: JSON.stringify(fixtures.server.hello) })
    h.sockets[0].onmessage?.({ data: 'garbage' })
    expect(h.messages).toEqual(['hello'])
    expect(h.errors).toHaveLength(1)
  })

  it('sends only while open and stops retrying when stopped', () => {
    const h = harness()
    h.conn.start()
    expect(h.conn.send({ type: 'pause' })).toBe(false)
    h.sockets[0].serverOpens()
    expect(h.conn.send({ type: 'pause' })).toBe(true)
    expect(h.sockets[0].sent).toEqual(['{"type":"pause"}'])
    h.conn.stop()
    expect(h.timers).toHaveLength(0)
  })
})
