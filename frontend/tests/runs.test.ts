// The store with runs (protocol version 2): two stores side by side, `watch`, `runs`,
// messages of another run ignored, links to a step of an episode.
import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { createSSRApp, h } from 'vue'
import { renderToString } from 'vue/server-renderer'
import { useViewer } from '../src/stores/viewer'
import { decode, type ClientMessage, type Hello, type RunInfo, type ServerMessage } from '../src/lib/protocol'
import RunPicker from '../src/components/RunPicker.vue'
import { clone, episodeWithId, fixtures } from './fixtures'

function run(id: string, name: string, extra: Partial<RunInfo> = {}): RunInfo {
  return { id, name, pack: 'L1_full_observability', seed: 1, overrides: {}, status: 'live', mode: 'live', episodes: 100, best_survival: 300, mean_survival_100: 120.5, curriculum_stage: 1, sparkline: [10, 20, 15, 40], ...extra }
}
const RUNS = [run('with-curiosity', 'with curiosity'), run('epsilon-only', 'epsilon only', { overrides: { 'exploration.initial_intrinsic_weight': '0' }, status: 'finished' })]

function hello(runId: string): Hello {
  return { ...clone(fixtures.stream.hello_live), run_id: runId, runs: RUNS, lab_title: 'Does curiosity help?' }
}
function inRun<T extends object>(m: T, runId: string): T & { run_id: string } {
  return { ...m, run_id: runId }
}
function setup(key: string) {
  const store = useViewer(key)
  const sent: ClientMessage[] = []
  store.attach((m) => {
    sent.push(m)
    return true
  })
  return { store, sent }
}

describe('viewer stores with runs', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('two stores keep two runs apart', () => {
    const a = setup('main')
    const b = setup('compare')
    expect(a.store).not.toBe(b.store)
    a.store.handle(hello('with-curiosity'))
    b.store.handle(hello('epsilon-only'))
    a.store.handle(inRun(episodeWithId(0, 10), 'with-curiosity'))
    b.store.handle(inRun(episodeWithId(1, 20), 'epsilon-only'))
    expect(a.store.episode?.episode_id).toBe(10)
    expect(b.store.episode?.episode_id).toBe(20)
    expect(a.store.runInfo?.name).toBe('with curiosity')
    expect(b.store.runInfo?.name).toBe('epsilon only')
    a.store.tick(1000)
    expect(b.store.playback.cursor).toBe(0)
    expect(a.store.playback.cursor).toBeGreaterThan(0)
  })

  it('watches another run, forgets the old one and ignores its late messages', () => {
    const { store, sent } = setup('main')
    store.handle(hello('with-curiosity'))
    store.handle(inRun(clone(fixtures.stream.stats_history), 'with-curiosity'))
    store.handle(inRun(episodeWithId(0, 10), 'with-curiosity'))
    expect(store.series.id.length).toBeGreaterThan(0)
    store.watchRun('epsilon-only')
    expect(sent.at(-1)).toEqual({ type: 'watch', run_id: 'epsilon-only' })
    store.handle(hello('epsilon-only'))
    expect(store.episode).toBeNull()
    expect(store.series.id).toHaveLength(0)
    // An episode of the old run still on its way is not shown.
    store.handle(inRun(episodeWithId(1, 11), 'with-curiosity'))
    expect(store.episode).toBeNull()
    store.handle(inRun(episodeWithId(1, 30), 'epsilon-only'))
    expect(store.episode?.episode_id).toBe(30)
  })

  it('asks again for its run after a reconnection starts on the first one', () => {
    const { store, sent } = setup('main')
    store.watchRun('epsilon-only')
    sent.length = 0
    store.handle(hello('with-curiosity'))
    expect(sent.filter((m) => m.type === 'watch')).toEqual([{ type: 'watch', run_id: 'epsilon-only' }])
  })

  it('takes the runs list from runs messages', () => {
    const { store } = setup('main')
    store.handle(hello('with-curiosity'))
    const runs: ServerMessage = { type: 'runs', v: 2, runs: [RUNS[0], run('memory', 'memory')], lab_title: 'Another' }
    store.handle(runs)
    expect(store.runs.map((r) => r.id)).toEqual(['with-curiosity', 'memory'])
    expect(store.labTitle).toBe('Another')
  })

  it('a link opens an episode at a step, paused, even before the server greets', () => {
    const { store, sent } = setup('main')
    store.watchRun('epsilon-only')
    store.getEpisode(1234, 87)
    expect(store.pinned).toBe(1234)
    store.handle(hello('epsilon-only'))
    expect(sent.filter((m) => m.type === 'get_episode')).toEqual([
      { type: 'get_episode', id: 1234 },
      { type: 'get_episode', id: 1234 },
    ])
    // The server's latest episode is not taken for the one asked for.
    store.handle(inRun(episodeWithId(0, 1300), 'epsilon-only'))
    expect(store.episode).toBeNull()
    const ep = inRun(episodeWithId(1, 1234), 'epsilon-only')
    const n = ep.steps.step.length
    store.handle(ep)
    expect(store.episode?.episode_id).toBe(1234)
    expect(store.playback.cursor).toBe(Math.min(87, n))
    expect(store.playback.playing).toBe(false)
    // Jump to live un-pins it.
    store.jumpLive()
    expect(store.pinned).toBeNull()
  })

  it('a link to an episode the server does not have shows the latest instead', () => {
    const { store, sent } = setup('main')
    store.getEpisode(99999, 3)
    store.handle(hello('with-curiosity'))
    store.handle({ type: 'error', v: 2, run_id: 'with-curiosity', code: 'unknown_episode', message: 'no episode 99999', request: 'get_episode' })
    expect(sent.at(-1)).toEqual({ type: 'jump_live' })
    expect(store.pinned).toBeNull()
    store.handle(inRun(episodeWithId(0, 1300), 'with-curiosity'))
    expect(store.episode?.episode_id).toBe(1300)
  })

  it('in step, the server picks are not shown and the end asks for nothing', () => {
    const { store, sent } = setup('main')
    store.handle(hello('with-curiosity'))
    store.lockstep = true
    store.handle(inRun(episodeWithId(0, 5), 'with-curiosity'))
    expect(store.episode).toBeNull()
    store.getEpisode(5)
    store.handle(inRun(episodeWithId(0, 5), 'with-curiosity'))
    expect(store.episode?.episode_id).toBe(5)
    for (let i = 0; i < 100; i++) store.tick(1000)
    expect(store.playback.atEnd).toBe(true)
    expect(sent.filter((m) => m.type === 'next')).toEqual([])
  })
})

describe('decoding runs', () => {
  it('accepts the generated lab stream and rejects runs it cannot show', () => {
    const s = fixtures.stream as unknown as Record<string, unknown>
    for (const key of ['lab_hello_a', 'lab_hello_b', 'lab_runs', 'lab_stats_a', 'lab_stats_b']) expect(decode(JSON.stringify(s[key])).ok, key).toBe(true)
    const hello = clone(s.lab_hello_a) as Record<string, unknown>
    const noRuns = { ...hello }
    delete noRuns.runs
    const noSpark = { ...hello, runs: [{ ...(hello.runs as RunInfo[])[0], sparkline: undefined }] }
    const badId = { ...hello, run_id: 7 }
    const cases: [unknown, RegExp][] = [
      [noRuns, /hello without runs/],
      [noSpark, /without sparkline/],
      [badId, /run_id is not a string/],
    ]
    for (const [m, pattern] of cases) {
      const r = decode(JSON.stringify(m))
      expect(r.ok).toBe(false)
      if (!r.ok) expect(r.error).toMatch(pattern)
    }
  })
})

describe('run picker', () => {
  it('lists every run with pack, status, episodes, best survival and a sparkline', async () => {
    const html = await renderToString(createSSRApp({ render: () => h(RunPicker, { runs: RUNS, title: 'Does curiosity help?', shown: ['with-curiosity'], open: true }) }))
    expect(html).toContain('Does curiosity help?')
    expect(html.match(/data-testid="run-row"/g)).toHaveLength(2)
    for (const text of ['with curiosity', 'epsilon only', 'L1_full_observability', 'finished', 'exploration.initial_intrinsic_weight=0', '>300<', '120.5']) {
      expect(html).toContain(text)
    }
    expect(html.match(/<polyline/g)).toHaveLength(2)
    // The run shown cannot be chosen again; comparing needs two ticked runs.
    expect(html).toMatch(/data-run="with-curiosity"[^]*?data-testid="run-watch"[^>]*disabled/)
    expect(html).toMatch(/data-testid="run-compare" disabled/)
  })

  it('ticks the two runs compared', async () => {
    const html = await renderToString(createSSRApp({ render: () => h(RunPicker, { runs: RUNS, title: null, shown: ['with-curiosity', 'epsilon-only'], open: false }) }))
    expect(html.match(/data-testid="run-pick" checked/g)).toHaveLength(2)
    expect(html).toContain('Compare with curiosity vs epsilon only')
  })
})
