// The e2e fixture server must speak the protocol like the real one, or the browser
// tests prove nothing: check it with a plain WebSocket client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
// @ts-expect-error: plain ESM module without type declarations
import { startFixtureServer } from '../e2e/fixture-server.mjs'

interface Msg {
  type: string
  v: number
  [k: string]: unknown
}

let server: { url: string; close(): Promise<void> }

beforeAll(async () => {
  server = await startFixtureServer({ port: 0, intervalMs: 50 })
})
afterAll(async () => {
  await server.close()
})

function client(query = '') {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws${query}`)
  const inbox: Msg[] = []
  const waiters: (() => void)[] = []
  ws.on('message', (d) => {
    inbox.push(JSON.parse(d.toString()) as Msg)
    waiters.splice(0).forEach((w) => w())
  })
  const closed = new Promise<number>((ok) => ws.on('close', (code) => ok(code)))
  /** Next message after `from` that passes `pred` (generous deadline, not a timing test). */
  async function wait(pred: (m: Msg) => boolean, from = 0): Promise<Msg> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const hit = inbox.slice(from).find(pred)
      if (hit) return hit
      if (Date.now() > deadline) throw new Error('no matching message')
      await new Promise<void>((ok) => {
        waiters.push(ok)
        setTimeout(ok, 200)
      })
    }
  }
  const opened = new Promise<void>((ok) => ws.on('open', () => ok()))
  return { ws, inbox, wait, opened, closed }
}

describe('fixture server', () => {
  it('greets a late joiner with hello, stats history and the latest episode, in order', async () => {
    const c = client()
    await c.wait((m) => m.type === 'episode')
    expect(c.inbox.slice(0, 3).map((m) => m.type)).toEqual(['hello', 'stats', 'episode'])
    expect(c.inbox.every((m) => m.v === 2)).toBe(true)
    expect((c.inbox[1].history as unknown[]).length).toBeGreaterThan(100)
    c.ws.close()
  })

  it('answers next with a newer episode and pushes summaries', async () => {
    const c = client()
    const first = await c.wait((m) => m.type === 'episode')
    await c.wait((m) => m.type === 'episode_summary' && (m.episode_id as number) > (first.episode_id as number))
    const mark = c.inbox.length
    c.ws.send(JSON.stringify({ type: 'next', after: first.episode_id }))
    const next = await c.wait((m) => m.type === 'episode', mark)
    expect(next.episode_id as number).toBeGreaterThan(first.episode_id as number)
    c.ws.close()
  })

  it('applies every_nth on the server', async () => {
    const c = client()
    await c.opened
    const first = await c.wait((m) => m.type === 'episode')
    c.ws.send(JSON.stringify({ type: 'set_filter', filter: { kind: 'every_nth', n: 3 } }))
    const mark = c.inbox.length
    c.ws.send(JSON.stringify({ type: 'next', after: first.episode_id }))
    const next = await c.wait((m) => m.type === 'episode', mark)
    expect((next.episode_id as number) % 3).toBe(0)
    c.ws.close()
  })

  it('replies to bad input with error codes and keeps the connection', async () => {
    const c = client()
    await c.opened
    const cases: [string, string][] = [
      ['{oops', 'invalid_json'],
      ['[1]', 'not_an_object'],
      ['{}', 'missing_type'],
      ['{"type":"fly"}', 'unknown_type'],
      ['{"type":"set_speed","speed":0}', 'invalid_speed'],
      ['{"type":"set_speed","speed":51}', 'invalid_speed'],
      ['{"type":"set_filter","filter":{"kind":"every_nth","n":0}}', 'invalid_filter'],
      ['{"type":"get_episode"}', 'invalid_field'],
      ['{"type":"list_recordings","filters":{"limit":0}}', 'invalid_value'],
      ['{"type":"get_episode","id":999999999}', 'unknown_episode'],
      ['{"type":"set_policy","greedy":true}', 'not_available'],
    ]
    for (const [input, code] of cases) {
      const mark = c.inbox.length
      c.ws.send(input)
      const err = await c.wait((m) => m.type === 'error', mark)
      expect(err.code, input).toBe(code)
    }
    expect(c.ws.readyState).toBe(WebSocket.OPEN)
    c.ws.close()
  })

  it('refuses an oversized frame and closes with 1009', async () => {
    const c = client()
    await c.opened
    c.ws.send(JSON.stringify({ type: 'pause', pad: 'x'.repeat(70 * 1024) }))
    const err = await c.wait((m) => m.type === 'error')
    expect(err.code).toBe('frame_too_large')
    expect(await c.closed).toBe(1009)
  })

  it('lists recordings and loads a replay', async () => {
    const c = client()
    await c.opened
    c.ws.send(JSON.stringify({ type: 'list_recordings', filters: { limit: 2 } }))
    const list = await c.wait((m) => m.type === 'recordings')
    const items = list.items as { episode_id: number }[]
    expect(items.length).toBe(2)
    const mark = c.inbox.length
    c.ws.send(JSON.stringify({ type: 'load_replay', episode_id: items[0].episode_id }))
    const ep = await c.wait((m) => m.type === 'episode' && m.source === 'replay', mark)
    expect(ep.episode_id).toBe(items[0].episode_id)
    c.ws.close()
  })

  it('serves two runs: hello lists them, ?run= and watch choose one, every message names it', async () => {
    const c = client('?run=epsilon-only')
    const hello = await c.wait((m) => m.type === 'hello')
    expect(hello.run_id).toBe('epsilon-only')
    expect((hello.runs as { id: string }[]).map((r) => r.id)).toEqual(['with-curiosity', 'epsilon-only'])
    const ep = await c.wait((m) => m.type === 'episode')
    expect(ep.run_id).toBe('epsilon-only')
    await c.wait((m) => m.type === 'episode_summary')
    expect(c.inbox.filter((m) => 'run_id' in m).every((m) => m.run_id === 'epsilon-only')).toBe(true)
    let mark = c.inbox.length
    c.ws.send(JSON.stringify({ type: 'watch', run_id: 'with-curiosity' }))
    const again = await c.wait((m) => m.type === 'hello', mark)
    expect(again.run_id).toBe('with-curiosity')
    const stats = await c.wait((m) => m.type === 'stats' && m.history !== null, mark)
    expect(stats.run_id).toBe('with-curiosity')
    mark = c.inbox.length
    c.ws.send(JSON.stringify({ type: 'watch', run_id: 'nope' }))
    expect((await c.wait((m) => m.type === 'error', mark)).code).toBe('unknown_run')
    c.ws.close()
  })

  it('an unknown run in the URL is refused, then the first run is watched', async () => {
    const c = client('?run=nope')
    const hello = await c.wait((m) => m.type === 'hello')
    expect(c.inbox[0].type).toBe('error')
    expect(c.inbox[0].code).toBe('unknown_run')
    expect(hello.run_id).toBe('with-curiosity')
    c.ws.close()
  })

  it('serves one run `main` with single', async () => {
    const one = await startFixtureServer({ port: 0, single: true })
    try {
      const ws = new WebSocket(`${one.url.replace('http', 'ws')}/ws`)
      const hello = await new Promise<Msg>((ok) => ws.on('message', (d) => ok(JSON.parse(d.toString()) as Msg)))
      expect(hello.run_id).toBe('main')
      expect((hello.runs as { id: string }[]).map((r) => r.id)).toEqual(['main'])
      expect(hello.lab_title).toBeNull()
      ws.close()
    } finally {
      await one.close()
    }
  })
})
