//! The Townlet training loop (`DemoRunner`): drives env + agent + recorder, writes
//! checkpoints and metrics, and hands every finished episode to an optional live-stream
//! callback. It knows nothing of warp/tokio; the unified server plugs in through the
//! callback only.

pub mod learn_check;
pub mod logging;
pub mod run_folder;
pub mod runner;
pub mod threads;

pub use run_folder::{RunFolder, RunFolderError};
pub use runner::{
    DemoRunner, EpisodeReport, EvalOptions, PhaseTimes, RunSummary, RunnerError, RunnerOptions,
    StopFlag,
};
