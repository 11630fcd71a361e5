//! "Ask the agent" (docs/protocol.md#probe): the network's Q-values over the whole town for
//! one step of an episode, optionally with what-if meters and clock, and what the network
//! received at that step, part by part.

use crate::server::{GridSize, Source};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Which network answered a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProbeNetwork {
    /// The network after this training episode ("network after episode 1230").
    pub after_episode: u64,
    /// `training`: a snapshot the trainer handed over (live mode); `checkpoint`: a
    /// checkpoint file (checkpoint mode, replays of a run folder).
    pub source: Source,
    /// `simple` or `recurrent`.
    pub network_type: String,
    /// This network started the probed episode (checkpoint mode: played all of it), so at
    /// the agent's real cell and state the probe gives the Q-values stored in the step.
    pub exact: bool,
}

/// The state a probe asked about: the step's real state, or the what-if values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProbedState {
    /// The agent's real cell before the step.
    pub position: [i32; 2],
    #[ts(as = "Vec<Option<f32>>")]
    pub meters: Vec<f32>,
    pub time_of_day: Option<u8>,
    /// Meters or clock differ from the step's real state.
    pub what_if: bool,
}

/// The observation the network received at the probed state (at the agent's real cell),
/// cut into its parts (docs/world.md#observations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ObservationParts {
    /// `window` (partially observable packs: `side × side` cells centred on the agent) or
    /// `grid` (the whole town, `side × side`).
    pub spatial_kind: String,
    pub side: u32,
    /// World cell of the spatial part's top-left corner (`[0, 0]` for `grid`; may lie
    /// outside the town for a window near an edge).
    pub origin: [i32; 2],
    /// Row-major; 1 = an affordance (a full grid also marks the agent: +1, at most 2).
    #[ts(as = "Vec<Option<f32>>")]
    pub spatial: Vec<f32>,
    #[ts(as = "Vec<Option<f32>>")]
    pub position: Vec<f32>,
    #[ts(as = "Vec<Option<f32>>")]
    pub meters: Vec<f32>,
    /// The affordance under the agent (the one-hot's slot), `null` for none.
    pub affordance: Option<String>,
    /// `sin(hour)`, `cos(hour)`, `progress/10`, `lifetime`.
    #[ts(as = "Vec<Option<f32>>")]
    pub temporal: Vec<f32>,
}

/// Reply to `probe`: for every cell of the town (row-major, `y · width + x`) the Q-values
/// the network gives with the agent placed there, and the action mask there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProbeResult {
    /// The run this message belongs to.
    pub run_id: String,
    pub episode_id: u64,
    /// 1-based: the decision of this step is probed (the state before it).
    pub step: u32,
    pub network: ProbeNetwork,
    pub state: ProbedState,
    pub grid: GridSize,
    /// One entry per cell, each one value per action.
    #[ts(as = "Vec<Vec<Option<f32>>>")]
    pub q_values: Vec<Vec<f32>>,
    /// One entry per cell, each one flag per action (true = allowed).
    pub masks: Vec<Vec<bool>>,
    pub observation: ObservationParts,
    /// Milliseconds the server spent on this answer (0 when it came from the cache).
    #[ts(as = "Option<_>")]
    pub compute_ms: f32,
}
