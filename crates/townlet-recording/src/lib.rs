//! Episode recording for Townlet (docs/architecture.md#data-flow, and the decisions under
//! docs/decisions.md#episodes-steps-and-the-database): the live-stream hook, episode files,
//! the `metrics.db` index and replay. No burn, no tokio.
//!
//! ```
//! use std::sync::Arc;
//! use townlet_config::RecordingConfig;
//! use townlet_recording::*;
//!
//! # fn main() -> Result<(), RecordingError> {
//! let run = tempfile::tempdir().unwrap();
//! let mut config = RecordingConfig { enabled: true, ..RecordingConfig::default() };
//! config.criteria.periodic.enabled = true;
//! config.criteria.periodic.interval = 1;
//! // The server passes a callback that try_sends into its bounded live queue.
//! let callback: LiveStreamCallback = Box::new(|ep: Arc<LiveEpisode>| {
//!     assert_eq!(ep.len(), 2);
//! });
//! let mut rec = EpisodeRecorder::new(
//!     &config,
//!     run.path().join("recordings"),
//!     Some(run.path().join("metrics.db")),
//!     Some(callback),
//! )?;
//! rec.set_run_state("status", "running")?;
//!
//! let start = StartState { position: (1, 1), meters: vec![1.0; 8], time_of_day: None };
//! let layout = vec![AffordancePosition { name: "Bed".into(), x: 0, y: 0 }];
//! rec.begin_episode(0, layout, start);
//! let mut step = RecordedStep { meters: vec![0.9; 8], ..RecordedStep::default() };
//! for i in 1..=2 {
//!     step.step = i; // 1-based
//!     step.done = i == 2;
//!     rec.record_step(&step)?; // a reused buffer: no allocation per step
//! }
//! let metadata = EpisodeMetadata { survival_steps: 2, end_reason: EndReason::Died, ..Default::default() };
//! let episode = rec.finish_episode(metadata, EpisodeMetrics::from_interactions(["Bed"]))?;
//! let checkpoint_blob = rec.criteria_state(); // serde: store it in the checkpoint
//! let counters = rec.shutdown()?; // drains the writer queue
//! assert_eq!((counters.episodes_streamed, counters.episodes_written), (1, 1));
//!
//! // Readers (server, CLI) open their own connections.
//! let mut replay = ReplayManager::open(&run.path().join("metrics.db"))?;
//! assert_eq!(replay.list_recordings(&RecordingFilter::default())?.len(), 1);
//! assert_eq!(replay.load(0)?, &*episode);
//! assert_eq!(replay.seek(1)?.step, 2); // 0-based index
//! # let _ = checkpoint_blob;
//! # Ok(())
//! # }
//! ```

pub mod criteria;
pub mod db;
mod error;
pub mod events;
pub mod file;
pub mod listing;
pub mod recorder;
pub mod replay;
pub mod types;

pub use criteria::{Criteria, CriteriaState};
pub use db::{AffordanceTransition, Database, EpisodeRow, RecordingFilter, RecordingRow};
pub use error::RecordingError;
pub use events::TrainingEvent;
pub use file::{
    RECORDING_EXTENSION, RECORDING_MAGIC, RECORDING_VERSION, RecordedEpisode, decode_recording,
    encode_recording, read_recording, recording_file_name, write_recording,
};
pub use recorder::{
    CountersHandle, EpisodeMetrics, EpisodeRecorder, LiveStreamCallback, RecorderCounters,
};
pub use replay::ReplayManager;
pub use types::{
    AffordancePosition, EndReason, EpisodeMetadata, LiveEpisode, RecordedStep, StartState,
    StepColumns, StepShapeError,
};
