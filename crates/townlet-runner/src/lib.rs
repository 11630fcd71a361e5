//! The Townlet training loop (`DemoRunner`): drives env + agent + recorder, writes
//! checkpoints and metrics, and hands every finished episode to an optional live-stream
//! callback. It knows nothing of warp/tokio; the unified server plugs in through the
//! callback only. It installs no logger and no signal handler: callers log through
//! `tracing` subscribers of their own and stop a run by raising its [`StopFlag`].
//!
//! Train two short episodes of the smallest pack into a fresh run folder:
//!
//! ```
//! use std::sync::{Arc, atomic::AtomicBool};
//! use townlet_runner::{DemoRunner, RunnerOptions};
//!
//! let runs = tempfile::tempdir()?;
//! let opts = RunnerOptions {
//!     pack_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/L0_0_minimal").into()),
//!     run_dir: Some(runs.path().join("first")),
//!     episodes: Some(2),
//!     max_steps: Some(50),
//!     ..Default::default()
//! };
//! let mut runner = DemoRunner::new(&opts, None, Arc::new(AtomicBool::new(false)))?;
//! let summary = runner.run(&mut |ep| println!("episode {}: {} steps", ep.episode, ep.length))?;
//! runner.shutdown()?;
//! println!("{} episodes, last checkpoint {:?}", summary.episodes_run, summary.last_checkpoint);
//! assert_eq!(summary.next_episode, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod learn_check;
pub mod run_folder;
pub mod runner;
pub mod threads;

pub use run_folder::{RunFolder, RunFolderError};
pub use runner::{
    Control, ControlRequest, DemoRunner, EpisodeReport, EvalOptions, EventSink, PhaseTimes,
    ResumeError, RunSummary, RunnerError, RunnerOptions, SnapshotCallback, StopFlag,
    control_channel,
};
