//! Server → client messages (docs/protocol.md#server--client-messages).
//!
//! Field names of [`EpisodeMetadata`] and of the step columns are the same as in the
//! recording crate's `EpisodeMetadata` / `RecordedStep`, so the server maps them one to
//! one and a viewer sees the recorded names.
//!
//! Float fields a viewer receives are declared `number | null` in the generated
//! TypeScript (`#[ts(as = "Option<_>")]`), because [`crate::to_json`] writes a non-finite
//! float as `null`. The limits and cascade thresholds of `hello` (constants and validated
//! pack values) stay `number`.

use crate::client::{Delivery, Filter, Speed};
use crate::error::ErrorCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use ts_rs::TS;

/// Every message the server sends. On the wire each is a JSON object with `type` (the
/// variant name in snake_case) and `v` (see [`crate::to_json`]).
// Messages are built, serialized and dropped at once; boxing the big variants would only
// add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello(Hello),
    Runs(RunsMessage),
    EpisodeSummary(EpisodeSummary),
    Episode(Episode),
    EpisodeStart(EpisodeStart),
    Step(StepMessage),
    EpisodeEnd(EpisodeEnd),
    Stats(Stats),
    ModelLoaded(ModelLoaded),
    Recordings(Recordings),
    Probe(crate::ProbeResult),
    Error(ErrorMessage),
    TrainingEvents(crate::teacher::TrainingEvents),
    Presenting(crate::teacher::Presenting),
}

impl ServerMessage {
    /// The wire `type` of this message.
    pub fn type_name(&self) -> &'static str {
        match self {
            ServerMessage::Hello(_) => "hello",
            ServerMessage::Runs(_) => "runs",
            ServerMessage::EpisodeSummary(_) => "episode_summary",
            ServerMessage::Episode(_) => "episode",
            ServerMessage::EpisodeStart(_) => "episode_start",
            ServerMessage::Step(_) => "step",
            ServerMessage::EpisodeEnd(_) => "episode_end",
            ServerMessage::Stats(_) => "stats",
            ServerMessage::ModelLoaded(_) => "model_loaded",
            ServerMessage::Recordings(_) => "recordings",
            ServerMessage::Probe(_) => "probe",
            ServerMessage::Error(_) => "error",
            ServerMessage::TrainingEvents(_) => "training_events",
            ServerMessage::Presenting(_) => "presenting",
        }
    }

    /// The run a run-specific message belongs to (`None` for `hello`, `runs` and an
    /// `error` not tied to a run).
    pub fn run_id(&self) -> Option<&str> {
        match self {
            ServerMessage::Hello(_) | ServerMessage::Runs(_) | ServerMessage::Presenting(_) => None,
            ServerMessage::TrainingEvents(m) => Some(&m.run_id),
            ServerMessage::EpisodeSummary(m) => Some(&m.run_id),
            ServerMessage::Episode(m) => Some(&m.run_id),
            ServerMessage::EpisodeStart(m) => Some(&m.run_id),
            ServerMessage::Step(m) => Some(&m.run_id),
            ServerMessage::EpisodeEnd(m) => Some(&m.run_id),
            ServerMessage::Stats(m) => Some(&m.run_id),
            ServerMessage::ModelLoaded(m) => Some(&m.run_id),
            ServerMessage::Recordings(m) => Some(&m.run_id),
            ServerMessage::Probe(m) => Some(&m.run_id),
            ServerMessage::Error(m) => m.run_id.as_deref(),
        }
    }

    /// Every server `type`, in the order the docs list them.
    pub const TYPES: [&'static str; 14] = [
        "hello",
        "runs",
        "episode_summary",
        "episode",
        "episode_start",
        "step",
        "episode_end",
        "stats",
        "model_loaded",
        "recordings",
        "probe",
        "error",
        "training_events",
        "presenting",
    ];
}

/// What the server is attached to (docs/decisions.md#what-hello-carries). A replay is a per-viewer
/// choice in both modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Episodes straight from a trainer in the same process.
    Live,
    /// A saved model playing (standalone inference, docs/decisions.md#checkpoint-mode).
    Checkpoint,
}

/// Where an episode came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Training,
    Checkpoint,
    Replay,
}

/// Meter tier, as in bars.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MeterTier {
    Pivotal,
    Primary,
    Secondary,
    Resource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct GridSize {
    pub width: u32,
    pub height: u32,
}

/// One meter, in index order in [`Hello::meters`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MeterInfo {
    pub name: String,
    pub tier: MeterTier,
}

/// One deployable affordance with its hours (`[open, close]`, close may exceed 24 and
/// then wraps past midnight, docs/world.md#clock-and-operating-hours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AffordanceInfo {
    pub name: String,
    pub operating_hours: [u8; 2],
}

/// A threshold cascade: while `source` is below `threshold`, it drains `target`.
/// Meters are named (names from [`Hello::meters`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CascadeInfo {
    pub source: String,
    pub target: String,
    pub threshold: f32,
}

/// Run totals at the time of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct Totals {
    /// Episodes finished by the trainer (live) or played by the server (checkpoint).
    pub episodes_trained: u64,
    /// Env steps taken in those episodes.
    pub steps_trained: u64,
    /// Episodes that reached the server.
    pub episodes_streamed: u64,
    /// Episodes the live queue dropped because it was full.
    pub dropped: u64,
}

/// Limits the server enforces, so a client can build its controls without guessing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
pub struct Limits {
    pub min_speed: f64,
    pub max_speed: f64,
    /// Playback rate at speed 1× (5, docs/decisions.md#speeds-and-limits).
    pub steps_per_second_at_1x: f64,
    /// Largest inbound frame accepted (64 KiB, docs/decisions.md#speeds-and-limits).
    pub max_frame_bytes: u32,
    /// Recent episodes kept for `next` / `get_episode` (200,
    /// docs/decisions.md#next-order-and-history).
    pub ring_size: u32,
    /// Episodes in the stats history sent on connect (1000,
    /// docs/decisions.md#next-order-and-history).
    pub history_len: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            min_speed: crate::MIN_SPEED,
            max_speed: crate::MAX_SPEED,
            steps_per_second_at_1x: crate::STEPS_PER_SECOND_AT_1X,
            max_frame_bytes: crate::MAX_INBOUND_FRAME_BYTES,
            ring_size: crate::RING_SIZE,
            history_len: crate::HISTORY_LEN,
        }
    }
}

/// The client's session as the server holds it (echoed in `hello` with the defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SessionInfo {
    pub delivery: Delivery,
    pub speed: Speed,
    pub filter: Filter,
    pub greedy: bool,
}

/// First message on every connection (docs/decisions.md#what-hello-carries). Everything a viewer
/// shows by name or count comes from here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Hello {
    pub protocol_version: u32,
    /// The run this connection watches; every other field below describes that run.
    pub run_id: String,
    /// Every run of the server, in display order (lab order, or newest first).
    pub runs: Vec<RunInfo>,
    /// The lab's title, when the server serves a lab.
    pub lab_title: Option<String>,
    pub mode: Mode,
    pub pack: String,
    pub grid: GridSize,
    /// In index order: `meters[i]` names `steps.meters[*][i]`.
    pub meters: Vec<MeterInfo>,
    /// In action-id order: `actions[a]` names action id `a`.
    pub actions: Vec<String>,
    /// Deployed affordances in vocabulary order.
    pub affordances: Vec<AffordanceInfo>,
    pub cascades: Vec<CascadeInfo>,
    /// True when the pack uses temporal mechanics (time of day, multi-tick progress).
    pub temporal: bool,
    pub max_steps_per_episode: u32,
    /// The run's episode budget; `None` when unbounded.
    pub max_episodes: Option<u64>,
    pub totals: Totals,
    pub limits: Limits,
    pub session: SessionInfo,
    /// What this connection may do (docs/protocol.md#the-teachers-seat).
    #[serde(default)]
    pub role: crate::teacher::Role,
}

/// Why an episode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// A terminal condition held (energy or health ≤ 0).
    Died,
    /// Reached `agent_lifespan`.
    Retired,
    /// Stopped at `max_steps_per_episode` while alive.
    Truncated,
    /// Training stopped mid-episode (docs/decisions.md#stop-at-the-next-step).
    Interrupted,
}

/// Per-episode metadata, values in force during the episode (docs/decisions.md#episode-metadata).
/// Same field names as the recording crate's `EpisodeMetadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EpisodeMetadata {
    pub survival_steps: u32,
    /// Extrinsic + intrinsic (weighted, docs/decisions.md#intrinsic-reward).
    #[ts(as = "Option<_>")]
    pub total_reward: f32,
    #[ts(as = "Option<_>")]
    pub extrinsic_reward: f32,
    /// Σ weight × novelty (docs/decisions.md#intrinsic-reward).
    #[ts(as = "Option<_>")]
    pub intrinsic_reward: f32,
    /// 1-based curriculum stage.
    pub curriculum_stage: u32,
    #[ts(as = "Option<_>")]
    pub depletion_multiplier: f32,
    #[ts(as = "Option<_>")]
    pub epsilon: f32,
    #[ts(as = "Option<_>")]
    pub intrinsic_weight: f32,
    /// Successful interactions per affordance name.
    pub affordance_visits: BTreeMap<String, u32>,
    pub end_reason: EndReason,
    /// Unix time in seconds when the episode started.
    #[ts(as = "Option<_>")]
    pub timestamp: f64,
    /// Mean learner loss over the updates made during this episode (`None`: no update).
    pub loss_mean: Option<f32>,
    /// Mean |y − Q(s,a)| over the same updates.
    pub td_error_mean: Option<f32>,
    /// Mean Q-value over the same updates.
    pub q_mean: Option<f32>,
    /// Learner updates made during this episode.
    pub updates: u32,
}

/// An affordance's cell during the episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AffordancePosition {
    pub name: String,
    pub x: i32,
    pub y: i32,
}

/// State at step 0 (docs/decisions.md#step-fields), so a viewer can draw the spawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StartState {
    pub position: [i32; 2],
    #[ts(as = "Vec<Option<f32>>")]
    pub meters: Vec<f32>,
    pub time_of_day: Option<u8>,
}

/// One step as a row (the payload of the server-paced `step` message, and what
/// [`StepColumns::row`] returns). Decision fields describe the choice made before the
/// step, state fields the state after it (docs/decisions.md#step-fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StepRow {
    /// 1-based.
    pub step: u32,
    pub position: [i32; 2],
    #[ts(as = "Vec<Option<f32>>")]
    pub meters: Vec<f32>,
    pub action: u8,
    #[ts(as = "Option<_>")]
    pub reward: f32,
    /// Unweighted RND novelty (docs/decisions.md#intrinsic-reward).
    #[ts(as = "Option<_>")]
    pub intrinsic_reward: f32,
    pub done: bool,
    #[ts(as = "Option<Vec<Option<f32>>>")]
    pub q_values: Option<Vec<f32>>,
    pub epsilon: Option<f32>,
    pub action_mask: Option<Vec<bool>>,
    pub explored: bool,
    pub time_of_day: Option<u8>,
    pub interaction_progress: Option<f32>,
}

/// The steps of an episode, column by column (docs/decisions.md#memory-bound-per-step): entry `i`
/// of every column belongs to step index `i` (whose `step` is `i + 1`). All columns have
/// the same length.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
pub struct StepColumns {
    pub step: Vec<u32>,
    pub position: Vec<[i32; 2]>,
    #[ts(as = "Vec<Vec<Option<f32>>>")]
    pub meters: Vec<Vec<f32>>,
    pub action: Vec<u8>,
    #[ts(as = "Vec<Option<f32>>")]
    pub reward: Vec<f32>,
    #[ts(as = "Vec<Option<f32>>")]
    pub intrinsic_reward: Vec<f32>,
    pub done: Vec<bool>,
    #[ts(as = "Vec<Option<Vec<Option<f32>>>>")]
    pub q_values: Vec<Option<Vec<f32>>>,
    pub epsilon: Vec<Option<f32>>,
    pub action_mask: Vec<Option<Vec<bool>>>,
    pub explored: Vec<bool>,
    pub time_of_day: Vec<Option<u8>>,
    pub interaction_progress: Vec<Option<f32>>,
}

impl StepColumns {
    /// Number of steps (the length of the `step` column).
    pub fn len(&self) -> usize {
        self.step.len()
    }

    pub fn is_empty(&self) -> bool {
        self.step.is_empty()
    }

    /// Lengths of every column with its name, for validation and error messages.
    fn column_lengths(&self) -> [(&'static str, usize); 13] {
        [
            ("step", self.step.len()),
            ("position", self.position.len()),
            ("meters", self.meters.len()),
            ("action", self.action.len()),
            ("reward", self.reward.len()),
            ("intrinsic_reward", self.intrinsic_reward.len()),
            ("done", self.done.len()),
            ("q_values", self.q_values.len()),
            ("epsilon", self.epsilon.len()),
            ("action_mask", self.action_mask.len()),
            ("explored", self.explored.len()),
            ("time_of_day", self.time_of_day.len()),
            ("interaction_progress", self.interaction_progress.len()),
        ]
    }

    /// `Err` names the first column whose length differs from `step`'s.
    pub fn check_lengths(&self) -> Result<(), String> {
        let n = self.len();
        for (name, len) in self.column_lengths() {
            if len != n {
                return Err(format!("column `{name}` has {len} entries, `step` has {n}"));
            }
        }
        Ok(())
    }

    /// Appends one step.
    pub fn push(&mut self, row: StepRow) {
        self.step.push(row.step);
        self.position.push(row.position);
        self.meters.push(row.meters);
        self.action.push(row.action);
        self.reward.push(row.reward);
        self.intrinsic_reward.push(row.intrinsic_reward);
        self.done.push(row.done);
        self.q_values.push(row.q_values);
        self.epsilon.push(row.epsilon);
        self.action_mask.push(row.action_mask);
        self.explored.push(row.explored);
        self.time_of_day.push(row.time_of_day);
        self.interaction_progress.push(row.interaction_progress);
    }

    /// Step index `i` as a row; `None` when out of range or a column is short.
    pub fn row(&self, i: usize) -> Option<StepRow> {
        Some(StepRow {
            step: *self.step.get(i)?,
            position: *self.position.get(i)?,
            meters: self.meters.get(i)?.clone(),
            action: *self.action.get(i)?,
            reward: *self.reward.get(i)?,
            intrinsic_reward: *self.intrinsic_reward.get(i)?,
            done: *self.done.get(i)?,
            q_values: self.q_values.get(i)?.clone(),
            epsilon: *self.epsilon.get(i)?,
            action_mask: self.action_mask.get(i)?.clone(),
            explored: *self.explored.get(i)?,
            time_of_day: *self.time_of_day.get(i)?,
            interaction_progress: *self.interaction_progress.get(i)?,
        })
    }
}

impl FromIterator<StepRow> for StepColumns {
    fn from_iter<I: IntoIterator<Item = StepRow>>(iter: I) -> Self {
        let mut columns = StepColumns::default();
        for row in iter {
            columns.push(row);
        }
        columns
    }
}

/// Pushed to every client for every finished episode (docs/decisions.md#delivery-model); a few
/// hundred bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EpisodeSummary {
    /// The run this message belongs to.
    pub run_id: String,
    pub episode_id: u64,
    pub source: Source,
    /// The training episode of the model that played it (checkpoint source only,
    /// docs/decisions.md#checkpoint-mode).
    pub checkpoint_episode: Option<u64>,
    pub metadata: EpisodeMetadata,
    /// Unix ms, stamped when the episode ended (training thread / generator).
    pub finished_at: u64,
    /// Unix ms, stamped when the server serialized the message.
    pub sent_at: u64,
}

/// A whole episode, played back by the browser at the viewer's speed
/// (docs/decisions.md#delivery-model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Episode {
    /// The run this message belongs to.
    pub run_id: String,
    pub episode_id: u64,
    pub source: Source,
    pub checkpoint_episode: Option<u64>,
    pub agent_id: u32,
    pub metadata: EpisodeMetadata,
    pub layout: Vec<AffordancePosition>,
    pub start: StartState,
    pub steps: StepColumns,
    pub finished_at: u64,
    pub sent_at: u64,
}

impl Episode {
    /// The `episode_summary` of this episode, stamped `sent_at`.
    pub fn summary(&self, sent_at: u64) -> EpisodeSummary {
        EpisodeSummary {
            run_id: self.run_id.clone(),
            episode_id: self.episode_id,
            source: self.source,
            checkpoint_episode: self.checkpoint_episode,
            metadata: self.metadata.clone(),
            finished_at: self.finished_at,
            sent_at,
        }
    }

    /// The `episode_start` for server-paced delivery of this episode.
    pub fn start_message(&self, sent_at: u64) -> EpisodeStart {
        EpisodeStart {
            run_id: self.run_id.clone(),
            episode_id: self.episode_id,
            source: self.source,
            checkpoint_episode: self.checkpoint_episode,
            agent_id: self.agent_id,
            layout: self.layout.clone(),
            start: self.start.clone(),
            total_steps: u32::try_from(self.steps.len()).unwrap_or(u32::MAX),
            finished_at: self.finished_at,
            sent_at,
        }
    }

    /// The `step` message for step index `index`; `None` past the end.
    pub fn step_message(&self, index: u32) -> Option<StepMessage> {
        let row = self.steps.row(usize::try_from(index).ok()?)?;
        Some(StepMessage {
            run_id: self.run_id.clone(),
            episode_id: self.episode_id,
            index,
            row,
        })
    }

    /// The `episode_end` for server-paced delivery of this episode.
    pub fn end_message(&self, sent_at: u64) -> EpisodeEnd {
        EpisodeEnd {
            run_id: self.run_id.clone(),
            episode_id: self.episode_id,
            source: self.source,
            metadata: self.metadata.clone(),
            sent_at,
        }
    }
}

impl EpisodeMetadata {
    /// This episode as one point of the `stats` history.
    pub fn history_point(&self, episode_id: u64) -> HistoryPoint {
        HistoryPoint {
            episode_id,
            survival_steps: self.survival_steps,
            total_reward: self.total_reward,
            extrinsic_reward: self.extrinsic_reward,
            epsilon: self.epsilon,
            intrinsic_weight: self.intrinsic_weight,
            curriculum_stage: self.curriculum_stage,
            end_reason: self.end_reason,
        }
    }
}

/// Server-paced delivery (`delivery: "steps"`): an episode begins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EpisodeStart {
    /// The run this message belongs to.
    pub run_id: String,
    pub episode_id: u64,
    pub source: Source,
    pub checkpoint_episode: Option<u64>,
    pub agent_id: u32,
    pub layout: Vec<AffordancePosition>,
    pub start: StartState,
    /// Number of `step` messages that will follow (at the client's speed).
    pub total_steps: u32,
    pub finished_at: u64,
    pub sent_at: u64,
}

/// Server-paced delivery: one step. The step's fields are inlined next to `episode_id`
/// and `index` (0-based: index `i` holds `step` `i + 1`, docs/decisions.md#recording-criteria).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StepMessage {
    /// The run this message belongs to.
    pub run_id: String,
    pub episode_id: u64,
    pub index: u32,
    #[serde(flatten)]
    pub row: StepRow,
}

/// Server-paced delivery: the episode's last step has been sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EpisodeEnd {
    /// The run this message belongs to.
    pub run_id: String,
    pub episode_id: u64,
    pub source: Source,
    pub metadata: EpisodeMetadata,
    pub sent_at: u64,
}

/// One episode of the chart history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HistoryPoint {
    pub episode_id: u64,
    pub survival_steps: u32,
    #[ts(as = "Option<_>")]
    pub total_reward: f32,
    #[ts(as = "Option<_>")]
    pub extrinsic_reward: f32,
    #[ts(as = "Option<_>")]
    pub epsilon: f32,
    #[ts(as = "Option<_>")]
    pub intrinsic_weight: f32,
    pub curriculum_stage: u32,
    pub end_reason: EndReason,
}

/// About once a second; the first one after `hello` carries `history` (the last
/// [`crate::HISTORY_LEN`] episodes, oldest first) so charts fill at once
/// (docs/decisions.md#next-order-and-history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Stats {
    /// The run this message belongs to.
    pub run_id: String,
    pub episodes_trained: u64,
    pub steps_trained: u64,
    /// Env steps per second over the last interval.
    #[ts(as = "Option<_>")]
    pub steps_per_second: f64,
    #[ts(as = "Option<_>")]
    pub epsilon: f32,
    #[ts(as = "Option<_>")]
    pub intrinsic_weight: f32,
    pub curriculum_stage: u32,
    #[ts(as = "Option<_>")]
    pub depletion_multiplier: f32,
    /// Episodes waiting in the live queue.
    pub queue_len: u32,
    /// Episodes dropped by the live queue (queue full).
    pub dropped: u64,
    /// Episodes this client skipped (slow client, or following live past them).
    pub skipped: u64,
    pub last_loss: Option<f32>,
    pub clients: u32,
    pub uptime_s: u64,
    /// Present on the first `stats` of a connection only.
    pub history: Option<Vec<HistoryPoint>>,
    pub sent_at: u64,
}

/// Checkpoint mode: a new model is in use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ModelLoaded {
    /// The run this message belongs to.
    pub run_id: String,
    /// File name inside the checkpoint folder.
    pub checkpoint: String,
    /// The training episode the checkpoint was written at.
    pub checkpoint_episode: u64,
    #[ts(as = "Option<_>")]
    pub epsilon: f32,
    pub curriculum_stage: u32,
    #[ts(as = "Option<_>")]
    pub depletion_multiplier: f32,
    /// Unix ms.
    pub loaded_at: u64,
}

/// One recorded episode in a `recordings` list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RecordingInfo {
    pub episode_id: u64,
    /// The recording criterion that matched (`periodic`, `stage_transitions`, …).
    pub reason: String,
    pub survival_steps: u32,
    #[ts(as = "Option<_>")]
    pub total_reward: f32,
    #[ts(as = "Option<_>")]
    pub extrinsic_reward: f32,
    pub curriculum_stage: u32,
    pub end_reason: EndReason,
    pub timestamp: u64,
    /// Size of the episode file in bytes.
    pub file_bytes: u64,
}

/// Reply to `list_recordings`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Recordings {
    /// The run this message belongs to.
    pub run_id: String,
    pub items: Vec<RecordingInfo>,
    /// Matching recordings in total (may exceed `items.len()` when limited).
    pub total: u64,
}

/// Sent only to the client that caused it; the connection stays open unless the code is
/// `frame_too_large` or `too_many_clients`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ErrorMessage {
    pub code: ErrorCode,
    pub message: String,
    /// The `type` of the message that caused it, when known.
    pub request: Option<String>,
    /// The run the failed request was about, when it was about one (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional = nullable)]
    pub run_id: Option<String>,
}

/// Whether anybody is training a run (see [`RunInfo::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// A trainer in this process is training it.
    Live,
    /// Its trainer stopped (budget reached, or stopped by the user).
    Finished,
    /// Its trainer stopped reporting (reserved for runs reported over a network).
    Stale,
    /// A run folder served for replay or checkpoint mode; nobody trains it here.
    Recorded,
}

/// One run of the server: what a run picker shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RunInfo {
    /// URL-safe, unique within the server (`/ws?run=<id>`, `watch {run_id}`).
    pub id: String,
    /// The lab's name for the run, else the run folder's name.
    pub name: String,
    pub pack: String,
    pub seed: u64,
    /// The overridden pack values (`--set` or the lab's `set`), as given.
    pub overrides: BTreeMap<String, String>,
    pub status: RunStatus,
    /// How `watch` plays it: straight from its trainer, or its saved model.
    pub mode: Mode,
    /// Episodes trained so far (or recorded).
    pub episodes: u64,
    /// Best `survival_steps` so far.
    pub best_survival: Option<u32>,
    /// Mean `survival_steps` of the last 100 episodes.
    pub mean_survival_100: Option<f64>,
    /// 1-based stage of the newest episode.
    pub curriculum_stage: u32,
    /// At most 50 points: mean survival per bucket of consecutive episodes, oldest first.
    #[ts(as = "Vec<Option<f32>>")]
    pub sparkline: Vec<f32>,
}

/// Sent to every client when a run appears, finishes or changes stage, and at most every
/// 5 s while a run is live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RunsMessage {
    /// Every run of the server, in display order (as in `hello.runs`).
    pub runs: Vec<RunInfo>,
    pub lab_title: Option<String>,
}
