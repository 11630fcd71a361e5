//! Episode recording for Townlet (streaming.md §1–§3, D5–D12, D37): the live-stream hook,
//! episode files, the `metrics.db` index and replay. No burn, no tokio.

pub mod criteria;
pub mod db;
mod error;
pub mod file;
pub mod recorder;
pub mod replay;
pub mod types;

pub use criteria::{Criteria, CriteriaState};
pub use db::{AffordanceTransition, Database, EpisodeRow, RecordingFilter, RecordingRow};
pub use error::RecordingError;
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
