// Generated from the Rust crate `townlet-protocol` by ts-rs. Do not edit by hand.
// Regenerate with: TOWNLET_BLESS=1 cargo test -p townlet-protocol

/** Sent as `v` in every server message. */
export const PROTOCOL_VERSION = 2;

/**
 * One deployable affordance with its hours (`[open, close]`, close may exceed 24 and
 * then wraps past midnight, docs/world.md#clock-and-operating-hours).
 */
export type AffordanceInfo = { name: string, operating_hours: [number, number], };

/**
 * An affordance's cell during the episode.
 */
export type AffordancePosition = { name: string, x: number, y: number, };

/**
 * A threshold cascade: while `source` is below `threshold`, it drains `target`.
 * Meters are named (names from [`Hello::meters`]).
 */
export type CascadeInfo = { source: string, target: string, threshold: number, };

/**
 * Every message a client may send.
 */
export type ClientMessage = { "type": "subscribe", delivery?: Delivery, speed?: Speed, filter?: Filter, } | { "type": "next", after?: number | null, order?: Order, } | { "type": "get_episode", id: number, } | { "type": "set_speed", speed: Speed, } | { "type": "pause" } | { "type": "resume" } | { "type": "step" } | { "type": "jump_live" } | { "type": "set_filter", filter: Filter, } | { "type": "set_policy", greedy: boolean, } | { "type": "list_recordings", filters?: RecordingFilters, } | { "type": "load_replay", episode_id: number, } | { "type": "seek", index: number, } | { "type": "watch", run_id: string, } | { "type": "probe", run_id: string, episode_id: number, step: number, meters?: Array<number> | null, time_of_day?: number | null, } | { "type": "training_control", run_id?: string | null, control: TrainingControl, } | { "type": "present", on: boolean, } | { "type": "presenter_state", state: PresenterState, } | { "type": "follow", on: boolean, };

/**
 * How a client receives episodes (docs/decisions.md#delivery-model).
 */
export type Delivery = "episode" | "steps";

/**
 * Why an episode ended.
 */
export type EndReason = "died" | "retired" | "truncated" | "interrupted";

/**
 * A whole episode, played back by the browser at the viewer's speed
 * (docs/decisions.md#delivery-model).
 */
export type Episode = { 
/**
 * The run this message belongs to.
 */
run_id: string, episode_id: number, source: Source, checkpoint_episode: number | null, agent_id: number, metadata: EpisodeMetadata, layout: Array<AffordancePosition>, start: StartState, steps: StepColumns, finished_at: number, sent_at: number, };

/**
 * Server-paced delivery: the episode's last step has been sent.
 */
export type EpisodeEnd = { 
/**
 * The run this message belongs to.
 */
run_id: string, episode_id: number, source: Source, metadata: EpisodeMetadata, sent_at: number, };

/**
 * Per-episode metadata, values in force during the episode (docs/decisions.md#episode-metadata).
 * Same field names as the recording crate's `EpisodeMetadata`.
 */
export type EpisodeMetadata = { survival_steps: number, 
/**
 * Extrinsic + intrinsic (weighted, docs/decisions.md#intrinsic-reward).
 */
total_reward: number | null, extrinsic_reward: number | null, 
/**
 * Σ weight × novelty (docs/decisions.md#intrinsic-reward).
 */
intrinsic_reward: number | null, 
/**
 * 1-based curriculum stage.
 */
curriculum_stage: number, depletion_multiplier: number | null, epsilon: number | null, intrinsic_weight: number | null, 
/**
 * Successful interactions per affordance name.
 */
affordance_visits: { [key in string]: number }, end_reason: EndReason, 
/**
 * Unix time in seconds when the episode started.
 */
timestamp: number | null, 
/**
 * Mean learner loss over the updates made during this episode (`None`: no update).
 */
loss_mean: number | null, 
/**
 * Mean |y − Q(s,a)| over the same updates.
 */
td_error_mean: number | null, 
/**
 * Mean Q-value over the same updates.
 */
q_mean: number | null, 
/**
 * Learner updates made during this episode.
 */
updates: number, };

/**
 * Server-paced delivery (`delivery: "steps"`): an episode begins.
 */
export type EpisodeStart = { 
/**
 * The run this message belongs to.
 */
run_id: string, episode_id: number, source: Source, checkpoint_episode: number | null, agent_id: number, layout: Array<AffordancePosition>, start: StartState, 
/**
 * Number of `step` messages that will follow (at the client's speed).
 */
total_steps: number, finished_at: number, sent_at: number, };

/**
 * Pushed to every client for every finished episode (docs/decisions.md#delivery-model); a few
 * hundred bytes.
 */
export type EpisodeSummary = { 
/**
 * The run this message belongs to.
 */
run_id: string, episode_id: number, source: Source, 
/**
 * The training episode of the model that played it (checkpoint source only,
 * docs/decisions.md#checkpoint-mode).
 */
checkpoint_episode: number | null, metadata: EpisodeMetadata, 
/**
 * Unix ms, stamped when the episode ended (training thread / generator).
 */
finished_at: number, 
/**
 * Unix ms, stamped when the server serialized the message.
 */
sent_at: number, };

/**
 * Stable, machine-readable error codes carried by the `error` message (`code` field).
 */
export type ErrorCode = "invalid_json" | "not_an_object" | "missing_type" | "unknown_type" | "unsupported_version" | "invalid_field" | "invalid_speed" | "invalid_filter" | "invalid_value" | "unknown_episode" | "seek_out_of_range" | "frame_too_large" | "too_many_clients" | "not_available" | "checkpoint_error" | "internal" | "unknown_run" | "forbidden";

/**
 * Sent only to the client that caused it; the connection stays open unless the code is
 * `frame_too_large` or `too_many_clients`.
 */
export type ErrorMessage = { code: ErrorCode, message: string, 
/**
 * The `type` of the message that caused it, when known.
 */
request: string | null, 
/**
 * The run the failed request was about, when it was about one (absent otherwise).
 */
run_id?: string | null, };

/**
 * Server-side episode filter (docs/decisions.md#filters-are-server-side). On the wire:
 * `{"kind": "every_nth", "n": 10}`.
 */
export type Filter = { "kind": "all" } | { "kind": "failures" } | { "kind": "stage_changes" } | { "kind": "every_nth", n?: number, } | { "kind": "best" } | { "kind": "worst" };

export type GridSize = { width: number, height: number, };

/**
 * First message on every connection (docs/decisions.md#what-hello-carries). Everything a viewer
 * shows by name or count comes from here.
 */
export type Hello = { protocol_version: number, 
/**
 * The run this connection watches; every other field below describes that run.
 */
run_id: string, 
/**
 * Every run of the server, in display order (lab order, or newest first).
 */
runs: Array<RunInfo>, 
/**
 * The lab's title, when the server serves a lab.
 */
lab_title: string | null, mode: Mode, pack: string, grid: GridSize, 
/**
 * In index order: `meters[i]` names `steps.meters[*][i]`.
 */
meters: Array<MeterInfo>, 
/**
 * In action-id order: `actions[a]` names action id `a`.
 */
actions: Array<string>, 
/**
 * Deployed affordances in vocabulary order.
 */
affordances: Array<AffordanceInfo>, cascades: Array<CascadeInfo>, 
/**
 * True when the pack uses temporal mechanics (time of day, multi-tick progress).
 */
temporal: boolean, max_steps_per_episode: number, 
/**
 * The run's episode budget; `None` when unbounded.
 */
max_episodes: number | null, totals: Totals, limits: Limits, session: SessionInfo, 
/**
 * What this connection may do (docs/protocol.md#the-teachers-seat).
 */
role: Role, };

/**
 * One episode of the chart history.
 */
export type HistoryPoint = { episode_id: number, survival_steps: number, total_reward: number | null, extrinsic_reward: number | null, epsilon: number | null, intrinsic_weight: number | null, curriculum_stage: number, end_reason: EndReason, };

/**
 * Limits the server enforces, so a client can build its controls without guessing.
 */
export type Limits = { min_speed: number, max_speed: number, 
/**
 * Playback rate at speed 1× (5, docs/decisions.md#speeds-and-limits).
 */
steps_per_second_at_1x: number, 
/**
 * Largest inbound frame accepted (64 KiB, docs/decisions.md#speeds-and-limits).
 */
max_frame_bytes: number, 
/**
 * Recent episodes kept for `next` / `get_episode` (200,
 * docs/decisions.md#next-order-and-history).
 */
ring_size: number, 
/**
 * Episodes in the stats history sent on connect (1000,
 * docs/decisions.md#next-order-and-history).
 */
history_len: number, };

/**
 * One meter, in index order in [`Hello::meters`].
 */
export type MeterInfo = { name: string, tier: MeterTier, };

/**
 * Meter tier, as in bars.yaml.
 */
export type MeterTier = "pivotal" | "primary" | "secondary" | "resource";

/**
 * What the server is attached to (docs/decisions.md#what-hello-carries). A replay is a per-viewer
 * choice in both modes.
 */
export type Mode = "live" | "checkpoint";

/**
 * Checkpoint mode: a new model is in use.
 */
export type ModelLoaded = { 
/**
 * The run this message belongs to.
 */
run_id: string, 
/**
 * File name inside the checkpoint folder.
 */
checkpoint: string, 
/**
 * The training episode the checkpoint was written at.
 */
checkpoint_episode: number, epsilon: number | null, curriculum_stage: number, depletion_multiplier: number | null, 
/**
 * Unix ms.
 */
loaded_at: number, };

/**
 * The observation the network received at the probed state (at the agent's real cell),
 * cut into its parts (docs/world.md#observations).
 */
export type ObservationParts = { 
/**
 * `window` (partially observable packs: `side × side` cells centred on the agent) or
 * `grid` (the whole town, `side × side`).
 */
spatial_kind: string, side: number, 
/**
 * World cell of the spatial part's top-left corner (`[0, 0]` for `grid`; may lie
 * outside the town for a window near an edge).
 */
origin: [number, number], 
/**
 * Row-major; 1 = an affordance (a full grid also marks the agent: +1, at most 2).
 */
spatial: Array<number | null>, position: Array<number | null>, meters: Array<number | null>, 
/**
 * The affordance under the agent (the one-hot's slot), `null` for none.
 */
affordance: string | null, 
/**
 * `sin(hour)`, `cos(hour)`, `progress/10`, `lifetime`.
 */
temporal: Array<number | null>, };

/**
 * Which episode `next` picks (docs/decisions.md#next-order-and-history).
 */
export type Order = "latest" | "sequential";

/**
 * Where the presenting teacher is: followers mirror it.
 */
export type PresenterState = { run_id: string, 
/**
 * The episode on the teacher's screen (`null`: none yet).
 */
episode_id?: number | null, 
/**
 * 0-based step index within it.
 */
step: number, playing: boolean, speed: Speed, 
/**
 * The overlays shown (the viewer's names, e.g. `"q_values"`).
 */
overlays: Array<string>, };

/**
 * `presenting`: sent to every connection when the teacher starts or stops presenting
 * or moves (and right after `hello` while presenting, so a late viewer joins at the
 * teacher's position).
 */
export type Presenting = { active: boolean, 
/**
 * The teacher's position (absent when not presenting).
 */
state: PresenterState | null, 
/**
 * Server time when the teacher's message arrived (unix ms).
 */
sent_at: number, };

/**
 * Which network answered a probe.
 */
export type ProbeNetwork = { 
/**
 * The network after this training episode ("network after episode 1230").
 */
after_episode: number, 
/**
 * `training`: a snapshot the trainer handed over (live mode); `checkpoint`: a
 * checkpoint file (checkpoint mode, replays of a run folder).
 */
source: Source, 
/**
 * `simple` or `recurrent`.
 */
network_type: string, 
/**
 * This network started the probed episode (checkpoint mode: played all of it), so at
 * the agent's real cell and state the probe gives the Q-values stored in the step.
 */
exact: boolean, };

/**
 * Reply to `probe`: for every cell of the town (row-major, `y · width + x`) the Q-values
 * the network gives with the agent placed there, and the action mask there.
 */
export type ProbeResult = { 
/**
 * The run this message belongs to.
 */
run_id: string, episode_id: number, 
/**
 * 1-based: the decision of this step is probed (the state before it).
 */
step: number, network: ProbeNetwork, state: ProbedState, grid: GridSize, 
/**
 * One entry per cell, each one value per action.
 */
q_values: Array<Array<number | null>>, 
/**
 * One entry per cell, each one flag per action (true = allowed).
 */
masks: Array<Array<boolean>>, observation: ObservationParts, 
/**
 * Milliseconds the server spent on this answer (0 when it came from the cache).
 */
compute_ms: number | null, };

/**
 * The state a probe asked about: the step's real state, or the what-if values.
 */
export type ProbedState = { 
/**
 * The agent's real cell before the step.
 */
position: [number, number], meters: Array<number | null>, time_of_day: number | null, 
/**
 * Meters or clock differ from the step's real state.
 */
what_if: boolean, };

/**
 * Filters for `list_recordings`; every field is optional.
 */
export type RecordingFilters = { stage?: number | null, 
/**
 * Recording reason, e.g. `periodic`.
 */
reason?: string | null, end_reason?: EndReason | null, min_reward?: number | null, max_reward?: number | null, 
/**
 * At most this many rows (1..=`MAX_RECORDINGS_LIMIT`, default 100).
 */
limit?: number | null, };

/**
 * One recorded episode in a `recordings` list.
 */
export type RecordingInfo = { episode_id: number, 
/**
 * The recording criterion that matched (`periodic`, `stage_transitions`, …).
 */
reason: string, survival_steps: number, total_reward: number | null, extrinsic_reward: number | null, curriculum_stage: number, end_reason: EndReason, timestamp: number, 
/**
 * Size of the episode file in bytes.
 */
file_bytes: number, };

/**
 * Reply to `list_recordings`, newest first.
 */
export type Recordings = { 
/**
 * The run this message belongs to.
 */
run_id: string, items: Array<RecordingInfo>, 
/**
 * Matching recordings in total (may exceed `items.len()` when limited).
 */
total: number, };

/**
 * What a connection may do (`hello.role`): a teacher's connection carries the server's
 * teacher token (`/ws?token=`), every other one is a viewer.
 */
export type Role = "viewer" | "teacher";

/**
 * One run of the server: what a run picker shows.
 */
export type RunInfo = { 
/**
 * URL-safe, unique within the server (`/ws?run=<id>`, `watch {run_id}`).
 */
id: string, 
/**
 * The lab's name for the run, else the run folder's name.
 */
name: string, pack: string, seed: number, 
/**
 * The overridden pack values (`--set` or the lab's `set`), as given.
 */
overrides: { [key in string]: string }, status: RunStatus, 
/**
 * How `watch` plays it: straight from its trainer, or its saved model.
 */
mode: Mode, 
/**
 * Episodes trained so far (or recorded).
 */
episodes: number, 
/**
 * Best `survival_steps` so far.
 */
best_survival: number | null, 
/**
 * Mean `survival_steps` of the last 100 episodes.
 */
mean_survival_100: number | null, 
/**
 * 1-based stage of the newest episode.
 */
curriculum_stage: number, 
/**
 * At most 50 points: mean survival per bucket of consecutive episodes, oldest first.
 */
sparkline: Array<number | null>, };

/**
 * Whether anybody is training a run (see [`RunInfo::status`]).
 */
export type RunStatus = "live" | "finished" | "stale" | "recorded";

/**
 * Sent to every client when a run appears, finishes or changes stage, and at most every
 * 5 s while a run is live.
 */
export type RunsMessage = { 
/**
 * Every run of the server, in display order (as in `hello.runs`).
 */
runs: Array<RunInfo>, lab_title: string | null, };

/**
 * A server frame as received (the TypeScript `ServerFrame`): a message plus `v`.
 */
export type ServerFrame = { v: number, } & ({ "type": "hello" } & Hello | { "type": "runs" } & RunsMessage | { "type": "episode_summary" } & EpisodeSummary | { "type": "episode" } & Episode | { "type": "episode_start" } & EpisodeStart | { "type": "step" } & StepMessage | { "type": "episode_end" } & EpisodeEnd | { "type": "stats" } & Stats | { "type": "model_loaded" } & ModelLoaded | { "type": "recordings" } & Recordings | { "type": "probe" } & ProbeResult | { "type": "error" } & ErrorMessage | { "type": "training_events" } & TrainingEvents | { "type": "presenting" } & Presenting);

/**
 * Every message the server sends. On the wire each is a JSON object with `type` (the
 * variant name in snake_case) and `v` (see [`crate::to_json`]).
 */
export type ServerMessage = { "type": "hello" } & Hello | { "type": "runs" } & RunsMessage | { "type": "episode_summary" } & EpisodeSummary | { "type": "episode" } & Episode | { "type": "episode_start" } & EpisodeStart | { "type": "step" } & StepMessage | { "type": "episode_end" } & EpisodeEnd | { "type": "stats" } & Stats | { "type": "model_loaded" } & ModelLoaded | { "type": "recordings" } & Recordings | { "type": "probe" } & ProbeResult | { "type": "error" } & ErrorMessage | { "type": "training_events" } & TrainingEvents | { "type": "presenting" } & Presenting;

/**
 * The client's session as the server holds it (echoed in `hello` with the defaults).
 */
export type SessionInfo = { delivery: Delivery, speed: Speed, filter: Filter, greedy: boolean, };

/**
 * Where an episode came from.
 */
export type Source = "training" | "checkpoint" | "replay";

/**
 * Playback speed: a factor of [`crate::STEPS_PER_SECOND_AT_1X`] in
 * `[MIN_SPEED, MAX_SPEED]`, or `"instant"` (no pacing). On the wire: a JSON number or the
 * string `"instant"`.
 */
export type Speed = number | "instant";

/**
 * State at step 0 (docs/decisions.md#step-fields), so a viewer can draw the spawn.
 */
export type StartState = { position: [number, number], meters: Array<number | null>, time_of_day: number | null, };

/**
 * About once a second; the first one after `hello` carries `history` (the last
 * [`crate::HISTORY_LEN`] episodes, oldest first) so charts fill at once
 * (docs/decisions.md#next-order-and-history).
 */
export type Stats = { 
/**
 * The run this message belongs to.
 */
run_id: string, episodes_trained: number, steps_trained: number, 
/**
 * Env steps per second over the last interval.
 */
steps_per_second: number | null, epsilon: number | null, intrinsic_weight: number | null, curriculum_stage: number, depletion_multiplier: number | null, 
/**
 * Episodes waiting in the live queue.
 */
queue_len: number, 
/**
 * Episodes dropped by the live queue (queue full).
 */
dropped: number, 
/**
 * Episodes this client skipped (slow client, or following live past them).
 */
skipped: number, last_loss: number | null, clients: number, uptime_s: number, 
/**
 * Present on the first `stats` of a connection only.
 */
history: Array<HistoryPoint> | null, sent_at: number, };

/**
 * The steps of an episode, column by column (docs/decisions.md#memory-bound-per-step): entry `i`
 * of every column belongs to step index `i` (whose `step` is `i + 1`). All columns have
 * the same length.
 */
export type StepColumns = { step: Array<number>, position: Array<[number, number]>, meters: Array<Array<number | null>>, action: Array<number>, reward: Array<number | null>, intrinsic_reward: Array<number | null>, done: Array<boolean>, q_values: Array<Array<number | null> | null>, epsilon: Array<number | null>, action_mask: Array<Array<boolean> | null>, explored: Array<boolean>, time_of_day: Array<number | null>, interaction_progress: Array<number | null>, };

/**
 * Server-paced delivery: one step. The step's fields are inlined next to `episode_id`
 * and `index` (0-based: index `i` holds `step` `i + 1`, docs/decisions.md#recording-criteria).
 */
export type StepMessage = { 
/**
 * The run this message belongs to.
 */
run_id: string, episode_id: number, index: number, 
/**
 * 1-based.
 */
step: number, position: [number, number], meters: Array<number | null>, action: number, reward: number | null, 
/**
 * Unweighted RND novelty (docs/decisions.md#intrinsic-reward).
 */
intrinsic_reward: number | null, done: boolean, q_values: Array<number | null> | null, epsilon: number | null, action_mask: Array<boolean> | null, explored: boolean, time_of_day: number | null, interaction_progress: number | null, };

/**
 * One step as a row (the payload of the server-paced `step` message, and what
 * [`StepColumns::row`] returns). Decision fields describe the choice made before the
 * step, state fields the state after it (docs/decisions.md#step-fields).
 */
export type StepRow = { 
/**
 * 1-based.
 */
step: number, position: [number, number], meters: Array<number | null>, action: number, reward: number | null, 
/**
 * Unweighted RND novelty (docs/decisions.md#intrinsic-reward).
 */
intrinsic_reward: number | null, done: boolean, q_values: Array<number | null> | null, epsilon: number | null, action_mask: Array<boolean> | null, explored: boolean, time_of_day: number | null, interaction_progress: number | null, };

/**
 * Run totals at the time of the message.
 */
export type Totals = { 
/**
 * Episodes finished by the trainer (live) or played by the server (checkpoint).
 */
episodes_trained: number, 
/**
 * Env steps taken in those episodes.
 */
steps_trained: number, 
/**
 * Episodes that reached the server.
 */
episodes_streamed: number, 
/**
 * Episodes the live queue dropped because it was full.
 */
dropped: number, };

/**
 * One change to a running trainer, applied at the next episode boundary (pause and
 * resume: at the next step). `null` values go back to the pack's behaviour.
 */
export type TrainingControl = { "kind": "pause" } | { "kind": "resume" } | { "kind": "set_epsilon", value?: number | null, } | { "kind": "set_learning_rate", value: number, } | { "kind": "set_intrinsic_weight", value?: number | null, } | { "kind": "lock_stage", stage?: number | null, } | { "kind": "set_depletion_multiplier", value?: number | null, };

/**
 * One applied change (docs/decisions.md#training-events).
 */
export type TrainingEventInfo = { 
/**
 * Unix ms when the trainer applied it.
 */
time_ms: number, 
/**
 * The first episode played with the new value.
 */
episode: number, who: string, 
/**
 * `pause`, `epsilon`, `learning_rate`, `intrinsic_weight`, `stage`, `depletion_multiplier`.
 */
control: string, old: string, new: string, };

/**
 * `training_events`: after `stats` on connect (every event of the run so far), and to
 * every viewer of the run when a new one is applied (`events` has one item).
 */
export type TrainingEvents = { run_id: string, events: Array<TrainingEventInfo>, 
/**
 * True on the first message of a connection (replace, don't append).
 */
full: boolean, };
