//! `EpisodeRecorder` (docs/architecture.md#data-flow, docs/decisions.md#backpressure):
//! collects steps on the training thread, hands every finished episode to the live-stream
//! callback, and sends disk and database work to one writer thread over a bounded channel.

use crate::criteria::{Criteria, CriteriaState, REASON_STAGE_BEFORE};
use crate::db;
use crate::error::RecordingError;
use crate::file::{recording_file_name, write_recording};
use crate::types::{
    AffordancePosition, EpisodeMetadata, LiveEpisode, RecordedStep, StartState, StepColumns,
};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::{BTreeMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use townlet_config::{Compression, RecordingConfig};

/// The live-stream hook: called on the training thread with every finished episode.
/// It must not block (the server's callback does a `try_send`).
pub type LiveStreamCallback = Box<dyn Fn(Arc<LiveEpisode>) + Send>;

/// Steps reserved up front so typical episodes never grow the buffers.
const INITIAL_STEP_CAPACITY: usize = 512;

/// Per-episode learner metrics handed over with `finish_episode`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EpisodeMetrics {
    /// Names of the affordances successfully interacted with, in order.
    pub interactions: Vec<String>,
}

impl EpisodeMetrics {
    pub fn from_interactions<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            interactions: names.into_iter().map(Into::into).collect(),
        }
    }

    /// Transition counts: each two consecutive successful interactions, self-loops
    /// included (docs/decisions.md#one-sqlite-writer).
    pub fn transitions(&self) -> BTreeMap<(String, String), u32> {
        let mut out = BTreeMap::new();
        for pair in self.interactions.windows(2) {
            *out.entry((pair[0].clone(), pair[1].clone())).or_insert(0) += 1;
        }
        out
    }
}

/// A snapshot of the recorder's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecorderCounters {
    /// Episodes closed with `finish_episode`.
    pub episodes_finished: u64,
    /// Episodes the live-stream callback returned from normally.
    pub episodes_streamed: u64,
    /// Callback invocations that panicked.
    pub callback_failures: u64,
    /// Episodes selected by the criteria for a file (queued).
    pub episodes_recorded: u64,
    /// Recording files written.
    pub episodes_written: u64,
    /// Bytes of recording files written.
    pub bytes_written: u64,
    /// Episode rows committed to the database.
    pub db_episodes_written: u64,
    /// Failed file or database writes (logged).
    pub write_errors: u64,
    /// Times `finish_episode` found the writer queue full and waited
    /// (docs/decisions.md#backpressure).
    pub backpressure_waits: u64,
    /// Total time spent waiting on a full queue, in nanoseconds (reported apart:
    /// docs/decisions.md#measuring-training-slowdown).
    pub backpressure_wait_ns: u64,
    /// Messages currently queued for the writer.
    pub queue_len: u64,
}

#[derive(Debug, Default)]
struct Shared {
    episodes_finished: AtomicU64,
    episodes_streamed: AtomicU64,
    callback_failures: AtomicU64,
    episodes_recorded: AtomicU64,
    episodes_written: AtomicU64,
    bytes_written: AtomicU64,
    db_episodes_written: AtomicU64,
    write_errors: AtomicU64,
    backpressure_waits: AtomicU64,
    backpressure_wait_ns: AtomicU64,
    queue_len: AtomicU64,
}

impl Shared {
    fn snapshot(&self) -> RecorderCounters {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RecorderCounters {
            episodes_finished: l(&self.episodes_finished),
            episodes_streamed: l(&self.episodes_streamed),
            callback_failures: l(&self.callback_failures),
            episodes_recorded: l(&self.episodes_recorded),
            episodes_written: l(&self.episodes_written),
            bytes_written: l(&self.bytes_written),
            db_episodes_written: l(&self.db_episodes_written),
            write_errors: l(&self.write_errors),
            backpressure_waits: l(&self.backpressure_waits),
            backpressure_wait_ns: l(&self.backpressure_wait_ns),
            queue_len: l(&self.queue_len),
        }
    }
}

fn inc(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// A cloneable, thread-safe view of a recorder's counters (e.g. for a status endpoint).
#[derive(Debug, Clone)]
pub struct CountersHandle(Arc<Shared>);

impl CountersHandle {
    pub fn snapshot(&self) -> RecorderCounters {
        self.0.snapshot()
    }
}

enum WriterMsg {
    Episode {
        episode: Arc<LiveEpisode>,
        transitions: BTreeMap<(String, String), u32>,
    },
    Record {
        episode: Arc<LiveEpisode>,
        reason: &'static str,
    },
    RunState {
        key: String,
        value: String,
    },
    TrainingEvent(crate::events::TrainingEvent),
    Flush(mpsc::Sender<()>),
}

struct Current {
    episode_id: u64,
    layout: Vec<AffordancePosition>,
    start: StartState,
}

/// Records episodes; see the module docs.
pub struct EpisodeRecorder {
    enabled: bool,
    output_dir: PathBuf,
    agent_id: u32,
    callback: Option<LiveStreamCallback>,
    has_db: bool,
    callback_failure_logged: bool,
    backpressure_logged: bool,
    tx: Option<SyncSender<WriterMsg>>,
    writer: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    criteria: Criteria,
    /// Recent finished episodes for stage_transitions `before`, with "already recorded".
    lookback: VecDeque<(Arc<LiveEpisode>, bool)>,
    current: Option<Current>,
    columns: StepColumns,
}

impl std::fmt::Debug for EpisodeRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpisodeRecorder")
            .field("enabled", &self.enabled)
            .field("output_dir", &self.output_dir)
            .field("callback", &self.callback.is_some())
            .field("counters", &self.shared.snapshot())
            .finish()
    }
}

impl EpisodeRecorder {
    /// `output_dir` is where episode files go (the run folder joined with
    /// `config.output_dir`); `database` is the run's `metrics.db`, written whatever
    /// `config.enabled` says (docs/decisions.md#metrics-without-recordings). Paths stored
    /// in the database are relative to its folder.
    pub fn new(
        config: &RecordingConfig,
        output_dir: PathBuf,
        database: Option<PathBuf>,
        live_stream_callback: Option<LiveStreamCallback>,
    ) -> Result<Self, RecordingError> {
        if config.max_queue_size == 0 {
            return Err(RecordingError::Config(
                "recording.max_queue_size must be at least 1".into(),
            ));
        }
        if config.enabled {
            std::fs::create_dir_all(&output_dir).map_err(|source| RecordingError::Io {
                path: output_dir.clone(),
                source,
            })?;
        }
        // Open in the caller's thread so a bad path fails here, not silently in the writer.
        let conn = database.as_deref().map(db::open_write).transpose()?;
        let conn_present = conn.is_some();
        let run_dir = database
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf);
        let shared = Arc::new(Shared::default());
        let (tx, rx) = mpsc::sync_channel(config.max_queue_size);
        let writer = Writer {
            conn,
            db_path: database.unwrap_or_default(),
            run_dir,
            output_dir: output_dir.clone(),
            compress: config.compression == Compression::Lz4,
            shared: Arc::clone(&shared),
        };
        let handle = std::thread::Builder::new()
            .name("townlet-recorder-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|source| RecordingError::Io {
                path: output_dir.clone(),
                source,
            })?;
        Ok(Self {
            enabled: config.enabled,
            output_dir,
            agent_id: 0,
            callback: live_stream_callback,
            has_db: conn_present,
            callback_failure_logged: false,
            backpressure_logged: false,
            tx: Some(tx),
            writer: Some(handle),
            shared,
            criteria: Criteria::new(config.criteria.clone()),
            lookback: VecDeque::new(),
            current: None,
            columns: StepColumns::with_capacity(8, 8, INITIAL_STEP_CAPACITY),
        })
    }

    /// The agent id stamped on episodes (default 0).
    pub fn set_agent_id(&mut self, agent_id: u32) {
        self.agent_id = agent_id;
    }

    /// Whether episode files are written (`recording.enabled`).
    pub fn recording_enabled(&self) -> bool {
        self.enabled
    }

    pub fn output_dir(&self) -> &Path {
        &self.output_dir
    }

    /// Starts an episode. `start.meters` fixes the meter count for its steps. An episode
    /// still open is discarded (it was never finished).
    pub fn begin_episode(
        &mut self,
        episode_id: u64,
        layout: Vec<AffordancePosition>,
        start: StartState,
    ) {
        self.columns.clear(start.meters.len(), 0);
        self.current = Some(Current {
            episode_id,
            layout,
            start,
        });
    }

    /// Appends one step (cheap: copies into reused column buffers; no I/O). Accepts a
    /// `RecordedStep` or a reference to one the caller reuses.
    pub fn record_step(&mut self, step: impl Borrow<RecordedStep>) -> Result<(), RecordingError> {
        if self.current.is_none() {
            return Err(RecordingError::NoEpisode);
        }
        self.columns.push(step.borrow())?;
        Ok(())
    }

    /// Steps recorded so far in the open episode.
    pub fn steps_in_episode(&self) -> usize {
        self.columns.len()
    }

    /// Closes the episode: streams it (every episode), queues its database row and, when
    /// the criteria select it, its file. Blocks only while the writer queue is full
    /// (docs/decisions.md#backpressure).
    pub fn finish_episode(
        &mut self,
        metadata: EpisodeMetadata,
        metrics: EpisodeMetrics,
    ) -> Result<Arc<LiveEpisode>, RecordingError> {
        let current = self.current.take().ok_or(RecordingError::NoEpisode)?;
        let episode = Arc::new(LiveEpisode {
            episode_id: current.episode_id,
            agent_id: self.agent_id,
            metadata,
            layout: current.layout,
            start: current.start,
            steps: self.columns.shrunk_clone(),
            finished_at: unix_ms(),
        });
        let n_meters = self.columns.n_meters();
        self.columns.clear(n_meters, 0);
        inc(&self.shared.episodes_finished);

        self.stream(&episode);

        if self.has_db {
            self.send(WriterMsg::Episode {
                episode: Arc::clone(&episode),
                transitions: metrics.transitions(),
            })?;
        }

        if self.enabled {
            let decision = self.criteria.evaluate(
                episode.episode_id,
                episode.metadata.curriculum_stage,
                episode.metadata.extrinsic_reward,
            );
            if decision.stage_changed {
                let before: Vec<Arc<LiveEpisode>> = self
                    .lookback
                    .iter_mut()
                    .filter(|(_, recorded)| !*recorded)
                    .map(|(ep, recorded)| {
                        *recorded = true;
                        Arc::clone(ep)
                    })
                    .collect();
                for ep in before {
                    self.record(ep, REASON_STAGE_BEFORE)?;
                }
            }
            if let Some(reason) = decision.reason {
                self.record(Arc::clone(&episode), reason)?;
            }
            let keep = self.criteria.lookback();
            if keep > 0 {
                self.lookback
                    .push_back((Arc::clone(&episode), decision.reason.is_some()));
                while self.lookback.len() > keep {
                    self.lookback.pop_front();
                }
            }
        }
        Ok(episode)
    }

    fn stream(&mut self, episode: &Arc<LiveEpisode>) {
        let Some(cb) = &self.callback else { return };
        let ep = Arc::clone(episode);
        match catch_unwind(AssertUnwindSafe(|| cb(ep))) {
            Ok(()) => inc(&self.shared.episodes_streamed),
            Err(payload) => {
                inc(&self.shared.callback_failures);
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".into());
                if self.callback_failure_logged {
                    tracing::debug!(episode = episode.episode_id, %msg, "live-stream callback panicked");
                } else {
                    self.callback_failure_logged = true;
                    tracing::error!(
                        episode = episode.episode_id,
                        %msg,
                        "live-stream callback panicked; recording continues (further failures are counted, logged at debug)"
                    );
                }
            }
        }
    }

    fn record(
        &mut self,
        episode: Arc<LiveEpisode>,
        reason: &'static str,
    ) -> Result<(), RecordingError> {
        inc(&self.shared.episodes_recorded);
        self.send(WriterMsg::Record { episode, reason })
    }

    /// Sends to the writer, waiting when the queue is full (counted and timed apart).
    fn send(&mut self, msg: WriterMsg) -> Result<(), RecordingError> {
        let tx = self.tx.as_ref().ok_or(RecordingError::WriterGone)?;
        self.shared.queue_len.fetch_add(1, Ordering::Relaxed);
        let result = match tx.try_send(msg) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(msg)) => {
                inc(&self.shared.backpressure_waits);
                let t0 = Instant::now();
                let r = tx.send(msg).map_err(|_| RecordingError::WriterGone);
                let waited = t0.elapsed();
                self.shared
                    .backpressure_wait_ns
                    .fetch_add(waited.as_nanos() as u64, Ordering::Relaxed);
                if !self.backpressure_logged {
                    self.backpressure_logged = true;
                    tracing::warn!(
                        waited_ms = waited.as_secs_f64() * 1e3,
                        "recording writer queue full: training waited (further waits are counted)"
                    );
                } else {
                    tracing::debug!(
                        waited_ms = waited.as_secs_f64() * 1e3,
                        "recording writer queue full"
                    );
                }
                r
            }
            Err(TrySendError::Disconnected(_)) => Err(RecordingError::WriterGone),
        };
        if result.is_err() {
            self.shared.queue_len.fetch_sub(1, Ordering::Relaxed);
        }
        result
    }

    /// Upserts a run-state key (status, start time, last checkpoint, config hash) through
    /// the writer thread (docs/decisions.md#one-sqlite-writer).
    pub fn set_run_state(&mut self, key: &str, value: &str) -> Result<(), RecordingError> {
        self.send(WriterMsg::RunState {
            key: key.to_string(),
            value: value.to_string(),
        })
    }

    /// Stores a training event (docs/decisions.md#training-events) through the writer
    /// thread.
    pub fn record_training_event(
        &mut self,
        event: crate::events::TrainingEvent,
    ) -> Result<(), RecordingError> {
        self.send(WriterMsg::TrainingEvent(event))
    }

    /// Waits until everything queued so far has been written.
    pub fn flush(&mut self) -> Result<(), RecordingError> {
        let (tx, rx) = mpsc::channel();
        self.send(WriterMsg::Flush(tx))?;
        rx.recv().map_err(|_| RecordingError::WriterGone)
    }

    pub fn counters(&self) -> RecorderCounters {
        self.shared.snapshot()
    }

    pub fn counters_handle(&self) -> CountersHandle {
        CountersHandle(Arc::clone(&self.shared))
    }

    /// The criteria state to store in a checkpoint.
    pub fn criteria_state(&self) -> CriteriaState {
        self.criteria.state().clone()
    }

    /// Restores criteria state from a checkpoint (the look-back ring restarts empty).
    pub fn restore_criteria_state(&mut self, state: CriteriaState) {
        self.criteria.restore(state);
        self.lookback.clear();
    }

    /// Drains every queued write and stops the writer thread. Idempotent.
    pub fn shutdown(&mut self) -> Result<RecorderCounters, RecordingError> {
        self.tx = None; // closing the channel ends the writer loop after the backlog
        if let Some(handle) = self.writer.take()
            && handle.join().is_err()
        {
            return Err(RecordingError::WriterGone);
        }
        Ok(self.shared.snapshot())
    }
}

impl Drop for EpisodeRecorder {
    fn drop(&mut self) {
        // A recorder dropped without shutdown (e.g. on an error path) still drains.
        if self.writer.is_some()
            && let Err(e) = self.shutdown()
        {
            tracing::error!("recorder shutdown on drop: {e}");
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

struct Writer {
    conn: Option<Connection>,
    db_path: PathBuf,
    run_dir: Option<PathBuf>,
    output_dir: PathBuf,
    compress: bool,
    shared: Arc<Shared>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<WriterMsg>) {
        for msg in rx {
            self.shared.queue_len.fetch_sub(1, Ordering::Relaxed);
            match msg {
                WriterMsg::Episode {
                    episode,
                    transitions,
                } => self.episode_row(&episode, &transitions),
                WriterMsg::Record { episode, reason } => self.recording(episode, reason),
                WriterMsg::RunState { key, value } => {
                    if let Some(conn) = self.conn.as_mut()
                        && let Err(e) = db::write_run_state(conn, &key, &value)
                    {
                        self.fail(format_args!("run_state {key}: {e}"));
                    }
                }
                WriterMsg::TrainingEvent(ev) => {
                    if let Some(conn) = self.conn.as_mut()
                        && let Err(e) = crate::events::write_event(conn, &ev)
                    {
                        self.fail(format_args!("training event {}: {e}", ev.control));
                    }
                }
                WriterMsg::Flush(reply) => {
                    let _ = reply.send(());
                }
            }
        }
    }

    fn fail(&self, what: std::fmt::Arguments<'_>) {
        inc(&self.shared.write_errors);
        tracing::error!(db = %self.db_path.display(), "recording writer: {what}");
    }

    fn episode_row(&mut self, ep: &LiveEpisode, transitions: &BTreeMap<(String, String), u32>) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        match db::write_episode(conn, ep, transitions) {
            Ok(()) => inc(&self.shared.db_episodes_written),
            Err(e) => self.fail(format_args!("episode {} row: {e}", ep.episode_id)),
        }
    }

    fn recording(&mut self, episode: Arc<LiveEpisode>, reason: &'static str) {
        let id = episode.episode_id;
        let path = self.output_dir.join(recording_file_name(id));
        let meta = episode.metadata.clone();
        let num_steps = episode.len() as u32;
        let bytes = match write_recording(&path, reason, &episode, self.compress) {
            Ok(n) => n,
            Err(e) => {
                self.fail(format_args!("episode {id} file {}: {e}", path.display()));
                return;
            }
        };
        inc(&self.shared.episodes_written);
        self.shared
            .bytes_written
            .fetch_add(bytes, Ordering::Relaxed);
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let rel = match &self.run_dir {
            Some(dir) => path.strip_prefix(dir).unwrap_or(&path),
            None => &path,
        };
        let row = db::RecordingRow {
            episode_id: id,
            path: rel.to_string_lossy().replace('\\', "/"),
            reason: reason.to_string(),
            file_bytes: bytes,
            num_steps,
            compressed: self.compress,
            curriculum_stage: meta.curriculum_stage,
            total_reward: meta.total_reward,
            extrinsic_reward: meta.extrinsic_reward,
            survival_steps: meta.survival_steps,
            end_reason: meta.end_reason,
            recorded_at: unix_ms(),
        };
        if let Err(e) = db::write_recording(conn, &row) {
            self.fail(format_args!("episode {id} recordings row: {e}"));
        }
    }
}
