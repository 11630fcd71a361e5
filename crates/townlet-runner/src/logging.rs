//! tracing to stderr and, when a run folder exists, to `<run>/townlet.log`.

use std::path::Path;
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// Install the global subscriber. `RUST_LOG` overrides the default level (`info`).
pub fn init_logging(log_file: Option<&Path>) {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let file = log_file.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    let result = match file {
        Some(f) => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr.and(Mutex::new(f)))
            .with_ansi(false)
            .try_init(),
        None => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .try_init(),
    };
    let _ = result;
}
