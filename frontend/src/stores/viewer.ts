// Everything the viewer shows, fed by server messages; commands go out through `send`.

import { defineStore } from 'pinia'
import { computed, inject, markRaw, reactive, ref, shallowRef, watch, type InjectionKey } from 'vue'
import { Playback } from '../lib/playback'
import type {
  ClientMessage,
  Episode,
  EpisodeMetadata,
  Filter,
  Hello,
  HistoryPoint,
  ModelLoaded,
  Order,
  Probe,
  RecordingFilters,
  RecordingInfo,
  RunInfo,
  ServerMessage,
  Speed,
  Stats,
} from '../lib/protocol'
import { stepAt } from '../lib/protocol'
import type { ConnectionState } from '../lib/connection'

/** Episodes kept in the charts (history on connect plus live summaries). */
export const CHART_CAP = 5000
/** Episode end cards kept. */
export const END_CARDS = 6

export interface ChartSeries {
  id: number[]
  survival: number[]
  reward: (number | null)[]
  epsilon: (number | null)[]
  weight: (number | null)[]
  stage: number[]
}

export interface EndCard {
  episode_id: number
  source: Episode['source']
  end_reason: EpisodeMetadata['end_reason']
  /** Meters at 0 that ended the episode (names), for "died of …". */
  cause: string[]
  survival_steps: number
  total_reward: number | null
  final_meters: { name: string; value: number | null }[]
  top_visits: [string, number][]
}

export interface Notice {
  code: string
  message: string
  at: number
}

function emptySeries(): ChartSeries {
  return { id: [], survival: [], reward: [], epsilon: [], weight: [], stage: [] }
}

/** An episode asked for by id (a link, a chart click, the compare view in step). */
export interface WantedEpisode {
  id: number
  /** Show it paused at this step (a link with `step`). */
  step: number | null
}

function viewerStore() {
  let sendFn: (m: ClientMessage) => boolean = () => false

  const connection = reactive({ state: 'connecting' as ConnectionState, retryInMs: null as number | null, attempts: 0 })
  const hello = shallowRef<Hello | null>(null)
  const stats = shallowRef<Stats | null>(null)
  const model = shallowRef<ModelLoaded | null>(null)
  const series = shallowRef<ChartSeries>(emptySeries())
  const chartVersion = ref(0)
  const latestId = ref<number | null>(null)
  const latencyMs = ref<number | null>(null)
  const endCards = ref<EndCard[]>([])
  const recordings = shallowRef<RecordingInfo[]>([])
  const recordingsTotal = ref(0)
  const notice = ref<Notice | null>(null)
  const heatmap = ref(false)
  const filter = ref<Filter>({ kind: 'all' })
  const greedy = ref(false)
  /** A jump / replay / get_episode is on its way: show it at once when it comes. */
  const explicitPending = ref(false)
  const decodeErrors = ref(0)
  /** Every run of the server (one run `main` unless it serves several). */
  const runs = shallowRef<RunInfo[]>([])
  const labTitle = ref<string | null>(null)
  /** The run this viewer asked to watch (`watch`); null: whatever the server starts with. */
  const wantRun = ref<string | null>(null)
  /** An episode asked for by id, shown when it arrives. */
  const wanted = ref<WantedEpisode | null>(null)
  /** The episode the viewer chose (not following live), for the page's link. */
  const pinned = ref<number | null>(null)
  /** In step with another run: episodes are chosen from outside (no `next` at the end). */
  const lockstep = ref(false)
  /** The newest `probe` answer ("ask the agent", stores/probe.ts asks). */
  const probe = shallowRef<Probe | null>(null)

  const playback = reactive(
    new Playback({
      requestNext: (after, order) => send({ type: 'next', after, order }),
      finished: (ep) => addEndCard(ep),
    }),
  ) as Playback

  function send(m: ClientMessage): boolean {
    return sendFn(m)
  }

  function attach(fn: (m: ClientMessage) => boolean): void {
    sendFn = fn
  }

  function setConnection(state: ConnectionState, info: { retryInMs: number | null; attempts: number }): void {
    connection.state = state
    connection.retryInMs = info.retryInMs
    connection.attempts = info.attempts
  }

  function pushPoint(p: HistoryPoint): void {
    const s = series.value
    const last = s.id.length > 0 ? s.id[s.id.length - 1] : -1
    // Summaries and history overlap after a reconnect; keep ids increasing.
    if (p.episode_id <= last) return
    s.id.push(p.episode_id)
    s.survival.push(p.survival_steps)
    s.reward.push(p.total_reward)
    s.epsilon.push(p.epsilon)
    s.weight.push(p.intrinsic_weight)
    s.stage.push(p.curriculum_stage)
    if (s.id.length > CHART_CAP) {
      for (const k of Object.keys(s) as (keyof ChartSeries)[]) s[k].splice(0, s.id.length - CHART_CAP)
    }
  }

  /** Everything shown of the run watched so far goes (a `hello` of another run came). */
  function forgetRun(): void {
    stats.value = null
    model.value = null
    series.value = emptySeries()
    chartVersion.value++
    latestId.value = null
    latencyMs.value = null
    endCards.value = []
    recordings.value = []
    recordingsTotal.value = 0
    probe.value = null
    explicitPending.value = false
    playback.clear()
  }

  function handle(message: ServerMessage, nowMs: number = Date.now()): void {
    // Messages of the run watched before a `watch` switch may still be on their way.
    if (message.type !== 'hello' && message.type !== 'runs' && message.type !== 'presenting') {
      const run = message.run_id ?? null
      const current = hello.value?.run_id ?? null
      if (run !== null && current !== null && run !== current) return
    }
    switch (message.type) {
      case 'hello': {
        const previous = hello.value?.run_id ?? null
        const run = message.run_id
        runs.value = markRaw(message.runs)
        labTitle.value = message.lab_title
        if (hello.value !== null && previous !== run) forgetRun()
        hello.value = markRaw(message)
        // The server starts a (re)connection on its first run: ask again for ours.
        if (wantRun.value !== null && run !== wantRun.value) {
          if (runs.value.some((r) => r.id === wantRun.value)) send({ type: 'watch', run_id: wantRun.value })
          else notice.value = { code: 'unknown_run', message: `no run ${wantRun.value} on this server`, at: nowMs }
        }
        playback.stepsPerSecondAt1x = message.limits.steps_per_second_at_1x
        // Re-send this viewer's choices: a reconnect starts a fresh server session.
        send({ type: 'subscribe', delivery: 'episode', speed: playback.speed, filter: filter.value })
        if (greedy.value && message.mode === 'checkpoint') send({ type: 'set_policy', greedy: true })
        if (wanted.value !== null && (wantRun.value === null || run === wantRun.value)) send({ type: 'get_episode', id: wanted.value.id })
        break
      }
      case 'runs':
        runs.value = markRaw(message.runs)
        labTitle.value = message.lab_title
        break
      case 'stats':
        stats.value = markRaw(message)
        if (message.history !== null) {
          series.value = emptySeries()
          for (const p of message.history) pushPoint(p)
          chartVersion.value++
        }
        break
      case 'episode_summary': {
        latestId.value = Math.max(latestId.value ?? -1, message.episode_id)
        latencyMs.value = Math.max(0, nowMs - message.finished_at)
        const m = message.metadata
        pushPoint({
          episode_id: message.episode_id,
          survival_steps: m.survival_steps,
          total_reward: m.total_reward,
          extrinsic_reward: m.extrinsic_reward,
          epsilon: m.epsilon,
          intrinsic_weight: m.intrinsic_weight,
          curriculum_stage: m.curriculum_stage,
          end_reason: m.end_reason,
        })
        chartVersion.value++
        break
      }
      case 'episode': {
        const ep = markRaw(message)
        latestId.value = Math.max(latestId.value ?? -1, ep.source === 'replay' ? -1 : ep.episode_id)
        const want = wanted.value
        if (want !== null && ep.episode_id === want.id) {
          wanted.value = null
          explicitPending.value = false
          playback.load(ep)
          // In step, the episode's end waits for the other run.
          if (lockstep.value) playback.follow = false
          if (want.step !== null) {
            playback.seek(want.step)
            playback.playing = false
          }
        } else if (want !== null || lockstep.value) {
          // Waiting for a chosen episode: the server's own picks are not shown.
          break
        } else if (explicitPending.value || ep.source === 'replay' || playback.episode === null) {
          explicitPending.value = false
          playback.load(ep)
        } else {
          playback.offer(ep)
        }
        break
      }
      case 'model_loaded':
        model.value = markRaw(message)
        break
      case 'probe':
        probe.value = markRaw(message)
        break
      case 'recordings':
        recordings.value = markRaw(message.items)
        recordingsTotal.value = message.total
        break
      case 'error':
        notice.value = { code: message.code, message: message.message, at: nowMs }
        if (message.request === 'load_replay' || message.request === 'get_episode') explicitPending.value = false
        if (message.request === 'get_episode') {
          wanted.value = null
          pinned.value = null
          // A link to an episode the server no longer has: show its latest instead of nothing.
          if (playback.episode === null) {
            explicitPending.value = true
            send({ type: 'jump_live' })
          }
        }
        if (message.request === 'next') playback.awaitingNext = false
        break
      // Server-paced delivery is for thin clients; this app subscribes with `episode`.
      case 'episode_start':
      case 'step':
      case 'episode_end':
        break
    }
  }

  function addEndCard(ep: Episode): void {
    const h = hello.value
    const n = ep.steps.step.length
    const final = n > 0 ? ep.steps.meters[n - 1] : ep.start.meters
    const names = h?.meters.map((m) => m.name) ?? final.map((_, i) => `meter ${i}`)
    const pivotal = new Set(h?.meters.filter((m) => m.tier === 'pivotal').map((m) => m.name) ?? names)
    const zero = names.filter((name, i) => (final[i] ?? 1) <= 0)
    const cause = ep.metadata.end_reason === 'died' ? (zero.filter((z) => pivotal.has(z)).length > 0 ? zero.filter((z) => pivotal.has(z)) : zero) : []
    const card: EndCard = {
      episode_id: ep.episode_id,
      source: ep.source,
      end_reason: ep.metadata.end_reason,
      cause,
      survival_steps: ep.metadata.survival_steps,
      total_reward: ep.metadata.total_reward,
      final_meters: names.map((name, i) => ({ name, value: final[i] ?? null })),
      top_visits: Object.entries(ep.metadata.affordance_visits)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3),
    }
    endCards.value = [card, ...endCards.value.filter((c) => c.episode_id !== card.episode_id || c.source !== card.source)].slice(0, END_CARDS)
  }

  // The chosen episode stays pinned until another one is shown.
  watch(
    () => playback.episode,
    (ep) => {
      if (ep === null) return
      if (pinned.value !== null && ep.episode_id !== pinned.value && wanted.value === null) pinned.value = null
    },
    { flush: 'sync' },
  )

  // --- what is shown -------------------------------------------------------------
  const episode = computed(() => playback.episode)
  const row = computed(() => (playback.episode && playback.cursor > 0 ? stepAt(playback.episode.steps, playback.cursor - 1) : null))
  const position = computed<[number, number] | null>(() => {
    const ep = playback.episode
    if (!ep) return null
    return row.value ? row.value.position : ep.start.position
  })
  const meters = computed(() => {
    const ep = playback.episode
    if (!ep) return null
    return row.value ? row.value.meters : ep.start.meters
  })
  const timeOfDay = computed(() => {
    const ep = playback.episode
    if (!ep) return null
    return row.value ? row.value.time_of_day : ep.start.time_of_day
  })
  const cumulativeReward = computed(() => {
    const ep = playback.episode
    if (!ep) return 0
    const w = ep.metadata.intrinsic_weight ?? 0
    let sum = 0
    for (let i = 0; i < playback.cursor; i++) sum += (ep.steps.reward[i] ?? 0) + w * (ep.steps.intrinsic_reward[i] ?? 0)
    return sum
  })
  const mode = computed<'LIVE TRAINING' | 'CHECKPOINT' | 'REPLAY' | null>(() => {
    if (playback.episode?.source === 'replay') return 'REPLAY'
    if (!hello.value) return null
    return hello.value.mode === 'checkpoint' ? 'CHECKPOINT' : 'LIVE TRAINING'
  })
  /** Finished episodes newer than the one shown (what following live skips over). */
  const behindBy = computed(() => {
    const ep = playback.episode
    if (!ep || latestId.value === null || ep.source === 'replay') return 0
    return Math.max(0, latestId.value - ep.episode_id)
  })

  // --- commands ----------------------------------------------------------------
  function togglePlay(): void {
    playback.playing = !playback.playing
  }
  function stepOnce(): void {
    playback.playing = false
    playback.stepOnce()
  }
  function setSpeed(speed: Speed): void {
    playback.setSpeed(speed)
    send({ type: 'set_speed', speed })
  }
  function speedUp(dir: 1 | -1): void {
    const options = speedOptions.value
    const i = options.indexOf(playback.speed)
    const j = Math.max(0, Math.min(options.length - 1, (i < 0 ? options.indexOf(1) : i) + dir))
    setSpeed(options[j])
  }
  const speedOptions = computed<Speed[]>(() => {
    const lim = hello.value?.limits
    const lo = lim?.min_speed ?? 0.25
    const hi = lim?.max_speed ?? 50
    const steps = [0.25, 0.5, 1, 2, 5, 10, 25, 50].filter((s) => s >= lo && s <= hi)
    return [...steps, 'instant']
  })
  function seek(cursor: number): void {
    playback.seek(cursor)
  }
  function jumpLive(): void {
    wanted.value = null
    pinned.value = null
    explicitPending.value = true
    playback.playing = true
    send({ type: 'jump_live' })
  }
  function setFilter(f: Filter): void {
    filter.value = f
    send({ type: 'set_filter', filter: f })
  }
  function setOrder(order: Order): void {
    playback.order = order
  }
  function setGreedy(on: boolean): void {
    greedy.value = on
    send({ type: 'set_policy', greedy: on })
  }
  function listRecordings(filters: RecordingFilters): void {
    send({ type: 'list_recordings', filters })
  }
  /** Watch one episode by id (from the server's ring, else the recordings), paused at
   * `step` when given. Asked again after a (re)connection until it has come. */
  function getEpisode(id: number, step: number | null = null): void {
    wanted.value = { id, step }
    pinned.value = id
    playback.playing = step === null
    send({ type: 'get_episode', id })
  }
  /** Watch another run of the server (sent again after every reconnection). */
  function watchRun(runId: string): void {
    if (wantRun.value !== runId) {
      wanted.value = null
      pinned.value = null
    }
    wantRun.value = runId
    if ((hello.value?.run_id ?? null) !== runId) send({ type: 'watch', run_id: runId })
  }
  /** Back to nothing shown (the compare view's second run closes). */
  function reset(): void {
    hello.value = null
    forgetRun()
    runs.value = []
    wantRun.value = null
    wanted.value = null
    pinned.value = null
    lockstep.value = false
  }
  const runInfo = computed(() => runs.value.find((r) => r.id === (hello.value?.run_id ?? wantRun.value)) ?? null)
  function loadReplay(id: number): void {
    explicitPending.value = true
    playback.playing = true
    send({ type: 'load_replay', episode_id: id })
  }
  function tick(dtMs: number): void {
    playback.tick(dtMs)
  }

  return {
    connection,
    hello,
    stats,
    model,
    series,
    chartVersion,
    latestId,
    latencyMs,
    endCards,
    recordings,
    recordingsTotal,
    notice,
    heatmap,
    filter,
    greedy,
    decodeErrors,
    runs,
    labTitle,
    wantRun,
    wanted,
    pinned,
    lockstep,
    probe,
    send,
    runInfo,
    playback,
    episode,
    row,
    position,
    meters,
    timeOfDay,
    cumulativeReward,
    mode,
    behindBy,
    speedOptions,
    attach,
    setConnection,
    handle,
    togglePlay,
    stepOnce,
    setSpeed,
    speedUp,
    seek,
    jumpLive,
    setFilter,
    setOrder,
    setGreedy,
    listRecordings,
    loadReplay,
    getEpisode,
    watchRun,
    reset,
    tick,
  }
}

const definitions = new Map<string, ReturnType<typeof defineViewer>>()
function defineViewer(key: string) {
  return defineStore(`viewer-${key}`, viewerStore)
}

/** The viewer store `key`: `main` for the page, another key per extra run shown (compare). */
export function useViewer(key = 'main') {
  let def = definitions.get(key)
  if (def === undefined) {
    def = defineViewer(key)
    definitions.set(key, def)
  }
  return def()
}
export type ViewerStore = ReturnType<typeof useViewer>

/** Components show the store their view provides (compare panes), else the page's. */
export const VIEWER: InjectionKey<ViewerStore> = Symbol('viewer')
export function injectViewer(): ViewerStore {
  return inject(VIEWER, null) ?? useViewer()
}
