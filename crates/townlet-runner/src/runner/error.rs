//! What can go wrong when building or running a [`DemoRunner`](super::DemoRunner).
//!
//! Variants that only pass another crate's error on are `transparent`; the ones that add
//! context (which run folder, which checkpoint) say so in their own words and keep the
//! wrapped error as their `source()`, so a printed chain names each thing once.

use crate::run_folder::RunFolderError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Config(#[from] townlet_config::ConfigErrors),
    #[error(transparent)]
    Env(#[from] townlet_env::EnvError),
    #[error(transparent)]
    Agent(#[from] townlet_agent::AgentError),
    #[error(transparent)]
    Checkpoint(#[from] townlet_agent::CheckpointError),
    #[error(transparent)]
    Recording(#[from] townlet_recording::RecordingError),
    #[error(transparent)]
    RunFolder(#[from] RunFolderError),
    /// The run folder exists but its newest checkpoint cannot be continued from.
    #[error("cannot resume run folder {}", run.display())]
    Resume {
        run: PathBuf,
        #[source]
        source: ResumeError,
    },
    #[error(
        "pack {} differs from the config snapshot of run folder {} in: {keys}. Resume without --pack, or start a new run",
        pack.display(),
        run.display()
    )]
    ConfigMismatch {
        pack: PathBuf,
        run: PathBuf,
        keys: String,
    },
    #[error(
        "run folder {} was created with other values for: {keys}. Resume without --set (the run keeps its own values), or start a new run",
        run.display()
    )]
    SetMismatch { run: PathBuf, keys: String },
    #[error("no pack given: pass --pack for a new run, or --run with an existing run folder")]
    NoPack,
    #[error("run folder {} does not exist; pass --pack to start a new run there", .0.display())]
    NoRunFolder(PathBuf),
    #[error(
        "{} is not a Townlet run folder (it has no config_snapshot/); pass --pack to start a new run in it",
        .0.display()
    )]
    NotARunFolder(PathBuf),
    #[error("training.max_episodes is not set in {pack}/training.yaml; pass --episodes N")]
    NoEpisodeCount { pack: String },
    #[error("{0}")]
    Other(String),
}

/// Why a run folder's newest checkpoint cannot be continued from (the source of
/// [`RunnerError::Resume`]).
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error(
        "its newest checkpoint {} was made for pack '{found}', but the run's config snapshot is pack '{expected}'",
        path.display()
    )]
    ForeignPack {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error(
        "checkpoint {} was made with a different config (hash {found}, this run {expected}); differing keys cannot be listed from a checkpoint alone",
        path.display()
    )]
    ConfigHash {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error(transparent)]
    Checkpoint(#[from] townlet_agent::CheckpointError),
    #[error(transparent)]
    Env(#[from] townlet_env::EnvError),
}
