// Types of the Townlet viewer protocol, generated from the Rust crate `townlet-protocol`
// into `./generated/protocol.ts` (docs/protocol.md is the reference), plus the run-time
// checks of incoming frames. Non-finite floats arrive as `null`.

import type { ClientMessage, Filter, RunInfo, ServerFrame, Speed, StepColumns, StepRow } from './generated/protocol'
import { PROTOCOL_VERSION } from './generated/protocol'

export { PROTOCOL_VERSION }
export type {
  AffordanceInfo,
  AffordancePosition,
  CascadeInfo,
  ClientMessage,
  Delivery,
  EndReason,
  EpisodeMetadata,
  ErrorCode,
  Filter,
  GridSize,
  HistoryPoint,
  Limits,
  MeterInfo,
  MeterTier,
  Mode,
  ObservationParts,
  ProbeNetwork,
  ProbedState,
  Order,
  RecordingFilters,
  RecordingInfo,
  RunInfo,
  RunStatus,
  SessionInfo,
  Source,
  Speed,
  StartState,
  StepColumns,
  StepRow,
  Totals,
  TrainingControl,
  TrainingEventInfo,
  PresenterState,
  Role,
} from './generated/protocol'

/** A server message as received: its `type`, `v` and its fields. */
export type ServerMessage = ServerFrame
/** The received message of one `type`. */
export type MessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>
export type Hello = MessageOf<'hello'>
export type Runs = MessageOf<'runs'>
export type EpisodeSummary = MessageOf<'episode_summary'>
export type Episode = MessageOf<'episode'>
export type EpisodeStart = MessageOf<'episode_start'>
export type StepMessage = MessageOf<'step'>
export type EpisodeEnd = MessageOf<'episode_end'>
export type Stats = MessageOf<'stats'>
export type ModelLoaded = MessageOf<'model_loaded'>
export type Recordings = MessageOf<'recordings'>
export type Probe = MessageOf<'probe'>
export type ErrorMessage = MessageOf<'error'>
export type TrainingEvents = MessageOf<'training_events'>
export type Presenting = MessageOf<'presenting'>

export type FilterKind = Filter['kind']

export type DecodeResult =
  | { ok: true; message: ServerMessage }
  | { ok: false; error: string }

/** Fields each server message must carry, checked before the app trusts a frame (names
 * checked against the generated types). */
const REQUIRED: { [K in ServerMessage['type']]: (keyof MessageOf<K> & string)[] } = {
  hello: ['run_id', 'runs', 'lab_title', 'mode', 'pack', 'grid', 'meters', 'actions', 'affordances', 'cascades', 'temporal', 'limits'],
  episode_summary: ['run_id', 'episode_id', 'source', 'metadata', 'finished_at'],
  episode: ['run_id', 'episode_id', 'source', 'metadata', 'layout', 'start', 'steps', 'finished_at'],
  episode_start: ['run_id', 'episode_id', 'source', 'layout', 'start', 'total_steps'],
  step: ['run_id', 'episode_id', 'index', 'step', 'position', 'meters', 'action'],
  episode_end: ['run_id', 'episode_id', 'metadata'],
  stats: ['run_id', 'episodes_trained', 'dropped'],
  model_loaded: ['run_id', 'checkpoint', 'checkpoint_episode'],
  recordings: ['run_id', 'items', 'total'],
  probe: ['run_id', 'episode_id', 'step', 'network', 'state', 'grid', 'q_values', 'masks', 'observation'],
  error: ['code', 'message'],
  runs: ['runs', 'lab_title'],
  training_events: ['run_id', 'events', 'full'],
  presenting: ['active', 'state'],
}

/** Fields of a run (`RunInfo`) the app relies on. */
const RUN_FIELDS: (keyof RunInfo)[] = ['id', 'name', 'pack', 'status', 'episodes', 'best_survival', 'sparkline']

function checkRuns(runs: unknown): string | null {
  if (!Array.isArray(runs)) return 'runs is not a list'
  for (const run of runs) {
    if (typeof run !== 'object' || run === null) return 'a run is not an object'
    for (const field of RUN_FIELDS) if (!(field in run)) return `a run without ${field}`
    if (typeof (run as RunInfo).id !== 'string') return 'a run id is not a string'
    if (!Array.isArray((run as RunInfo).sparkline)) return `run ${(run as RunInfo).id}: sparkline is not a list`
  }
  return null
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
  // A hello lists the server's runs, a runs message too; run ids are strings.
  if (type === 'hello' || type === 'runs') {
    const bad = checkRuns(obj.runs)
    if (bad !== null) return { ok: false, error: `${type}: ${bad}` }
  }
  if ('run_id' in obj && obj.run_id !== null && typeof obj.run_id !== 'string') {
    return { ok: false, error: `${type}: run_id is not a string` }
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
