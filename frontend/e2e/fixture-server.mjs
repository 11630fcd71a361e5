#!/usr/bin/env node
// A small, protocol-faithful stand-in for the Townlet server, for developing and testing
// the frontend without a trainer. It serves `dist/`, and on `/ws` speaks the viewer
// protocol (docs/protocol.md) with episodes replayed from `fixtures/protocol.json`, which
// the Rust protocol crate generates. The real server replaces it in CI; nothing in the
// frontend or in `run.mjs` depends on which one is running.
//
//   node e2e/fixture-server.mjs [--port 8766] [--host 127.0.0.1] [--mode live|checkpoint]
//                               [--temporal] [--long] [--interval-ms 300] [--dist DIR]
//                               [--single]
//
// --long streams 500-step L1 episodes (for measuring playback smoothness at 50×).
// It serves two runs of a lab ("with curiosity", "epsilon only"; protocol version 2:
// hello.runs, watch, runs, run_id), or one run `main` with --single.

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
const CLIENT_TYPES = ['watch', 'subscribe', 'next', 'get_episode', 'set_speed', 'pause', 'resume', 'step', 'jump_live', 'set_filter', 'set_policy', 'list_recordings', 'load_replay', 'seek']
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
    case 'watch':
      field(typeof m.run_id === 'string', 'run_id')
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

/** The lab the fixture server serves by default; `single: true` serves one run `main`. */
export const FIXTURE_LAB = {
  title: 'Does curiosity help? (fixture)',
  runs: [
    { id: 'with-curiosity', name: 'with curiosity', overrides: {}, offset: 0, scale: 1 },
    { id: 'epsilon-only', name: 'epsilon only', overrides: { 'exploration.initial_intrinsic_weight': '0' }, offset: 37, scale: 0.7 },
  ],
}
const SINGLE = { title: null, runs: [{ id: 'main', name: 'main', overrides: {}, offset: 0, scale: 1 }] }

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
  const lab = opts.single ? SINGLE : FIXTURE_LAB
  const clients = new Set()
  const runs = lab.runs.map((spec) => {
    // Each run its own numbers: ids shifted, survival scaled, so the two look different.
    const history = clone(s.stats_history.history).map((p) => ({ ...p, survival_steps: Math.round(p.survival_steps * spec.scale) }))
    history.splice(0, spec.offset)
    return { ...spec, history, nextId: history[history.length - 1].episode_id + 1, dropped: 0, ring: [] }
  })
  const runById = (id) => runs.find((r) => r.id === id)

  function points(run) {
    const out = run.history.slice()
    for (const e of run.ring) {
      const m = e.metadata
      out.push({ episode_id: e.episode_id, survival_steps: m.survival_steps, total_reward: m.total_reward, extrinsic_reward: m.extrinsic_reward, epsilon: m.epsilon, intrinsic_weight: m.intrinsic_weight, curriculum_stage: m.curriculum_stage, end_reason: m.end_reason })
    }
    return out
  }
  function runInfo(run) {
    const all = points(run)
    const survival = all.map((p) => p.survival_steps)
    const last = survival.slice(-100)
    const bucket = Math.max(1, Math.ceil(survival.length / 50))
    const sparkline = []
    for (let i = 0; i < survival.length; i += bucket) {
      const b = survival.slice(i, i + bucket)
      sparkline.push(b.reduce((x, y) => x + y, 0) / b.length)
    }
    return {
      id: run.id,
      name: run.name,
      pack: hello.pack,
      seed: 1,
      overrides: run.overrides,
      status: 'live',
      mode,
      episodes: run.nextId,
      best_survival: survival.length ? Math.max(...survival) : null,
      mean_survival_100: last.length ? last.reduce((x, y) => x + y, 0) / last.length : null,
      curriculum_stage: run.ring.at(-1)?.metadata.curriculum_stage ?? 1,
      sparkline,
    }
  }
  const runsMessage = () => ({ type: 'runs', v: V, runs: runs.map(runInfo), lab_title: lab.title })

  const send = (ws, msg) => {
    if (ws.readyState === 1) ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg))
  }
  const error = (ws, code, message, request = null, run_id = null) => send(ws, { type: 'error', v: V, code, message, request, run_id })

  function makeEpisode(run) {
    const ep = clone(templates[(run.nextId + run.offset) % templates.length])
    const now = Date.now()
    ep.run_id = run.id
    ep.episode_id = run.nextId++
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
        const ring = runById(ep.run_id).ring
        const i = ring.indexOf(ep)
        for (let j = Math.max(1, i - 2); j <= Math.min(ring.length - 1, i + 3); j++) {
          if (ring[j].metadata.curriculum_stage !== ring[j - 1].metadata.curriculum_stage) return true
        }
        return false
      }
      case 'best':
      case 'worst': {
        const recent = runById(ep.run_id).ring.slice(-100).map((e) => e.metadata.extrinsic_reward ?? 0).sort((a, b) => a - b)
        const k = Math.max(1, Math.floor(recent.length / 10))
        const r = ep.metadata.extrinsic_reward ?? 0
        return filter.kind === 'best' ? r >= recent[recent.length - k] : r <= recent[k - 1]
      }
      default:
        return true
    }
  }

  function pick(c, after, order) {
    const candidates = c.run.ring.filter((e) => (after === null || e.episode_id > after) && matches(e, c.filter))
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
    send(c.ws, { type: 'episode_start', v: V, run_id: ep.run_id, episode_id: ep.episode_id, source: ep.source, checkpoint_episode: ep.checkpoint_episode, agent_id: 0, layout: ep.layout, start: ep.start, total_steps: ep.steps.step.length, finished_at: ep.finished_at, sent_at: Date.now() })
    scheduleStep(c)
  }
  function sendStep(c) {
    const ep = c.current
    const i = c.index
    const n = ep.steps.step.length
    if (i >= n) {
      send(c.ws, { type: 'episode_end', v: V, run_id: ep.run_id, episode_id: ep.episode_id, source: ep.source, metadata: ep.metadata, sent_at: Date.now() })
      const next = pick(c, ep.episode_id, 'latest')
      if (next) deliver(c, next)
      else c.waiting = { after: ep.episode_id, order: 'latest' }
      return
    }
    const row = {}
    for (const [k, col] of Object.entries(ep.steps)) row[k] = col[i]
    send(c.ws, { type: 'step', v: V, run_id: ep.run_id, episode_id: ep.episode_id, index: i, ...row })
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
    const { ring, nextId, dropped } = c.run
    const last = ring[ring.length - 1]
    const msg = {
      ...clone(s.stats_history),
      run_id: c.run.id,
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
    if (withHistory) msg.history = points(c.run).slice(-1000)
    return msg
  }

  function produce(run) {
    const ep = makeEpisode(run)
    const ring = run.ring
    ring.push(ep)
    if (ring.length > RING) ring.shift()
    const summary = JSON.stringify({ type: 'episode_summary', v: V, run_id: run.id, episode_id: ep.episode_id, source: ep.source, checkpoint_episode: ep.checkpoint_episode, metadata: ep.metadata, finished_at: ep.finished_at, sent_at: Date.now() })
    for (const c of clients) {
      if (c.run !== run) continue
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
    const refuse = (code, message) => error(c.ws, code, message, m.type, c.run.id)
    const ring = c.run.ring
    switch (m.type) {
      case 'watch': {
        const run = runById(m.run_id)
        if (!run) refuse('unknown_run', `no run \`${m.run_id.slice(0, 64)}\` on this server`)
        else greet(c, run)
        break
      }
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
        else if (s.recordings.items.some((r) => r.episode_id === m.id)) deliver(c, replay(c, m.id))
        else refuse('unknown_episode', `episode ${m.id} is neither recent nor recorded`)
        break
      }
      case 'load_replay':
        if (s.recordings.items.some((r) => r.episode_id === m.episode_id)) deliver(c, replay(c, m.episode_id))
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
        send(c.ws, { type: 'recordings', v: V, run_id: c.run.id, items: items.slice(0, f.limit ?? 100), total: items.length })
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

  function replay(c, id) {
    const ep = clone(s.replay_episode)
    ep.episode_id = id
    ep.run_id = c.run.id
    ep.source = 'replay'
    ep.sent_at = Date.now()
    return ep
  }

  function serveStatic(req, res) {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
    if (url.pathname === '/api/status') {
      const first = runs[0]
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ mode, config: hello.pack, episodes_trained: first.nextId, episodes_streamed: first.nextId, dropped: first.dropped, callback_failures: 0, clients: clients.size, uptime_s: Math.floor((Date.now() - started) / 1000), runs: runs.length, fixture: true }))
    }
    if (url.pathname === '/api/runs') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(runs.map(runInfo)))
    if (url.pathname === '/api/recordings') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(s.recordings.items))
    let path = normalize(join(dist, decodeURIComponent(url.pathname)))
    if (!path.startsWith(dist + sep) && path !== dist) return void res.writeHead(403).end()
    if (!existsSync(path) || statSync(path).isDirectory()) path = join(dist, 'index.html')
    if (!existsSync(path)) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('frontend not built: run `npm run build`\n')
    res.writeHead(200, { 'content-type': MIME[extname(path)] ?? 'application/octet-stream' })
    createReadStream(path).pipe(res)
  }

  const http = createServer(serveStatic)
  // Accept bigger frames than the limit so an oversized one gets an `error` first
  // (docs/decisions.md#oversized-and-malformed-frames).
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * MAX_FRAME })
  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname !== '/ws') return void socket.destroy()
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, url.searchParams.get('run')))
  })
  /** hello, stats with history (and the model) and the latest episode of `run`. */
  function greet(c, run) {
    clearTimeout(c.timer)
    c.run = run
    c.current = null
    c.waiting = null
    c.skipped = 0
    hello.totals = { episodes_trained: run.nextId, steps_trained: run.nextId * 152, episodes_streamed: run.nextId, dropped: run.dropped }
    send(c.ws, { ...hello, run_id: run.id, runs: runs.map(runInfo), lab_title: lab.title })
    send(c.ws, statsMessage(c, true))
    if (mode === 'checkpoint') send(c.ws, { ...fixtures.server.model_loaded, run_id: run.id, loaded_at: started })
    const latest = run.ring[run.ring.length - 1]
    if (latest) deliver(c, latest)
  }
  wss.on('connection', (ws, wanted) => {
    const c = { ws, run: runs[0], filter: { kind: 'all' }, delivery: 'episode', speed: 1, paused: false, greedy: false, skipped: 0, waiting: null, current: null, timer: null, index: 0 }
    clients.add(c)
    if (wanted !== null && !runById(wanted)) error(ws, 'unknown_run', `no run \`${wanted.slice(0, 64)}\` on this server`)
    greet(c, runById(wanted) ?? runs[0])
    ws.on('message', (data, isBinary) => {
      if (isBinary) return error(ws, 'invalid_json', 'binary frames are not accepted')
      handle(c, data.toString('utf8'))
    })
    ws.on('close', () => {
      clearTimeout(c.timer)
      clients.delete(c)
    })
  })

  for (const run of runs) for (let i = 0; i < 5; i++) produce(run)
  const producer = setInterval(() => runs.forEach(produce), intervalMs)
  let ticks = 0
  const stats = setInterval(() => {
    for (const c of clients) send(c.ws, statsMessage(c, false))
    // Episode counts and sparklines stay fresh (every 5 s while runs are live).
    if (++ticks % 5 === 0) {
      const m = JSON.stringify(runsMessage())
      for (const c of clients) send(c.ws, m)
    }
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
    single: args.includes('--single'),
  })
  console.log(`fixture server on ${server.url} (ws: ${server.url.replace('http', 'ws')}/ws)`)
  const stop = async () => {
    await server.close()
    process.exit(0)
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
