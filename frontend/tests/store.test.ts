import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useViewer } from '../src/stores/viewer'
import type { ClientMessage, EpisodeSummary } from '../src/lib/protocol'
import { clone, episodeWithId, fixtures } from './fixtures'

function setup() {
  const store = useViewer()
  const sent: ClientMessage[] = []
  store.attach((m) => {
    sent.push(m)
    return true
  })
  return { store, sent }
}

function summary(id: number, finishedAt: number): EpisodeSummary {
  const s = clone(fixtures.server.episode_summary) as unknown as EpisodeSummary
  s.run_id = 'main'
  s.episode_id = id
  s.finished_at = finishedAt
  return s
}

describe('viewer store', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('subscribes on hello and takes names from it', () => {
    const { store, sent } = setup()
    store.handle(clone(fixtures.stream.hello_live))
    expect(sent[0]).toEqual({ type: 'subscribe', delivery: 'episode', speed: 1, filter: { kind: 'all' } })
    expect(store.mode).toBe('LIVE TRAINING')
    expect(store.speedOptions).toEqual([0.25, 0.5, 1, 2, 5, 10, 25, 50, 'instant'])
  })

  it('fills the charts from the stats history, then appends summaries', () => {
    const { store } = setup()
    const stats = clone(fixtures.stream.stats_history)
    store.handle(stats)
    expect(store.series.id).toHaveLength(stats.history!.length)
    const last = stats.history![stats.history!.length - 1].episode_id
    store.handle(summary(last + 1, 1000), 1042)
    expect(store.series.id[store.series.id.length - 1]).toBe(last + 1)
    expect(store.latestId).toBe(last + 1)
    expect(store.latencyMs).toBe(42)
    // A repeated or older id (after a reconnect) is not added twice.
    store.handle(summary(last, 1000), 1100)
    expect(store.series.id.filter((id) => id === last)).toHaveLength(1)
    // A later history (reconnect) replaces the series.
    store.handle(stats)
    expect(store.series.id).toHaveLength(stats.history!.length)
  })

  it('shows the first episode at once and requests the next one when it ends', () => {
    const { store, sent } = setup()
    store.handle(clone(fixtures.stream.hello_live))
    store.handle(episodeWithId(0, 100))
    expect(store.episode?.episode_id).toBe(100)
    expect(store.position).toEqual(fixtures.stream.episodes[0].start.position)
    store.handle(summary(105, 0))
    expect(store.behindBy).toBe(5)
    for (let i = 0; i < 100; i++) store.tick(1000)
    expect(sent.filter((m) => m.type === 'next')).toEqual([{ type: 'next', after: 100, order: 'latest' }])
    expect(store.endCards[0].episode_id).toBe(100)
    store.handle(episodeWithId(1, 105))
    store.tick(1000)
    expect(store.episode?.episode_id).toBe(105)
  })

  it('jump to live and replays replace what is shown at once', () => {
    const { store, sent } = setup()
    store.handle(episodeWithId(0, 100))
    store.tick(600)
    store.jumpLive()
    expect(sent.at(-1)).toEqual({ type: 'jump_live' })
    store.handle(episodeWithId(1, 140))
    expect(store.episode?.episode_id).toBe(140)
    expect(store.playback.cursor).toBe(0)
    store.loadReplay(1100)
    expect(sent.at(-1)).toEqual({ type: 'load_replay', episode_id: 1100 })
    store.handle(clone(fixtures.stream.replay_episode))
    expect(store.mode).toBe('REPLAY')
  })

  it('reports server errors and frees a waiting request', () => {
    const { store } = setup()
    store.loadReplay(5)
    store.handle({ type: 'error', v: 2, code: 'unknown_episode', message: 'no episode 5', request: 'load_replay' }, 7)
    expect(store.notice).toEqual({ code: 'unknown_episode', message: 'no episode 5', at: 7 })
    // The next episode is not mistaken for the replay.
    store.handle(episodeWithId(0, 1))
    store.handle(episodeWithId(1, 2))
    expect(store.episode?.episode_id).toBe(1)
  })

  it('end cards say what the agent died of', () => {
    const { store } = setup()
    store.handle(clone(fixtures.stream.hello_live))
    const ep = episodeWithId(0, 7)
    const n = ep.steps.step.length
    ep.metadata.end_reason = 'died'
    ep.steps.meters[n - 1][0] = 0 // energy
    store.handle(ep)
    store.seek(n)
    expect(store.endCards[0].cause).toEqual(['energy'])
    expect(store.endCards[0].final_meters[0]).toEqual({ name: 'energy', value: 0 })
  })

  it('speed keys walk the speed list within the limits', () => {
    const { store, sent } = setup()
    store.handle(clone(fixtures.stream.hello_live))
    store.speedUp(1)
    expect(store.playback.speed).toBe(2)
    expect(sent.at(-1)).toEqual({ type: 'set_speed', speed: 2 })
    for (let i = 0; i < 20; i++) store.speedUp(1)
    expect(store.playback.speed).toBe('instant')
    for (let i = 0; i < 20; i++) store.speedUp(-1)
    expect(store.playback.speed).toBe(0.25)
  })

  it('filters go to the server', () => {
    const { store, sent } = setup()
    store.setFilter({ kind: 'every_nth', n: 5 })
    expect(sent.at(-1)).toEqual({ type: 'set_filter', filter: { kind: 'every_nth', n: 5 } })
  })
})

describe('viewer store: get_episode', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('asks for one episode and shows it at once', () => {
    const { store, sent } = setup()
    store.handle(episodeWithId(0, 100))
    store.getEpisode(42)
    expect(sent.at(-1)).toEqual({ type: 'get_episode', id: 42 })
    store.handle(episodeWithId(1, 42))
    expect(store.episode?.episode_id).toBe(42)
  })
})
