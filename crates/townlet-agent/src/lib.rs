//! The DQN learner of Townlet (docs/training.md): Q-networks (the MLP and the recurrent
//! CNN + LSTM net for partially observable packs), replay buffer, masked ε-greedy, RND
//! novelty with the adaptive intrinsic weight, the curriculum, and the checkpoint
//! container. burn lives here (docs/decisions.md#where-burn-may-appear); the env and the
//! recorder do not know it.
//!
//! Rules that keep memory flat (docs/training.md#memory-rules-for-burn): acting and targets
//! run on plain (non-autodiff) snapshots taken with `valid()`; replay data are plain `Vec`s
//! and one tensor is built per batch; every autodiff loss is backwarded.
//!
//! Both networks train through one [`learner::Learner`]; what differs between them (the
//! batch and how it becomes TD terms) is the [`learner::LearnerNet`] trait.
//!
//! # Example
//!
//! Build an agent for a shipped pack and pick an action for the env's first observation:
//!
//! ```
//! use std::path::Path;
//! use townlet_agent::DqnAgent;
//! use townlet_config::{DeviceKind, load_pack};
//! use townlet_env::Env;
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/L0_0_minimal");
//! let pack = load_pack(Path::new(dir)).expect("the pack loads");
//! let env = Env::new(&pack, 1, 0).expect("one agent");
//! let mut agent = DqnAgent::new(&pack, env.obs_dim(), env.action_dim(), DeviceKind::Flex, 0)
//!     .expect("agent");
//! agent.begin_episode();
//! let masks = env.action_masks();
//! let decisions = agent.act(env.observations(), masks);
//! let action = decisions[0].action as usize;
//! assert!(masks[action], "a masked action is never chosen");
//! assert_eq!(decisions[0].q_values.len(), env.action_dim());
//! ```

// burn's ndarray device is deprecated upstream; this is the one place that allows it.
pub mod device;

pub mod agent;
pub mod checkpoint;

pub mod curriculum;
pub mod drqn;
pub mod exploration;
pub mod flat_adam;
pub mod intrinsic;
pub mod learner;
pub mod manual;
pub mod manual_rnn;
pub mod overlap;
pub mod overrides;
pub mod probe;
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
pub use drqn::RecurrentLearner;
pub use learner::{DqnLearner, Learner, LearnerNet, LearnerSettings, UpdateStats};
pub use overrides::TrainingOverrides;
pub use probe::{Memory, NetworkSnapshot};
pub use recurrent::{ObsSlices, RecurrentQNetwork};
pub use sequence::{EpisodeRecord, SequenceBuffer};
