//! The Townlet viewer server (docs/architecture.md#data-flow, docs/decisions.md): episodes
//! from a trainer in the same process (**live**), from a saved model (**checkpoint**)
//! or from a run's recordings (**replay**, per viewer) to browsers and scripts, over one
//! WebSocket (`/ws`, protocol in `docs/protocol.md`) and a small HTTP API.
//!
//! ```no_run
//! # async fn demo(pack: townlet_config::Pack) -> Result<(), townlet_inference::ServerError> {
//! use townlet_inference::{LiveSource, Mode, ServerOptions, WorldInfo, bind, serve};
//!
//! let opts = ServerOptions::default(); // 127.0.0.1:8766
//! let listener = bind(&opts).await?; // a taken port is an error here, before training
//! let (sender, source) = LiveSource::channel(townlet_inference::LIVE_QUEUE_CAPACITY);
//! let callback = sender.into_callback(); // hand to EpisodeRecorder::new
//! # drop(callback);
//! let world = WorldInfo::from_pack(&pack)?;
//! serve(listener, Mode::Live(source), world, None, opts, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

mod checkpoint;
mod convert;
mod error;
mod export;
mod http;
mod hub;
mod live;
mod options;
mod probe;
mod queue;
mod replay;
mod runs;
mod server;
mod session;
mod standalone;
pub mod teacher;
mod world;

pub mod encode;

pub use checkpoint::CheckpointSource;
pub use error::ServerError;
pub use live::{LIVE_QUEUE_CAPACITY, LiveCounters, LiveSender, LiveSource};
pub use options::{DEFAULT_PORT, ServerOptions, bind};
pub use probe::{
    Memories, PROBE_DUTY, Question, Throttle, observation_parts, probe_episode, run_in_background,
    state_before,
};
pub use runs::{MAX_RUN_ID_LEN, Runs, SPARKLINE_POINTS, ServedRun, valid_run_id};
pub use server::{MAIN_RUN, Mode, serve, serve_runs};
pub use standalone::{
    RUNS_ROOT_POLL, StandaloneOptions, find_run_folders, run_id_for, run_standalone,
    serve_runs_root, served_run_folder, snapshot_pack,
};
pub use world::WorldInfo;
