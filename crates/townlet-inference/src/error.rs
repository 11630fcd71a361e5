//! Errors of the inference server library.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The port is taken or the address is not local (D36: a clear error, never a panic).
    #[error(
        "cannot listen on {addr}: {source} (is another server already using the port? choose one with --port)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid listen address {0:?}: expected an IP address such as 127.0.0.1 or 0.0.0.0")]
    Address(String),
    #[error("config pack {path}: {message}")]
    Pack { path: PathBuf, message: String },
    #[error("environment: {0}")]
    Env(#[from] townlet_env::EnvError),
    #[error("checkpoint folder {0} does not exist")]
    NoCheckpointDir(PathBuf),
    #[error("checkpoint model: {0}")]
    Agent(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("file watcher: {0}")]
    Watch(#[from] notify::Error),
}
