//! The Townlet world (environment.md): N independent agents on a square grid, eight
//! meters each, affordances, cascades, masks and observations, driven by `Env::step`.
//!
//! Determinism: every random draw comes from one `rand_chacha::ChaCha8Rng` per env,
//! seeded with `seed_from_u64(seed)`. The layout shuffle uses `random_range(0..=i)` on
//! `u32` and the spawns `random_range(0..size)` on `u32` (rand 0.10.4, `RngExt`).

mod env;
mod error;

pub use env::{
    ACTION_DOWN, ACTION_INTERACT, ACTION_LEFT, ACTION_RIGHT, ACTION_UP, ACTION_WAIT, EndReason,
    Env, InteractionProgress, NUM_SUBSTRATE_ACTIONS, ObservationLayout, RngState, SpatialKind,
    StepResult,
};
pub use error::EnvError;
