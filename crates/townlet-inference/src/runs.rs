//! The runs a server serves (docs/protocol.md#runs): their list, the figures a run
//! picker shows, and the hub of each run once it is being served.

use crate::error::ServerError;
use crate::hub::Hub;
use crate::server::Mode;
use crate::world::WorldInfo;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, watch};
use townlet_protocol::{self as proto, RunInfo, RunStatus};

/// Longest run id.
pub const MAX_RUN_ID_LEN: usize = 64;
/// Most points of a run's sparkline.
pub const SPARKLINE_POINTS: usize = 50;

/// One run the server serves.
#[derive(Debug, Clone)]
pub struct ServedRun {
    /// URL-safe (`[A-Za-z0-9._~-]`, at most 64 characters), unique in the server.
    pub id: String,
    pub name: String,
    pub seed: u64,
    /// The overridden pack values, as given (`--set`, a lab's `set`).
    pub overrides: BTreeMap<String, String>,
    pub mode: Mode,
    pub world: WorldInfo,
    /// The run folder (`metrics.db`, `recordings/`): replay and the run's history.
    pub run_dir: Option<PathBuf>,
}

/// Whether `id` can name a run: 1..=64 characters from `[A-Za-z0-9._~-]`.
pub fn valid_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_RUN_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~'))
}

/// Mean survival per bucket of consecutive episodes; buckets double in size whenever
/// there would be more than [`SPARKLINE_POINTS`], so the line always covers the whole run.
#[derive(Debug, Clone)]
struct Sparkline {
    per_bucket: u64,
    buckets: Vec<(f64, u64)>,
}

impl Default for Sparkline {
    fn default() -> Self {
        Sparkline {
            per_bucket: 1,
            buckets: Vec::new(),
        }
    }
}

impl Sparkline {
    fn push(&mut self, value: f64) {
        match self.buckets.last_mut() {
            Some((sum, n)) if *n < self.per_bucket => {
                *sum += value;
                *n += 1;
            }
            _ => self.buckets.push((value, 1)),
        }
        if self.buckets.len() > SPARKLINE_POINTS {
            self.buckets = self
                .buckets
                .chunks(2)
                .map(|pair| pair.iter().fold((0.0, 0), |(s, n), b| (s + b.0, n + b.1)))
                .collect();
            self.per_bucket *= 2;
        }
    }

    fn points(&self) -> Vec<f32> {
        self.buckets
            .iter()
            .map(|&(sum, n)| (sum / n.max(1) as f64) as f32)
            .collect()
    }
}

/// The trained episodes' figures of a run.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunFigures {
    /// Highest episode id seen + 1.
    pub episodes: u64,
    pub best_survival: Option<u32>,
    last_100: VecDeque<u32>,
    last_100_sum: u64,
    pub stage: u32,
    sparkline: Sparkline,
}

impl RunFigures {
    /// Adds one trained episode; true when the curriculum stage changed.
    pub(crate) fn add(&mut self, episode_id: u64, survival: u32, stage: u32) -> bool {
        self.episodes = self.episodes.max(episode_id + 1);
        self.best_survival = Some(self.best_survival.map_or(survival, |b| b.max(survival)));
        self.last_100.push_back(survival);
        self.last_100_sum += u64::from(survival);
        if self.last_100.len() > 100
            && let Some(old) = self.last_100.pop_front()
        {
            self.last_100_sum -= u64::from(old);
        }
        self.sparkline.push(f64::from(survival));
        let changed = self.stage != 0 && self.stage != stage;
        self.stage = stage;
        changed
    }

    fn mean_100(&self) -> Option<f64> {
        (!self.last_100.is_empty()).then(|| self.last_100_sum as f64 / self.last_100.len() as f64)
    }
}

/// What the picker shows of a run that does not change, plus its status and figures.
#[derive(Debug)]
pub(crate) struct RunMeta {
    pub id: String,
    pub name: String,
    pub pack: String,
    pub seed: u64,
    pub overrides: BTreeMap<String, String>,
    pub mode: proto::Mode,
    status: Mutex<RunStatus>,
    figures: Mutex<RunFigures>,
    /// Bumped whenever the run list should be re-sent (status or stage change).
    changed: Arc<watch::Sender<u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RunMeta {
    pub(crate) fn new(
        run: &ServedRun,
        mode: proto::Mode,
        status: RunStatus,
        changed: Arc<watch::Sender<u64>>,
    ) -> RunMeta {
        RunMeta {
            id: run.id.clone(),
            name: run.name.clone(),
            pack: run.world.pack.clone(),
            seed: run.seed,
            overrides: run.overrides.clone(),
            mode,
            status: Mutex::new(status),
            figures: Mutex::default(),
            changed,
        }
    }

    pub(crate) fn status(&self) -> RunStatus {
        *lock(&self.status)
    }

    pub(crate) fn set_status(&self, status: RunStatus) {
        let was = std::mem::replace(&mut *lock(&self.status), status);
        if was != status {
            self.changed.send_modify(|v| *v += 1);
        }
    }

    /// A trained episode finished (live runs, or the run's database on start-up).
    pub(crate) fn add_episode(&self, episode_id: u64, survival: u32, stage: u32) {
        if lock(&self.figures).add(episode_id, survival, stage) {
            self.changed.send_modify(|v| *v += 1);
        }
    }

    /// The picker entry; `trained` is the hub's count of trained episodes (live runs).
    pub(crate) fn info(&self, trained: u64) -> RunInfo {
        let f = lock(&self.figures);
        RunInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            pack: self.pack.clone(),
            seed: self.seed,
            overrides: self.overrides.clone(),
            status: self.status(),
            mode: self.mode,
            episodes: f.episodes.max(trained),
            best_survival: f.best_survival,
            mean_survival_100: f.mean_100(),
            curriculum_stage: f.stage.max(1),
            sparkline: f.sparkline.points(),
        }
    }
}

enum Slot {
    /// Added, not yet served (the server starts it).
    Pending(Box<ServedRun>),
    Served(Arc<Hub>),
    /// Taken by the server, being started.
    Starting,
}

struct Entry {
    meta: Arc<RunMeta>,
    slot: Slot,
}

type MetricsFn = Arc<dyn Fn() -> String + Send + Sync>;

struct Inner {
    lab_title: Option<String>,
    metrics: Mutex<Vec<MetricsFn>>,
    entries: Mutex<Vec<Entry>>,
    /// Wakes the server when a run was added.
    added: Notify,
    /// Bumped when the list to show changed (a run served, finished, changed stage).
    changed: Arc<watch::Sender<u64>>,
}

/// The runs a server serves, in display order; a cloneable handle. Runs can be added
/// while serving (`--runs-root` discovery). A live run becomes `finished` when its
/// live channel closes (all senders dropped), or by [`Runs::finish`].
#[derive(Clone)]
pub struct Runs {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runs")
            .field("lab_title", &self.inner.lab_title)
            .field("ids", &self.ids())
            .finish()
    }
}

impl Runs {
    pub fn new(lab_title: Option<String>) -> Runs {
        Runs {
            inner: Arc::new(Inner {
                lab_title,
                metrics: Mutex::default(),
                entries: Mutex::default(),
                added: Notify::new(),
                changed: Arc::new(watch::Sender::new(0)),
            }),
        }
    }

    /// Adds a run at the end of the list. A duplicate or malformed id is an error.
    pub fn add(&self, run: ServedRun) -> Result<(), ServerError> {
        self.insert(None, run)
    }

    /// Adds a run at the front of the list (newest first).
    pub fn add_first(&self, run: ServedRun) -> Result<(), ServerError> {
        self.insert(Some(0), run)
    }

    fn insert(&self, at: Option<usize>, run: ServedRun) -> Result<(), ServerError> {
        if !valid_run_id(&run.id) {
            return Err(ServerError::RunId(run.id));
        }
        let mut entries = lock(&self.inner.entries);
        if entries.iter().any(|e| e.meta.id == run.id) {
            return Err(ServerError::DuplicateRun(run.id));
        }
        let (mode, status) = match run.mode {
            Mode::Live(_) => (proto::Mode::Live, RunStatus::Live),
            Mode::Checkpoint(_) => (proto::Mode::Checkpoint, RunStatus::Recorded),
            Mode::Recorded => (proto::Mode::Live, RunStatus::Recorded),
        };
        let meta = Arc::new(RunMeta::new(
            &run,
            mode,
            status,
            Arc::clone(&self.inner.changed),
        ));
        let entry = Entry {
            meta,
            slot: Slot::Pending(Box::new(run)),
        };
        match at {
            Some(i) => {
                let at = i.min(entries.len());
                entries.insert(at, entry);
            }
            None => entries.push(entry),
        }
        drop(entries);
        self.inner.added.notify_one();
        Ok(())
    }

    /// Marks a run finished (its trainer stopped).
    pub fn finish(&self, id: &str) {
        self.set_status(id, RunStatus::Finished);
    }

    /// Sets a run's status (a run from a message bus turns `stale` when its trainer's
    /// heartbeat stops, `live` again when it comes back); the run list is re-sent.
    pub fn set_status(&self, id: &str, status: RunStatus) {
        if let Some(meta) = self.meta(id) {
            meta.set_status(status);
        }
    }

    /// A run's status (None for an unknown id).
    pub fn status(&self, id: &str) -> Option<RunStatus> {
        self.meta(id).map(|m| m.status())
    }

    /// Adds Prometheus text to the server's `/metrics` (e.g. a message-bus subscriber's
    /// counters); called on every scrape.
    pub fn add_metrics(&self, metrics: impl Fn() -> String + Send + Sync + 'static) {
        lock(&self.inner.metrics).push(Arc::new(metrics));
    }

    /// The added metrics' text.
    pub(crate) fn extra_metrics(&self) -> String {
        let added: Vec<MetricsFn> = lock(&self.inner.metrics).clone();
        added.iter().map(|f| f()).collect()
    }

    /// Every run's id, in display order (served or not yet).
    pub fn ids(&self) -> Vec<String> {
        lock(&self.inner.entries)
            .iter()
            .map(|e| e.meta.id.clone())
            .collect()
    }

    pub fn lab_title(&self) -> Option<&str> {
        self.inner.lab_title.as_deref()
    }

    /// The picker entries of the served runs, in display order.
    pub fn infos(&self) -> Vec<RunInfo> {
        self.served()
            .iter()
            .map(|hub| hub.run.info(hub.live_trained()))
            .collect()
    }

    fn meta(&self, id: &str) -> Option<Arc<RunMeta>> {
        lock(&self.inner.entries)
            .iter()
            .find(|e| e.meta.id == id)
            .map(|e| Arc::clone(&e.meta))
    }

    /// The served runs' hubs, in display order.
    pub(crate) fn served(&self) -> Vec<Arc<Hub>> {
        lock(&self.inner.entries)
            .iter()
            .filter_map(|e| match &e.slot {
                Slot::Served(hub) => Some(Arc::clone(hub)),
                _ => None,
            })
            .collect()
    }

    /// The hub of a served run.
    pub(crate) fn hub(&self, id: &str) -> Option<Arc<Hub>> {
        lock(&self.inner.entries)
            .iter()
            .find(|e| e.meta.id == id)
            .and_then(|e| match &e.slot {
                Slot::Served(hub) => Some(Arc::clone(hub)),
                _ => None,
            })
    }

    pub(crate) fn first(&self) -> Option<Arc<Hub>> {
        self.served().into_iter().next()
    }

    /// Runs added and not yet served, with their meta; they are marked as starting.
    pub(crate) fn take_pending(&self) -> Vec<(Arc<RunMeta>, ServedRun)> {
        let mut out = Vec::new();
        for e in lock(&self.inner.entries).iter_mut() {
            if matches!(e.slot, Slot::Pending(_))
                && let Slot::Pending(run) = std::mem::replace(&mut e.slot, Slot::Starting)
            {
                out.push((Arc::clone(&e.meta), *run));
            }
        }
        out
    }

    /// A started run's hub takes its place in the list.
    pub(crate) fn set_served(&self, id: &str, hub: Arc<Hub>) {
        if let Some(e) = lock(&self.inner.entries)
            .iter_mut()
            .find(|e| e.meta.id == id)
        {
            e.slot = Slot::Served(hub);
        }
        self.inner.changed.send_modify(|v| *v += 1);
    }

    /// Resolves when a run is added.
    pub(crate) async fn added(&self) {
        self.inner.added.notified().await;
    }

    /// Bumped whenever the run list to show changed.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// The `runs` message.
    pub(crate) fn message(&self) -> proto::ServerMessage {
        proto::ServerMessage::Runs(proto::RunsMessage {
            runs: self.infos(),
            lab_title: self.inner.lab_title.clone(),
        })
    }

    pub(crate) fn any_live(&self) -> bool {
        lock(&self.inner.entries)
            .iter()
            .any(|e| e.meta.status() == RunStatus::Live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_keeps_at_most_50_points_over_the_whole_run() {
        let mut s = Sparkline::default();
        for i in 0..1000u32 {
            s.push(f64::from(i));
            assert!(s.points().len() <= SPARKLINE_POINTS);
        }
        let points = s.points();
        assert!(points.len() > SPARKLINE_POINTS / 2);
        // Oldest first: the means grow like the values.
        assert!(points.windows(2).all(|w| w[0] < w[1]));
        assert!(points[0] < 20.0);
    }

    #[test]
    fn figures_track_best_mean_and_stage_changes() {
        let mut f = RunFigures::default();
        assert!(!f.add(0, 10, 1));
        for id in 1..150u64 {
            assert!(!f.add(id, 20, 1));
        }
        assert_eq!(f.best_survival, Some(20));
        assert_eq!(f.mean_100(), Some(20.0));
        assert!(f.add(150, 30, 2));
        assert_eq!(f.episodes, 151);
        assert_eq!(f.best_survival, Some(30));
    }

    #[test]
    fn run_ids() {
        assert!(valid_run_id("with-curiosity"));
        assert!(valid_run_id("L1_full_observability~2026-12-05_071500"));
        assert!(!valid_run_id(""));
        assert!(!valid_run_id("a b"));
        assert!(!valid_run_id("a/b"));
        assert!(!valid_run_id(&"x".repeat(65)));
    }
}
