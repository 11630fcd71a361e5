//! A second consumer of every run's finished episodes beside the live view — the NATS
//! publisher of `townlet-demo --publish` (docs/deployment.md) — plugged in by the binary.
//! The server only hands it a callback slot per run and tells it when the run is ready and
//! when training ended; it knows nothing of what the tap does with the episodes.

use std::path::Path;
use std::sync::Arc;
use townlet_config::Pack;
use townlet_inference::WorldInfo;
use townlet_recording::LiveStreamCallback;

/// One run, once its runner exists.
#[derive(Debug, Clone, Copy)]
pub struct TapRun<'a> {
    /// The run's key in this server ("main" for `townlet-demo`, the lab run's id).
    pub key: &'a str,
    /// A name that tells this run from others elsewhere: `<pack>-<run folder>` for one
    /// run, `<lab folder>-<run id>` in a lab.
    pub suggested_id: &'a str,
    pub pack: &'a Pack,
    pub world: &'a WorldInfo,
    pub run_dir: &'a Path,
}

/// What a tap does. Every method is called from the thread that starts the server, never
/// from the training thread; the callback it returns runs on the recorder's thread and
/// must never wait (a bounded `try_send`, dropping and counting when full).
pub trait EpisodeTap: Send + Sync {
    /// The callback for run `key`'s finished episodes (before its runner is built), or
    /// `None` to leave that run alone.
    fn callback(&self, key: &str) -> Option<LiveStreamCallback>;
    /// Run `run.key` is ready (its folder, pack and world are known).
    fn started(&self, run: TapRun<'_>);
    /// Training ended for every run: flush what is queued (bounded in time) and report.
    fn finish(&self);
}

/// The tap of a server, if any (shared; `Debug` for the options structs).
#[derive(Clone, Default)]
pub struct Tap(pub Option<Arc<dyn EpisodeTap>>);

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Tap(on)"
        } else {
            "Tap(off)"
        })
    }
}

impl Tap {
    /// `live` alone, or `live` then the tap's callback for run `key` (each never waits).
    pub(crate) fn wrap(&self, key: &str, live: LiveStreamCallback) -> LiveStreamCallback {
        match self.0.as_ref().and_then(|t| t.callback(key)) {
            Some(second) => Box::new(move |episode| {
                live(Arc::clone(&episode));
                second(episode);
            }),
            None => live,
        }
    }

    pub(crate) fn started(&self, run: TapRun<'_>) {
        if let Some(t) = &self.0 {
            t.started(run);
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(t) = &self.0 {
            t.finish();
        }
    }
}
