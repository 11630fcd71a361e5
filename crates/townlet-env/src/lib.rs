//! The Townlet world (docs/world.md): N independent agents on a square grid, eight
//! meters each, affordances, cascades, masks and observations, driven by `Env::step`.
//!
//! Determinism: every random draw comes from one `rand_chacha::ChaCha8Rng` per env,
//! seeded with `seed_from_u64(seed)`. The layout shuffle uses `random_range(0..=i)` on
//! `u32` and the spawns `random_range(0..size)` on `u32` (rand 0.10.4, `RngExt`).
//!
//! ```
//! use std::path::Path;
//! use townlet_env::{ACTION_WAIT, Env};
//!
//! let pack = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/L1_full_observability");
//! let mut env = Env::load(Path::new(pack), 1, 7)?;
//! let obs = env.reset();
//! assert_eq!(obs.len(), env.obs_dim()); // 93
//! let result = env.step(&[ACTION_WAIT], 1.0)?;
//! assert!(!result.dones[0]);
//! let slices = env.observation_layout();
//! let meters = &env.observation(0)[slices.meters.clone()];
//! assert_eq!(meters, env.meters(0));
//! # Ok::<(), townlet_env::EnvError>(())
//! ```

mod end_reason;
mod env;
mod error;
pub mod script;

pub use end_reason::EndReason;
pub use env::{
    ACTION_DOWN, ACTION_INTERACT, ACTION_LEFT, ACTION_RIGHT, ACTION_UP, ACTION_WAIT, Env,
    InteractionProgress, NUM_SUBSTRATE_ACTIONS, ObservationLayout, ProbeBatch, ProbeState,
    RngState, SpatialKind, StepResult,
};
pub use error::EnvError;
