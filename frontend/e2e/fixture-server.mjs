#!/usr/bin/env node
// A small, protocol-faithful stand-in for the Townlet server, for developing and testing
// the frontend without a trainer. It serves `dist/`, and on `/ws` speaks the viewer
// protocol (docs/protocol.md) with episodes replayed from `fixtures/protocol.json`, which
// the Rust protocol crate generates. The real server replaces it in CI; nothing in the
// frontend or in `run.mjs` depends on which one is running.
//
//   node e2e/fixture-server.mjs [--port 8766] [--host 127.0.0.1] [--mode live|checkpoint]
//                               [--temporal] [--long] [--interval-ms 300] [--dist DIR]
//
// --long streams 500-step L1 episodes (for measuring playback smoothness at 50×).

import { createServer } from 'node:http'
import { readFileSync, existsSync, statSync, createReadStream } from 'node:fs'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { WebSocketServer } from 'ws'

const here = fileURLToPath(new URL('.', import.meta.url))
const fixtures = JSON.parse(readFileSync(join(here, 'fixtures', 'protocol.json'), 'utf8'))

const V = fixtures.protocol_version
const MAX_FRAME = 64 * 1024
const RING = 200
const CLIENT_TYPES = ['subscribe', 'next', 'get_episode', 'set_speed', 'pause', 'resume', 'step', 'jump_live', 'set_filter', 'set_policy', 'list_recordings', 'load_replay', 'seek']
const FILTER_KINDS = ['all', 'failures', 'stage_changes', 'every_nth', 'best', 'worst']
const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json', '.png': 'image/png', '.ico': 'image/x-icon' }

const clone = (x) => JSON.parse(JSON.stringify(x))

class Refusal extends Error {
  constructor(code, message) {
    super(message)
    this.code = code
  }
}

function checkSpeed(speed) {
  if (speed === 'instant') return speed
  if (typeof speed !== 'number' || !Number.isFinite(speed) || speed < 0.25 || speed > 50) {
    throw new Refusal('invalid_speed', `speed ${JSON.stringify(speed)} is outside 0.25..=50 (or use "instant")`)
  }
  return speed
}

function checkFilter(filter) {
  if (typeof filter !== 'object' || filter === null || !FILTER_KINDS.includes(filter.kind)) {
    throw new Refusal('invalid_filter', 'filter must be {"kind": all|failures|stage_changes|every_nth|best|worst}')
  }
  if (filter.kind === 'every_nth') {
    const n = filter.n ?? 10
    if (!Number.isInteger(n) || n < 1) throw new Refusal('invalid_filter', 'every_nth needs n >= 1')
    return { kind: 'every_nth', n }
  }
  return { kind: filter.kind }
}

const isU = (x) => Number.isInteger(x) && x >= 0

/** Mirrors townlet_protocol::parse_client_message closely enough for the viewer. */
export function parseClient(text) {
  if (text.length > MAX_FRAME) throw new Refusal('frame_too_large', `frame of ${text.length} bytes exceeds ${MAX_FRAME} bytes`)
  let m
  try {
    m = JSON.parse(text)
  } catch (e) {
    throw new Refusal('invalid_json', `invalid JSON: ${e.message}`)
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new Refusal('not_an_object', 'a message must be a JSON object')
  if (typeof m.type !== 'string') throw new Refusal('missing_type', 'a message needs a string `type` field')
  if (!CLIENT_TYPES.includes(m.type)) throw new Refusal('unknown_type', `unknown message type \`${m.type.slice(0, 64)}\``)
  if ('v' in m && m.v !== V) throw new Refusal('unsupported_version', `protocol version ${JSON.stringify(m.v)} is not supported`)
  if ('speed' in m) checkSpeed(m.speed)
  if ('filter' in m) m.filter = checkFilter(m.filter)
  const field = (ok, name) => {
    if (!ok) throw new Refusal('invalid_field', `bad \`${m.type}\` message: field \`${name}\``)
  }
  switch (m.type) {
    case 'subscribe':
      field(m.delivery === undefined || m.delivery === 'episode' || m.delivery === 'steps', 'delivery')
      break
    case 'next':
      field(m.after === undefined || m.after === null || isU(m.after), 'after')
      field(m.order === undefined || m.order === 'latest' || m.order === 'sequential', 'order')
      break
    case 'get_episode':
      field(isU(m.id), 'id')
      break
    case 'set_speed':
      field('speed' in m, 'speed')
      break
    case 'set_filter':
      field('filter' in m, 'filter')
      break
    case 'set_policy':
      field(typeof m.greedy === 'boolean', 'greedy')
      break
    case 'load_replay':
      field(isU(m.episode_id), 'episode_id')
      break
    case 'seek':
      field(isU(m.index) && m.index < 2 ** 32, 'index')
      break
    case 'list_recordings': {
      const f = m.filters ?? {}
      field(typeof f === 'object' && f !== null, 'filters')
      if (f.limit != null && (!Number.isInteger(f.limit) || f.limit < 1 || f.limit > 1000)) throw new Refusal('invalid_value', `limit ${f.limit} is outside 1..=1000`)
      if (f.stage === 0) throw new Refusal('invalid_value', 'stage is 1-based')
      if (f.min_reward != null && f.max_reward != null && f.min_reward > f.max_reward) throw new Refusal('invalid_value', 'min_reward > max_reward')
      break
    }
  }
  return m
}

export async function startFixtureServer(opts = {}) {
  const host = opts.host ?? '127.0.0.1'
  const mode = opts.mode ?? 'live'
  const temporal = opts.temporal ?? false
  const intervalMs = opts.intervalMs ?? 300
  const dist = resolve(opts.dist ?? join(here, '..', 'dist'))
  const started = Date.now()
  const s = fixtures.stream
  const templates = opts.long ? [s.long_episode] : temporal ? s.temporal_episodes : s.episodes
  const hello = clone(temporal ? s.hello_temporal : s.hello_live)
  hello.mode = mode
  const source = mode === 'checkpoint' ? 'checkpoint' : 'training'
  const history = clone(s.stats_history.history)
  let nextId = history[history.length - 1].episode_id + 1
  let dropped = 0
  const ring = []
  const clients = new Set()

  const send = (ws, msg) => {
    if (ws.readyState === 1) ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg))
  }
  const error = (ws, code, message, request = null) => send(ws, { type: 'error', v: V, code, message, request })

  function makeEpisode() {
    const ep = clone(templates[nextId % templates.length])
    const now = Date.now()
    ep.episode_id = nextId++
    ep.source = source
    ep.checkpoint_episode = mode === 'checkpoint' ? 5000 : null
    ep.finished_at = now
    ep.sent_at = now
    ep.metadata.timestamp = (now - ep.metadata.survival_steps * 10) / 1000
    ep.metadata.curriculum_stage = 1 + Math.min(4, Math.floor(ep.episode_id / 400))
    return ep
  }

  function matches(ep, filter) {
    switch (filter.kind) {
      case 'failures':
        return ep.metadata.end_reason === 'died'
      case 'every_nth':
        return ep.episode_id % filter.n === 0
      case 'stage_changes': {
        const i = ring.indexOf(ep)
        for (let j = Math.max(1, i - 2); j <= Math.min(ring.length - 1, i + 3); j++) {
          if (ring[j].metadata.curriculum_stage !== ring[j - 1].metadata.curriculum_stage) return true
        }
        return false
      }
      case 'best':
      case 'worst': {
        const recent = ring.slice(-100).map((e) => e.metadata.extrinsic_reward ?? 0).sort((a, b) => a - b)
        const k = Math.max(1, Math.floor(recent.length / 10))
        const r = ep.metadata.extrinsic_reward ?? 0
        return filter.kind === 'best' ? r >= recent[recent.length - k] : r <= recent[k - 1]
      }
      default:
        return true
    }
  }

  function pick(c, after, order) {
    const candidates = ring.filter((e) => (after === null || e.episode_id > after) && matches(e, c.filter))
    if (candidates.length === 0) return null
    if (order === 'sequential') return candidates[0]
    c.skipped += candidates.length - 1
    return candidates[candidates.length - 1]
  }

  function deliver(c, ep) {
    c.current = ep
    if (c.delivery === 'steps') startSteps(c, ep)
    else send(c.ws, { ...ep, sent_at: Date.now() })
  }

  // Server-paced delivery for thin clients.
  function startSteps(c, ep) {
    clearTimeout(c.timer)
    c.index = 0
    send(c.ws, { type: 'episode_start', v: V, episode_id: ep.episode_id, source: ep.source, checkpoint_episode: ep.checkpoint_episode, agent_id: 0, layout: ep.layout, start: ep.start, total_steps: ep.steps.step.length, finished_at: ep.finished_at, sent_at: Date.now() })
    scheduleStep(c)
  }
  function sendStep(c) {
    const ep = c.current
    const i = c.index
    const n = ep.steps.step.length
    if (i >= n) {
      send(c.ws, { type: 'episode_end', v: V, episode_id: ep.episode_id, source: ep.source, metadata: ep.metadata, sent_at: Date.now() })
      const next = pick(c, ep.episode_id, 'latest')
      if (next) deliver(c, next)
      else c.waiting = { after: ep.episode_id, order: 'latest' }
      return
    }
    const row = {}
    for (const [k, col] of Object.entries(ep.steps)) row[k] = col[i]
    send(c.ws, { type: 'step', v: V, episode_id: ep.episode_id, index: i, ...row })
    c.index++
  }
  function scheduleStep(c) {
    clearTimeout(c.timer)
    if (c.paused || c.delivery !== 'steps' || !c.current) return
    const ms = c.speed === 'instant' ? 0 : 1000 / (5 * c.speed)
    c.timer = setTimeout(() => {
      sendStep(c)
      if (c.delivery === 'steps' && c.index > 0) scheduleStep(c)
    }, ms)
  }

  function statsMessage(c, withHistory) {
    const last = ring[ring.length - 1]
    const msg = {
      ...clone(s.stats_history),
      episodes_trained: nextId,
      steps_trained: nextId * 152,
      steps_per_second: 6000 + Math.round(Math.random() * 300),
      curriculum_stage: last?.metadata.curriculum_stage ?? 1,
      dropped,
      skipped: c.skipped,
      clients: clients.size,
      uptime_s: Math.floor((Date.now() - started) / 1000),
      sent_at: Date.now(),
      history: null,
    }
    if (withHistory) {
      const points = history.slice()
      for (const e of ring) {
        const m = e.metadata
        points.push({ episode_id: e.episode_id, survival_steps: m.survival_steps, total_reward: m.total_reward, extrinsic_reward: m.extrinsic_reward, epsilon: m.epsilon, intrinsic_weight: m.intrinsic_weight, curriculum_stage: m.curriculum_stage, end_reason: m.end_reason })
      }
      msg.history = points.slice(-1000)
    }
    return msg
  }

  function produce() {
    const ep = makeEpisode()
    ring.push(ep)
    if (ring.length > RING) ring.shift()
    const summary = JSON.stringify({ type: 'episode_summary', v: V, episode_id: ep.episode_id, source: ep.source, checkpoint_episode: ep.checkpoint_episode, metadata: ep.metadata, finished_at: ep.finished_at, sent_at: Date.now() })
    for (const c of clients) {
      send(c.ws, summary)
      if (c.waiting && matches(ep, c.filter) && ep.episode_id > (c.waiting.after ?? -1)) {
        c.waiting = null
        deliver(c, ep)
      }
    }
  }

  function handle(c, text) {
    let m
    try {
      m = parseClient(text)
    } catch (e) {
      if (e instanceof Refusal) {
        error(c.ws, e.code, e.message)
        if (e.code === 'frame_too_large') c.ws.close(1009, 'frame too large')
        return
      }
      throw e
    }
    const refuse = (code, message) => error(c.ws, code, message, m.type)
    switch (m.type) {
      case 'subscribe':
        c.delivery = m.delivery ?? 'episode'
        c.speed = m.speed ?? 1
        c.filter = m.filter ?? { kind: 'all' }
        if (c.delivery === 'steps' && c.current) startSteps(c, c.current)
        break
      case 'next': {
        const after = m.after ?? null
        const ep = pick(c, after, m.order ?? 'latest')
        if (ep) deliver(c, ep)
        else c.waiting = { after, order: m.order ?? 'latest' }
        break
      }
      case 'get_episode': {
        const ep = ring.find((e) => e.episode_id === m.id)
        if (ep) deliver(c, ep)
        else if (s.recordings.items.some((r) => r.episode_id === m.id)) deliver(c, replay(m.id))
        else refuse('unknown_episode', `episode ${m.id} is neither recent nor recorded`)
        break
      }
      case 'load_replay':
        if (s.recordings.items.some((r) => r.episode_id === m.episode_id)) deliver(c, replay(m.episode_id))
        else refuse('unknown_episode', `no recording of episode ${m.episode_id}`)
        break
      case 'list_recordings': {
        const f = m.filters ?? {}
        const items = s.recordings.items.filter(
          (r) =>
            (f.stage == null || r.curriculum_stage === f.stage) &&
            (f.reason == null || r.reason === f.reason) &&
            (f.end_reason == null || r.end_reason === f.end_reason) &&
            (f.min_reward == null || r.extrinsic_reward >= f.min_reward) &&
            (f.max_reward == null || r.extrinsic_reward <= f.max_reward),
        )
        send(c.ws, { type: 'recordings', v: V, items: items.slice(0, f.limit ?? 100), total: items.length })
        break
      }
      case 'jump_live': {
        c.waiting = null
        const ep = pick(c, null, 'latest')
        if (ep) deliver(c, ep)
        else c.waiting = { after: null, order: 'latest' }
        break
      }
      case 'set_speed':
        c.speed = m.speed
        scheduleStep(c)
        break
      case 'set_filter':
        c.filter = m.filter
        break
      case 'set_policy':
        if (mode !== 'checkpoint') refuse('not_available', 'set_policy applies in checkpoint mode only')
        else c.greedy = m.greedy
        break
      case 'pause':
        c.paused = true
        clearTimeout(c.timer)
        break
      case 'resume':
        c.paused = false
        scheduleStep(c)
        break
      case 'step':
        if (c.delivery !== 'steps' || !c.current) refuse('not_available', 'step applies to server-paced delivery')
        else sendStep(c)
        break
      case 'seek':
        if (c.delivery !== 'steps' || !c.current) refuse('not_available', 'seek applies to server-paced delivery')
        else if (m.index >= c.current.steps.step.length) refuse('seek_out_of_range', `index ${m.index} is past the episode's ${c.current.steps.step.length} steps`)
        else {
          c.index = m.index
          scheduleStep(c)
        }
        break
    }
  }

  function replay(id) {
    const ep = clone(s.replay_episode)
    ep.episode_id = id
    ep.source = 'replay'
    ep.sent_at = Date.now()
    return ep
  }

  function serveStatic(req, res) {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
    if (url.pathname === '/api/status') {
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ mode, config: hello.pack, episodes_trained: nextId, episodes_streamed: nextId, dropped, callback_failures: 0, clients: clients.size, uptime_s: Math.floor((Date.now() - started) / 1000), fixture: true }))
    }
    if (url.pathname === '/api/recordings') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(s.recordings.items))
    let path = normalize(join(dist, decodeURIComponent(url.pathname)))
    if (!path.startsWith(dist + sep) && path !== dist) return void res.writeHead(403).end()
    if (!existsSync(path) || statSync(path).isDirectory()) path = join(dist, 'index.html')
    if (!existsSync(path)) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('frontend not built: run `npm run build`\n')
    res.writeHead(200, { 'content-type': MIME[extname(path)] ?? 'application/octet-stream' })
    createReadStream(path).pipe(res)
  }

  const http = createServer(serveStatic)
  // Accept bigger frames than the limit so an oversized one gets an `error` first (D35).
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * MAX_FRAME })
  http.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/ws') return void socket.destroy()
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws))
  })
  wss.on('connection', (ws) => {
    const c = { ws, filter: { kind: 'all' }, delivery: 'episode', speed: 1, paused: false, greedy: false, skipped: 0, waiting: null, current: null, timer: null, index: 0 }
    clients.add(c)
    hello.totals = { episodes_trained: nextId, steps_trained: nextId * 152, episodes_streamed: nextId, dropped }
    send(ws, { ...hello })
    send(ws, statsMessage(c, true))
    if (mode === 'checkpoint') send(ws, { ...fixtures.server.model_loaded, loaded_at: started })
    const latest = ring[ring.length - 1]
    if (latest) deliver(c, latest)
    ws.on('message', (data, isBinary) => {
      if (isBinary) return error(ws, 'invalid_json', 'binary frames are not accepted')
      handle(c, data.toString('utf8'))
    })
    ws.on('close', () => {
      clearTimeout(c.timer)
      clients.delete(c)
    })
  })

  for (let i = 0; i < 5; i++) produce()
  const producer = setInterval(produce, intervalMs)
  const stats = setInterval(() => {
    for (const c of clients) send(c.ws, statsMessage(c, false))
  }, 1000)

  await new Promise((ok, fail) => {
    http.once('error', fail)
    http.listen(opts.port ?? 0, host, ok)
  })
  const address = http.address()
  const url = `http://${host}:${address.port}`
  return {
    url,
    port: address.port,
    close: () =>
      new Promise((ok) => {
        clearInterval(producer)
        clearInterval(stats)
        for (const c of clients) c.ws.close(1001, 'server stopping')
        wss.close()
        http.close(() => ok())
        http.closeAllConnections?.()
      }),
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const arg = (name, dflt) => {
    const i = args.indexOf(name)
    return i >= 0 ? args[i + 1] : dflt
  }
  const server = await startFixtureServer({
    port: Number(arg('--port', '8766')),
    host: arg('--host', '127.0.0.1'),
    mode: arg('--mode', 'live'),
    temporal: args.includes('--temporal'),
    long: args.includes('--long'),
    intervalMs: Number(arg('--interval-ms', '300')),
    dist: arg('--dist', undefined),
  })
  console.log(`fixture server on ${server.url} (ws: ${server.url.replace('http', 'ws')}/ws)`)
  const stop = async () => {
    await server.close()
    process.exit(0)
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
