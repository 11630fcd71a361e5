//! Errors of the inference server library.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The port is taken or the address is not local (a clear error, never a panic).
    #[error(
        "cannot listen on {addr} (is another server already using the port? choose one with --port)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid listen address {0:?}: expected an IP address such as 127.0.0.1 or 0.0.0.0")]
    Address(String),
    #[error("cannot load the config pack {path}")]
    Pack {
        path: PathBuf,
        #[source]
        source: townlet_config::ConfigErrors,
    },
    #[error("{0} holds no pack (no training.yaml in a sub-folder); pass --pack")]
    NoSnapshotPack(PathBuf),
    #[error("{0} holds several packs; choose one with --pack")]
    SeveralSnapshotPacks(PathBuf),
    #[error("cannot read {path} (is this a Townlet run folder? or pass --pack)")]
    NotARunFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the environment")]
    Env(#[from] townlet_env::EnvError),
    #[error("checkpoint folder {0} does not exist")]
    NoCheckpointDir(PathBuf),
    #[error("checkpoint model: {0}")]
    Agent(String),
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot watch the checkpoint folder for new checkpoints")]
    Watch(#[from] notify::Error),
    #[error("run id {0:?} is not URL-safe: use 1 to 64 of A-Z a-z 0-9 . _ - ~")]
    RunId(String),
    #[error("two runs have the id {0:?}; run ids must be unique")]
    DuplicateRun(String),
    #[error("{0} is not a folder")]
    NoRunsRoot(PathBuf),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

/// An error and its causes on one line (`what failed: why: why`), for messages that go
/// to a viewer or a log line rather than through a binary's report.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
