//! The DQN learner of Townlet (training.md): Q-networks (the MLP and the recurrent
//! CNN + LSTM net for partially observable packs), replay buffer, masked
//! ε-greedy, RND novelty with the adaptive intrinsic weight, the curriculum, and the
//! checkpoint container. burn lives here (D27); the env and the recorder do not know it.
//!
//! Rules that keep memory flat (burn notes §12): acting and targets run on plain
//! (non-autodiff) snapshots taken with `valid()`; replay data are plain `Vec`s and one
//! tensor is built per batch; every autodiff loss is backwarded.

// burn's ndarray device is deprecated upstream; this is the one place that allows it.
pub mod device;

pub mod agent;
pub mod checkpoint;

pub mod curriculum;
pub mod drqn;
pub mod exploration;
pub mod intrinsic;
pub mod learner;
pub mod qnet;
pub mod recurrent;
pub mod replay;
pub mod rnd;
pub mod rng;
pub mod sequence;

pub use agent::{ActDecision, AgentError, AgentPhaseTimes, DqnAgent, EpisodeEnd, StepFeedback};

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointHeader};
pub use curriculum::{Curriculum, StageTransition, TransitionReason, stage_multiplier};
pub use device::TrainDevice;
pub use learner::UpdateStats;
pub use recurrent::{ObsSlices, RecurrentQNetwork};
pub use sequence::{EpisodeRecord, SequenceBuffer};
