use std::path::PathBuf;

use crate::types::StepShapeError;

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path}")]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Codec(#[from] townlet_codec::CodecError),
    #[error("bad step")]
    StepShape(#[from] StepShapeError),
    #[error("record_step/finish_episode called without begin_episode")]
    NoEpisode,
    #[error("the recorder's writer thread has stopped")]
    WriterGone,
    #[error("invalid recording config: {0}")]
    Config(String),
    #[error("{0}")]
    NotFound(String),
    #[error("seek to step index {index} out of range (episode has {len} steps, indices 0..{len})")]
    SeekOutOfRange { index: usize, len: usize },
}
