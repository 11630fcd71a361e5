// Wire types of the Townlet viewer protocol, mirroring the Rust crate `townlet-protocol`
// (docs/protocol.md is the reference). Non-finite floats arrive as `null`.

export const PROTOCOL_VERSION = 1

export type Mode = 'live' | 'checkpoint'
export type Source = 'training' | 'checkpoint' | 'replay'
export type EndReason = 'died' | 'retired' | 'truncated' | 'interrupted'
export type Delivery = 'episode' | 'steps'
export type Order = 'latest' | 'sequential'
export type Speed = number | 'instant'
export type FilterKind = 'all' | 'failures' | 'stage_changes' | 'every_nth' | 'best' | 'worst'
export interface Filter {
  kind: FilterKind
  n?: number
}

export interface MeterInfo {
  name: string
  tier: 'pivotal' | 'primary' | 'secondary' | 'resource'
}
export interface AffordanceInfo {
  name: string
  operating_hours: [number, number]
}
export interface CascadeInfo {
  source: string
  target: string
  threshold: number
}
export interface Totals {
  episodes_trained: number
  steps_trained: number
  episodes_streamed: number
  dropped: number
}
export interface Limits {
  min_speed: number
  max_speed: number
  steps_per_second_at_1x: number
  max_frame_bytes: number
  ring_size: number
  history_len: number
}
export interface Hello {
  type: 'hello'
  v: number
  protocol_version: number
  mode: Mode
  pack: string
  grid: { width: number; height: number }
  meters: MeterInfo[]
  actions: string[]
  affordances: AffordanceInfo[]
  cascades: CascadeInfo[]
  temporal: boolean
  max_steps_per_episode: number
  max_episodes: number | null
  totals: Totals
  limits: Limits
  session: { delivery: Delivery; speed: Speed; filter: Filter; greedy: boolean }
}

export interface EpisodeMetadata {
  survival_steps: number
  total_reward: number | null
  extrinsic_reward: number | null
  intrinsic_reward: number | null
  curriculum_stage: number
  depletion_multiplier: number | null
  epsilon: number | null
  intrinsic_weight: number | null
  affordance_visits: Record<string, number>
  end_reason: EndReason
  timestamp: number | null
  loss_mean: number | null
  td_error_mean: number | null
  q_mean: number | null
  updates: number
}

export interface AffordancePosition {
  name: string
  x: number
  y: number
}
export interface StartState {
  position: [number, number]
  meters: (number | null)[]
  time_of_day: number | null
}
export interface StepColumns {
  step: number[]
  position: [number, number][]
  meters: (number | null)[][]
  action: number[]
  reward: (number | null)[]
  intrinsic_reward: (number | null)[]
  done: boolean[]
  q_values: ((number | null)[] | null)[]
  epsilon: (number | null)[]
  action_mask: (boolean[] | null)[]
  explored: boolean[]
  time_of_day: (number | null)[]
  interaction_progress: (number | null)[]
}
export interface StepRow {
  step: number
  position: [number, number]
  meters: (number | null)[]
  action: number
  reward: number | null
  intrinsic_reward: number | null
  done: boolean
  q_values: (number | null)[] | null
  epsilon: number | null
  action_mask: boolean[] | null
  explored: boolean
  time_of_day: number | null
  interaction_progress: number | null
}

export interface EpisodeSummary {
  type: 'episode_summary'
  v: number
  episode_id: number
  source: Source
  checkpoint_episode: number | null
  metadata: EpisodeMetadata
  finished_at: number
  sent_at: number
}
export interface Episode {
  type: 'episode'
  v: number
  episode_id: number
  source: Source
  checkpoint_episode: number | null
  agent_id: number
  metadata: EpisodeMetadata
  layout: AffordancePosition[]
  start: StartState
  steps: StepColumns
  finished_at: number
  sent_at: number
}
export interface EpisodeStart {
  type: 'episode_start'
  v: number
  episode_id: number
  source: Source
  checkpoint_episode: number | null
  agent_id: number
  layout: AffordancePosition[]
  start: StartState
  total_steps: number
  finished_at: number
  sent_at: number
}
export interface StepMessage extends StepRow {
  type: 'step'
  v: number
  episode_id: number
  index: number
}
export interface EpisodeEnd {
  type: 'episode_end'
  v: number
  episode_id: number
  source: Source
  metadata: EpisodeMetadata
  sent_at: number
}
export interface HistoryPoint {
  episode_id: number
  survival_steps: number
  total_reward: number | null
  extrinsic_reward: number | null
  epsilon: number | null
  intrinsic_weight: number | null
  curriculum_stage: number
  end_reason: EndReason
}
export interface Stats {
  type: 'stats'
  v: number
  episodes_trained: number
  steps_trained: number
  steps_per_second: number | null
  epsilon: number | null
  intrinsic_weight: number | null
  curriculum_stage: number
  depletion_multiplier: number | null
  queue_len: number
  dropped: number
  skipped: number
  last_loss: number | null
  clients: number
  uptime_s: number
  history: HistoryPoint[] | null
  sent_at: number
}
export interface ModelLoaded {
  type: 'model_loaded'
  v: number
  checkpoint: string
  checkpoint_episode: number
  epsilon: number | null
  curriculum_stage: number
  depletion_multiplier: number | null
  loaded_at: number
}
export interface RecordingInfo {
  episode_id: number
  reason: string
  survival_steps: number
  total_reward: number | null
  extrinsic_reward: number | null
  curriculum_stage: number
  end_reason: EndReason
  timestamp: number
  file_bytes: number
}
export interface Recordings {
  type: 'recordings'
  v: number
  items: RecordingInfo[]
  total: number
}
export interface ErrorMessage {
  type: 'error'
  v: number
  code: string
  message: string
  request: string | null
}

export type ServerMessage =
  | Hello
  | EpisodeSummary
  | Episode
  | EpisodeStart
  | StepMessage
  | EpisodeEnd
  | Stats
  | ModelLoaded
  | Recordings
  | ErrorMessage

export interface RecordingFilters {
  stage?: number | null
  reason?: string | null
  end_reason?: EndReason | null
  min_reward?: number | null
  max_reward?: number | null
  limit?: number | null
}

export type ClientMessage =
  | { type: 'subscribe'; delivery?: Delivery; speed?: Speed; filter?: Filter }
  | { type: 'next'; after: number | null; order?: Order }
  | { type: 'get_episode'; id: number }
  | { type: 'set_speed'; speed: Speed }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'step' }
  | { type: 'jump_live' }
  | { type: 'set_filter'; filter: Filter }
  | { type: 'set_policy'; greedy: boolean }
  | { type: 'list_recordings'; filters?: RecordingFilters }
  | { type: 'load_replay'; episode_id: number }
  | { type: 'seek'; index: number }

export type DecodeResult =
  | { ok: true; message: ServerMessage }
  | { ok: false; error: string }

/** Fields each server message must carry, checked before the app trusts a frame. */
const REQUIRED: Record<ServerMessage['type'], string[]> = {
  hello: ['mode', 'pack', 'grid', 'meters', 'actions', 'affordances', 'cascades', 'temporal', 'limits'],
  episode_summary: ['episode_id', 'source', 'metadata', 'finished_at'],
  episode: ['episode_id', 'source', 'metadata', 'layout', 'start', 'steps', 'finished_at'],
  episode_start: ['episode_id', 'source', 'layout', 'start', 'total_steps'],
  step: ['episode_id', 'index', 'step', 'position', 'meters', 'action'],
  episode_end: ['episode_id', 'metadata'],
  stats: ['episodes_trained', 'dropped'],
  model_loaded: ['checkpoint', 'checkpoint_episode'],
  recordings: ['items', 'total'],
  error: ['code', 'message'],
}

const STEP_COLUMNS: (keyof StepColumns)[] = [
  'step',
  'position',
  'meters',
  'action',
  'reward',
  'intrinsic_reward',
  'done',
  'q_values',
  'epsilon',
  'action_mask',
  'explored',
  'time_of_day',
  'interaction_progress',
]

/** Parses and sanity-checks one server frame. Never throws. */
export function decode(text: unknown): DecodeResult {
  if (typeof text !== 'string') return { ok: false, error: 'binary frame' }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return { ok: false, error: `invalid JSON: ${(e as Error).message}` }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'not an object' }
  }
  const obj = value as Record<string, unknown>
  if (obj.v !== PROTOCOL_VERSION) {
    return { ok: false, error: `protocol version ${String(obj.v)}, expected ${PROTOCOL_VERSION}` }
  }
  const type = obj.type
  if (typeof type !== 'string' || !(type in REQUIRED)) {
    return { ok: false, error: `unknown message type ${String(type)}` }
  }
  for (const field of REQUIRED[type as ServerMessage['type']]) {
    if (!(field in obj)) return { ok: false, error: `${type} without ${field}` }
  }
  if (type === 'episode') {
    const steps = obj.steps as Record<string, unknown[]> | null
    if (typeof steps !== 'object' || steps === null) return { ok: false, error: 'episode without steps' }
    const n = Array.isArray(steps.step) ? steps.step.length : -1
    for (const col of STEP_COLUMNS) {
      if (!Array.isArray(steps[col]) || steps[col].length !== n) {
        return { ok: false, error: `episode column ${col} missing or of the wrong length` }
      }
    }
  }
  return { ok: true, message: obj as unknown as ServerMessage }
}

export function encode(message: ClientMessage): string {
  return JSON.stringify(message)
}

/** Step index `i` of an episode's columns as a row. */
export function stepAt(steps: StepColumns, i: number): StepRow | null {
  if (i < 0 || i >= steps.step.length) return null
  return {
    step: steps.step[i],
    position: steps.position[i],
    meters: steps.meters[i],
    action: steps.action[i],
    reward: steps.reward[i],
    intrinsic_reward: steps.intrinsic_reward[i],
    done: steps.done[i],
    q_values: steps.q_values[i],
    epsilon: steps.epsilon[i],
    action_mask: steps.action_mask[i],
    explored: steps.explored[i],
    time_of_day: steps.time_of_day[i],
    interaction_progress: steps.interaction_progress[i],
  }
}

/** Open at hour `t` for `[open, close]` hours (close > 24 wraps past midnight). */
export function isOpen(hours: [number, number], t: number): boolean {
  const [open, close] = hours
  return close > 24 ? t >= open || t < close - 24 : open <= t && t < close
}

export function speedLabel(speed: Speed): string {
  return speed === 'instant' ? 'instant' : `${speed}×`
}
