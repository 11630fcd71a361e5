//! Logging for the binaries: `tracing` to stderr, and to `<run>/townlet.log` once the run
//! folder is known (the folder is made by the library after logging has started).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// The run's log file, attached after the subscriber is installed. Lines logged before
/// [`LogFile::attach`] go to stderr only.
#[derive(Clone, Default)]
pub struct LogFile(Arc<Mutex<Option<File>>>);

impl LogFile {
    /// Append to `path` from now on. A file that cannot be opened is reported once on
    /// stderr and logging goes on there.
    pub fn attach(&self, path: &Path) {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(f) => *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(f),
            Err(e) => tracing::warn!("cannot write the log file {}: {e}", path.display()),
        }
    }
}

/// One write to the attached file (or nowhere).
pub struct LogFileWriter(Arc<Mutex<Option<File>>>);

impl Write for LogFileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = LogFileWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LogFileWriter(Arc::clone(&self.0))
    }
}

/// Install the global subscriber (the binaries call this once, first). `RUST_LOG`
/// overrides the default level (`info`).
pub fn init() -> LogFile {
    let file = LogFile::default();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr.and(file.clone()))
        .with_ansi(false)
        .try_init();
    file
}
