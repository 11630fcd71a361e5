//! The live source: the flume channel from the trainer (docs/architecture.md#data-flow)
//! and the counters the trainer side sets.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use townlet_agent::NetworkSnapshot;
use townlet_recording::{CountersHandle, EpisodeMetadata, LiveEpisode, LiveStreamCallback};

/// Capacity of the live channel (`flume::bounded(10)`).
pub const LIVE_QUEUE_CAPACITY: usize = 10;
/// Capacity of the network snapshot channel beside it (docs/usage.md#asking-the-agent).
pub const SNAPSHOT_QUEUE_CAPACITY: usize = 2;

/// Counters shared between the trainer side and the server (all relaxed atomics).
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Episodes offered to the live stream (sent or dropped).
    pub episodes_offered: AtomicU64,
    /// Env steps of those episodes.
    pub steps_offered: AtomicU64,
    /// Episodes dropped because the channel was full (training never waits).
    pub dropped: AtomicU64,
    /// Callback failures counted by the trainer side (added to the recorder's own).
    pub callback_failures: AtomicU64,
    /// WebSocket clients connected right now (set by the server), so the trainer side can
    /// wait for its first viewers (`townlet-demo --wait-for-viewers`).
    pub viewers: AtomicU64,
    /// Network snapshots handed over, and those dropped because their queue was full.
    pub snapshots_offered: AtomicU64,
    pub snapshots_dropped: AtomicU64,
    recorder: OnceLock<CountersHandle>,
}

impl LiveCounters {
    /// Lets `/api/status` and `/metrics` report the recorder's counters too (episodes
    /// finished, callback panics caught by the recorder). Set once; later calls are
    /// ignored.
    pub fn attach_recorder(&self, handle: CountersHandle) {
        let _ = self.recorder.set(handle);
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn callback_failures(&self) -> u64 {
        self.callback_failures.load(Ordering::Relaxed)
            + self
                .recorder
                .get()
                .map_or(0, |r| r.snapshot().callback_failures)
    }

    /// Episodes the trainer finished in this process.
    pub fn episodes_finished(&self) -> u64 {
        let offered = self.episodes_offered.load(Ordering::Relaxed);
        self.recorder
            .get()
            .map_or(offered, |r| r.snapshot().episodes_finished.max(offered))
    }

    pub fn steps(&self) -> u64 {
        self.steps_offered.load(Ordering::Relaxed)
    }

    /// WebSocket clients connected right now.
    pub fn viewers(&self) -> u64 {
        self.viewers.load(Ordering::Relaxed)
    }
}

/// The trainer's end of the live channel. `offer` never blocks
/// (docs/decisions.md#backpressure).
#[derive(Debug, Clone)]
pub struct LiveSender {
    tx: flume::Sender<Arc<LiveEpisode>>,
    snapshots: flume::Sender<NetworkSnapshot>,
    counters: Arc<LiveCounters>,
}

impl LiveSender {
    /// `try_send`; on a full (or closed) channel the episode is dropped and counted.
    /// Returns whether it was queued.
    pub fn offer(&self, episode: Arc<LiveEpisode>) -> bool {
        self.counters
            .episodes_offered
            .fetch_add(1, Ordering::Relaxed);
        self.counters
            .steps_offered
            .fetch_add(episode.len() as u64, Ordering::Relaxed);
        match self.tx.try_send(episode) {
            Ok(()) => true,
            Err(e) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    episode = e.into_inner().episode_id,
                    "live queue full: episode dropped from the live view"
                );
                false
            }
        }
    }

    /// The recorder's live-stream callback (`EpisodeRecorder::new(.., Some(cb))`).
    pub fn into_callback(self) -> LiveStreamCallback {
        Box::new(move |episode| {
            self.offer(episode);
        })
    }

    pub fn counters(&self) -> &Arc<LiveCounters> {
        &self.counters
    }

    /// `try_send` of a network snapshot for probes; dropped and counted when the queue
    /// is full (the server takes them off at once, so only a stalled server drops).
    pub fn offer_snapshot(&self, snapshot: NetworkSnapshot) -> bool {
        self.counters
            .snapshots_offered
            .fetch_add(1, Ordering::Relaxed);
        let ok = self.snapshots.try_send(snapshot).is_ok();
        if !ok {
            self.counters
                .snapshots_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// The runner's snapshot callback (`DemoRunner::set_snapshot_callback`).
    pub fn snapshot_callback(&self) -> Box<dyn FnMut(NetworkSnapshot) + Send> {
        let this = self.clone();
        Box::new(move |s| {
            this.offer_snapshot(s);
        })
    }
}

/// The server's end: the receiver plus the shared counters.
#[derive(Debug, Clone)]
pub struct LiveSource {
    pub rx: flume::Receiver<Arc<LiveEpisode>>,
    /// Network snapshots from the trainer, for probes.
    pub snapshots: flume::Receiver<NetworkSnapshot>,
    pub counters: Arc<LiveCounters>,
    /// Trained episodes from before the channel (episode id, metadata; oldest first) that
    /// the run's figures and charts start from, like a run folder's `metrics.db` rows: a
    /// run served from a message bus brings its history this way.
    pub history: Vec<(u64, EpisodeMetadata)>,
    /// The trainer's control link (teacher controls, training events), when it takes
    /// controls.
    pub training: Option<crate::teacher::TrainingLink>,
}

impl LiveSource {
    /// The same source with a control link to its trainer.
    pub fn with_training(mut self, link: crate::teacher::TrainingLink) -> LiveSource {
        self.training = Some(link);
        self
    }

    /// A bounded channel of `capacity` episodes (use [`LIVE_QUEUE_CAPACITY`]).
    pub fn channel(capacity: usize) -> (LiveSender, LiveSource) {
        let (tx, rx) = flume::bounded(capacity.max(1));
        let (snap_tx, snapshots) = flume::bounded(SNAPSHOT_QUEUE_CAPACITY);
        let counters = Arc::new(LiveCounters::default());
        (
            LiveSender {
                tx,
                snapshots: snap_tx,
                counters: Arc::clone(&counters),
            },
            LiveSource {
                rx,
                snapshots,
                counters,
                history: Vec::new(),
                training: None,
            },
        )
    }

    /// The same source with `history` (oldest first) to start the run's figures and
    /// charts from.
    pub fn with_history(mut self, history: Vec<(u64, EpisodeMetadata)>) -> LiveSource {
        self.history = history;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_drops_and_counts_when_full() {
        let (tx, rx) = LiveSource::channel(2);
        let ep = Arc::new(LiveEpisode {
            episode_id: 0,
            agent_id: 0,
            metadata: Default::default(),
            layout: vec![],
            start: Default::default(),
            steps: Default::default(),
            finished_at: 0,
        });
        assert!(tx.offer(Arc::clone(&ep)));
        assert!(tx.offer(Arc::clone(&ep)));
        assert!(!tx.offer(ep));
        assert_eq!(rx.counters.dropped(), 1);
        assert_eq!(rx.counters.episodes_finished(), 3);
        assert_eq!(rx.rx.len(), 2);
    }
}
