//! Typed, validated contents of a config pack. Everything here is produced by
//! [`crate::load_pack`]; later crates never read YAML themselves.
//!
//! Meter amounts are `f32` (parsed as f64 and rounded once, docs/world.md#conventions);
//! learner hyper-parameters stay `f64`. Meter references are resolved to indices.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A whole pack: the five files of the pack folder plus the shared global actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pack {
    /// Pack folder name, e.g. `L1_full_observability`.
    pub name: String,
    /// The pack folder as given (not canonicalised).
    pub dir: PathBuf,
    /// Parent of the pack folder (where `global_actions.yaml` lives).
    pub configs_root: PathBuf,
    pub substrate: Substrate,
    /// Meters sorted by index (index `i` is at position `i`).
    pub meters: Vec<MeterDef>,
    pub terminal_conditions: Vec<TerminalCondition>,
    /// Applied in list order (docs/world.md#modulation).
    pub modulations: Vec<Modulation>,
    /// In cascades.yaml list order; the env runs them per category pass.
    pub cascades: Vec<Cascade>,
    /// In affordances.yaml order = observation vocabulary order.
    pub affordances: Vec<AffordanceDef>,
    /// Custom actions from `global_actions.yaml`, ids 6.. in file order.
    pub custom_actions: Vec<CustomAction>,
    pub run_metadata: RunMetadata,
    pub environment: EnvironmentConfig,
    pub population: PopulationConfig,
    pub curriculum: CurriculumConfig,
    pub exploration: ExplorationConfig,
    pub training: TrainingConfig,
    pub recording: RecordingConfig,
    /// The overrides applied on top of the pack files (`--set`, a lab's `set:`, the pack
    /// folder's `overrides.yaml`), for display; their values are already in the fields
    /// above. Outside the config hash (which sees the values).
    #[serde(default)]
    pub overrides: crate::overrides::Overrides,
    /// Non-fatal findings (missing global_actions.yaml, skipped custom-action meters,
    /// `device: cuda` fallback). The caller logs them.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    Clamp,
    Wrap,
    Bounce,
    Sticky,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistanceMetric {
    Manhattan,
    Euclidean,
    Chebyshev,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationEncoding {
    Relative,
    Scaled,
    Absolute,
}

/// substrate.yaml (only `type: grid`, `topology: square` survive validation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Substrate {
    pub width: u32,
    pub height: u32,
    pub boundary: Boundary,
    pub distance_metric: DistanceMetric,
    pub observation_encoding: ObservationEncoding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Pivotal,
    Primary,
    Secondary,
    Resource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterDef {
    pub name: String,
    pub index: usize,
    pub tier: Tier,
    pub initial: f32,
    pub base_depletion: f32,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "==")]
    Eq,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerminalCondition {
    pub meter: usize,
    pub op: CmpOp,
    pub value: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Modulation {
    pub name: String,
    pub source: usize,
    pub target: usize,
    pub base_multiplier: f32,
    pub range: f32,
    pub baseline_depletion: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CascadeCategory {
    PrimaryToPivotal,
    SecondaryToPrimary,
    SecondaryToPivotalWeak,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cascade {
    pub name: String,
    pub category: CascadeCategory,
    pub source: usize,
    pub target: usize,
    pub threshold: f32,
    pub strength: f32,
}

/// One `{meter, amount}` entry with the meter resolved to its index. List order is kept.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeterAmount {
    pub meter: usize,
    pub amount: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionType {
    Instant,
    MultiTick,
    Continuous,
    Dual,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AffordanceDef {
    pub id: String,
    pub name: String,
    pub category: String,
    pub interaction_type: InteractionType,
    pub required_ticks: Option<u32>,
    pub costs: Vec<MeterAmount>,
    pub effects: Vec<MeterAmount>,
    pub costs_per_tick: Vec<MeterAmount>,
    pub effects_per_tick: Vec<MeterAmount>,
    pub completion_bonus: Vec<MeterAmount>,
    /// `[open, close]`, close may exceed 24 (wraps past midnight).
    pub operating_hours: [u8; 2],
}

impl AffordanceDef {
    /// Open at hour `t` (docs/world.md#clock-and-operating-hours).
    pub fn is_open(&self, t: u32) -> bool {
        let [open, close] = self.operating_hours;
        let (open, close) = (u32::from(open), u32::from(close));
        if close > 24 {
            t >= open || t < close - 24
        } else {
            open <= t && t < close
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomActionKind {
    Movement,
    Interaction,
    Passive,
    Transaction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomAction {
    pub name: String,
    pub kind: CustomActionKind,
    /// Subtracted in order (negative = gain). Meters this pack lacks are dropped.
    pub costs: Vec<MeterAmount>,
    /// Added in order. Meters this pack lacks are dropped.
    pub effects: Vec<MeterAmount>,
    pub delta: Option<[i32; 2]>,
    pub teleport_to: Option<[i32; 2]>,
    pub description: Option<String>,
    pub icon: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetadata {
    /// Run folder name under the runs root; defaults to the pack folder name.
    pub output_subdir: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentConfig {
    pub grid_size: u32,
    pub partial_observability: bool,
    pub vision_range: u32,
    pub enable_temporal_mechanics: bool,
    /// Names, or `None` for all. Deployment order is always affordances.yaml order.
    pub enabled_affordances: Option<Vec<String>>,
    pub energy_move_depletion: f32,
    pub energy_wait_depletion: f32,
    pub energy_interact_depletion: f32,
    /// Default 1000 (docs/packs.md#environment).
    pub agent_lifespan: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkType {
    Simple,
    Recurrent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationConfig {
    pub num_agents: usize,
    pub learning_rate: f64,
    pub gamma: f64,
    pub replay_buffer_capacity: usize,
    pub network_type: NetworkType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurriculumKind {
    Adversarial,
    Static,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurriculumConfig {
    pub max_steps_per_episode: u32,
    pub survival_advance_threshold: f64,
    pub survival_retreat_threshold: f64,
    pub entropy_gate: Option<f64>,
    /// Alias `min_steps_at_stage` accepted on input.
    pub min_episodes_at_stage: u32,
    /// Resolved default: `min(100, min_episodes_at_stage)`, at least 1.
    pub evaluation_window: u32,
    pub kind: CurriculumKind,
    /// 1..=5, default 4; used when `kind` is static.
    pub static_stage: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplorationConfig {
    pub embed_dim: usize,
    pub initial_intrinsic_weight: f64,
    pub variance_threshold: f64,
    pub survival_window: usize,
    /// Default 1e-4.
    pub rnd_learning_rate: f64,
    /// Default 128.
    pub rnd_batch_size: usize,
    /// Default 0.99.
    pub intrinsic_decay: f64,
    /// Default 0.0.
    pub min_intrinsic_weight: f64,
    /// Default 50.
    pub min_survival_for_annealing: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Flex,
    Ndarray,
}

/// How the learner gets its gradients (docs/packs.md#training): written out by hand on
/// burn tensors (the fast path, default) or from burn's autodiff (the reference).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientMode {
    #[default]
    Manual,
    Autodiff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    Mse,
    Huber,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingConfig {
    /// `cpu` reads as flex; `cuda` falls back to flex with a warning.
    pub device: DeviceKind,
    /// Required unless given on the command line (the runner checks).
    pub max_episodes: Option<u64>,
    pub train_frequency: u32,
    pub target_update_frequency: u32,
    pub max_grad_norm: f64,
    /// Resolved default: 64 for simple, 16 for recurrent.
    pub batch_size: usize,
    /// Default 8.
    pub sequence_length: usize,
    pub epsilon_start: f64,
    pub epsilon_decay: f64,
    pub epsilon_min: f64,
    /// Default 100.
    pub checkpoint_interval: u64,
    /// Default 5; 0 keeps all.
    pub keep_checkpoints: usize,
    /// Episodes between the network snapshots a trainer hands its viewer server for
    /// probes (docs/usage.md#asking-the-agent). Default 10.
    pub snapshot_interval: u64,
    /// Default 0.
    pub seed: u64,
    pub loss: LossKind,
    /// Default 1.0.
    pub huber_delta: f64,
    pub double_dqn: bool,
    /// Default `manual`; outside the config hash (the same update either way).
    pub gradients: GradientMode,
    /// Default `true`: the feed-forward learner's hand-written update runs on a second
    /// thread while the agent acts (docs/training.md#overlapped-updates); outside the
    /// config hash.
    pub overlap_updates: bool,
    /// Default 1e-8.
    pub adam_epsilon: f64,
    /// Default 0.
    pub burn_in: usize,
    /// Default Some(5000); `null` disables.
    pub reshuffle_layout_at_episode: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    Lz4,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodicCriterion {
    pub enabled: bool,
    pub interval: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTransitionsCriterion {
    pub enabled: bool,
    pub before: u32,
    pub after: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceCriterion {
    pub enabled: bool,
    pub top_percent: f64,
    pub bottom_percent: f64,
    pub window: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageBoundariesCriterion {
    pub enabled: bool,
    pub first_n: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingCriteria {
    pub periodic: PeriodicCriterion,
    pub stage_transitions: StageTransitionsCriterion,
    pub performance: PerformanceCriterion,
    pub stage_boundaries: StageBoundariesCriterion,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingConfig {
    pub enabled: bool,
    /// Relative to the run folder. Default `recordings`.
    pub output_dir: String,
    /// Writer queue bound (docs/decisions.md#backpressure). Default 1000.
    pub max_queue_size: usize,
    pub compression: Compression,
    pub criteria: RecordingCriteria,
}

impl Default for RecordingCriteria {
    fn default() -> Self {
        Self {
            periodic: PeriodicCriterion {
                enabled: false,
                interval: 100,
            },
            stage_transitions: StageTransitionsCriterion {
                enabled: false,
                before: 5,
                after: 10,
            },
            performance: PerformanceCriterion {
                enabled: false,
                top_percent: 1.0,
                bottom_percent: 1.0,
                window: 100,
            },
            stage_boundaries: StageBoundariesCriterion {
                enabled: false,
                first_n: 10,
            },
        }
    }
}

impl Default for RecordingConfig {
    /// The defaults of docs/packs.md#recording (recording disabled).
    fn default() -> Self {
        Self {
            enabled: false,
            output_dir: "recordings".to_string(),
            max_queue_size: 1000,
            compression: Compression::Lz4,
            criteria: RecordingCriteria::default(),
        }
    }
}

impl Pack {
    pub fn meter_index(&self, name: &str) -> Option<usize> {
        self.meters.iter().position(|m| m.name == name)
    }

    pub fn meter_names(&self) -> Vec<String> {
        self.meters.iter().map(|m| m.name.clone()).collect()
    }

    /// Substrate actions (ids 0–5) followed by the custom actions.
    pub fn action_names(&self) -> Vec<String> {
        SUBSTRATE_ACTIONS
            .iter()
            .map(|s| s.to_string())
            .chain(self.custom_actions.iter().map(|a| a.name.clone()))
            .collect()
    }

    pub fn action_dim(&self) -> usize {
        SUBSTRATE_ACTIONS.len() + self.custom_actions.len()
    }

    /// Deployed affordances (indices into `affordances`), in affordances.yaml order.
    pub fn deployed_affordances(&self) -> Vec<usize> {
        match &self.environment.enabled_affordances {
            None => (0..self.affordances.len()).collect(),
            Some(names) => (0..self.affordances.len())
                .filter(|&i| names.iter().any(|n| *n == self.affordances[i].name))
                .collect(),
        }
    }
}

/// Ids 0–5 of the grid substrate, in this fixed order (docs/world.md#actions).
pub const SUBSTRATE_ACTIONS: [&str; 6] = ["UP", "DOWN", "LEFT", "RIGHT", "INTERACT", "WAIT"];
