//! State shared by the sources, the sessions and the HTTP routes: the ring of recent
//! episodes (docs/decisions.md#next-order-and-history), the chart history, the clients
//! and the counters.

use crate::convert;
use crate::live::LiveCounters;
use crate::options::ServerOptions;
use crate::queue::{Kind, OutQueue};
use crate::runs::RunMeta;
use crate::world::WorldInfo;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;
use tokio::sync::watch;
use townlet_protocol::{self as proto, Filter, Order, ServerMessage, Source, to_json, unix_ms_now};
use townlet_recording::LiveEpisode;

/// One episode in the ring, with its `episode` JSON made at most once and shared.
#[derive(Debug)]
pub(crate) struct Entry {
    pub episode: Arc<LiveEpisode>,
    pub source: Source,
    pub checkpoint_episode: Option<u64>,
    /// Checkpoint mode: generated with ε = 0.
    pub greedy: bool,
    json: OnceLock<Arc<str>>,
}

impl Entry {
    pub(crate) fn new(
        episode: Arc<LiveEpisode>,
        source: Source,
        checkpoint_episode: Option<u64>,
        greedy: bool,
    ) -> Entry {
        Entry {
            episode,
            source,
            checkpoint_episode,
            greedy,
            json: OnceLock::new(),
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.episode.episode_id
    }

    /// The `episode` message of run `run_id` (the run whose ring holds it), serialized on
    /// first use and shared by every client after.
    pub(crate) fn json(&self, run_id: &str) -> Arc<str> {
        Arc::clone(self.json.get_or_init(|| {
            Arc::from(to_json(&convert::episode(
                run_id,
                &self.episode,
                self.source,
                self.checkpoint_episode,
                unix_ms_now(),
            )))
        }))
    }
}

#[derive(Debug, Default)]
struct Ring {
    entries: VecDeque<Arc<Entry>>,
    history: VecDeque<proto::HistoryPoint>,
}

/// What every run's hub shares: the options, the shutdown signal and the clients.
#[derive(Debug)]
pub(crate) struct Common {
    pub opts: ServerOptions,
    pub shutdown: watch::Receiver<bool>,
    pub started: Instant,
    clients: AtomicU64,
    next_client: AtomicU64,
    pub clients_total: AtomicU64,
    pub clients_refused: AtomicU64,
    pub clients_timed_out: AtomicU64,
    /// Every run's probe networks and the probe thread.
    pub probes: Arc<crate::probe::Probes>,
    pub teacher: crate::teacher::Teacher,
}

impl Common {
    pub(crate) fn new(opts: ServerOptions, shutdown: watch::Receiver<bool>) -> Common {
        Common {
            shutdown,
            started: Instant::now(),
            clients: AtomicU64::new(0),
            next_client: AtomicU64::new(0),
            clients_total: AtomicU64::new(0),
            clients_refused: AtomicU64::new(0),
            clients_timed_out: AtomicU64::new(0),
            probes: Arc::default(),
            teacher: crate::teacher::Teacher::new(opts.teacher_token.clone()),
            opts,
        }
    }

    /// Connected WebSocket clients of the whole server.
    pub(crate) fn client_count(&self) -> usize {
        self.clients.load(Ordering::Acquire) as usize
    }

    /// A new client's id and handle, unless the server is full.
    pub(crate) fn register(&self) -> Option<(u64, Arc<ClientHandle>)> {
        let max = self.opts.max_clients as u64;
        self.clients
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        self.clients_total.fetch_add(1, Ordering::Relaxed);
        let id = self.next_client.fetch_add(1, Ordering::Relaxed);
        let handle = Arc::new(ClientHandle {
            queue: OutQueue::new(self.opts.client_queue),
            greeted: std::sync::atomic::AtomicBool::new(false),
        });
        Some((id, handle))
    }

    pub(crate) fn unregister(&self) {
        self.clients.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counters of one run's hub (for `/metrics` and `/api/status`).
#[derive(Debug, Default)]
pub(crate) struct ServerCounters {
    pub episodes_streamed: AtomicU64,
    pub steps_streamed: AtomicU64,
    pub episodes_sent: AtomicU64,
    pub summaries_sent: AtomicU64,
    pub skipped: AtomicU64,
    pub bad_requests: AtomicU64,
    pub checkpoint_errors: AtomicU64,
    pub models_loaded: AtomicU64,
}

pub(crate) struct ClientHandle {
    pub queue: OutQueue,
    /// Set once `hello` and the greeting are queued: broadcasts skip the client until then,
    /// so `hello` is always its first message.
    pub greeted: std::sync::atomic::AtomicBool,
}

/// How checkpoint mode is asked for a fresh episode.
pub(crate) trait Generate: Send + Sync {
    fn request(&self, greedy: bool);
}

/// One run being served: its ring of recent episodes, history, model and watchers.
pub(crate) struct Hub {
    pub run: Arc<RunMeta>,
    pub common: Arc<Common>,
    pub mode: proto::Mode,
    pub world: WorldInfo,
    pub run_dir: Option<PathBuf>,
    pub started: Instant,
    /// Checkpoint mode: `--greedy` (every viewer starts greedy).
    pub default_greedy: bool,
    pub live: Option<(Arc<LiveCounters>, flume::Receiver<Arc<LiveEpisode>>)>,
    pub counters: ServerCounters,
    ring: RwLock<Ring>,
    /// The clients watching this run.
    clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    /// Id of the newest episode + 1 (0 = none yet); sessions waiting for `next` watch it.
    pub version: watch::Sender<u64>,
    pub generator: OnceLock<Box<dyn Generate>>,
    /// Checkpoint mode: the model in use, as sent in `model_loaded`.
    pub model: RwLock<Option<(proto::ModelLoaded, Arc<str>)>>,
    /// f64 bits of the last measured steps/s.
    steps_rate: AtomicU64,
    /// Samples for the steps/s rate.
    pub rate: Mutex<crate::server::RateWindow>,
    /// A live run's link to its trainer (`training_control`), when it has one.
    pub control: OnceLock<crate::teacher::ControlSink>,
    /// The run's training events (chart markers).
    pub events: crate::teacher::Events,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}
fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// Best/worst thresholds over the last 100 episodes (extrinsic reward,
/// docs/decisions.md#rankings-use-extrinsic-reward).
fn rank_thresholds(entries: &VecDeque<Arc<Entry>>) -> Option<(f32, f32)> {
    let mut recent: Vec<f32> = entries
        .iter()
        .rev()
        .take(100)
        .map(|e| e.episode.metadata.extrinsic_reward)
        .filter(|r| r.is_finite())
        .collect();
    if recent.is_empty() {
        return None;
    }
    recent.sort_by(f32::total_cmp);
    let k = (recent.len() / 10).max(1);
    Some((recent[recent.len() - k], recent[k - 1]))
}

fn matches(
    entries: &VecDeque<Arc<Entry>>,
    i: usize,
    filter: Filter,
    ranks: Option<(f32, f32)>,
) -> bool {
    let e = &entries[i];
    let m = &e.episode.metadata;
    match filter {
        Filter::All => true,
        Filter::Failures => m.end_reason == townlet_recording::EndReason::Died,
        Filter::EveryNth { n } => n > 0 && e.id().is_multiple_of(u64::from(n)),
        Filter::StageChanges => {
            // Episode i is one of the 3 before a change at j (stage[j] != stage[j-1]) when
            // j - 3 <= i <= j - 1, and one of the 3 after it when j <= i <= j + 2.
            let lo = i.saturating_sub(2).max(1);
            let hi = (i + 3).min(entries.len().saturating_sub(1));
            (lo..=hi).any(|j| {
                entries[j].episode.metadata.curriculum_stage
                    != entries[j - 1].episode.metadata.curriculum_stage
            })
        }
        Filter::Best => ranks.is_some_and(|(best, _)| m.extrinsic_reward >= best),
        Filter::Worst => ranks.is_some_and(|(_, worst)| m.extrinsic_reward <= worst),
    }
}

impl Hub {
    pub(crate) fn new(
        run: Arc<RunMeta>,
        common: Arc<Common>,
        world: WorldInfo,
        run_dir: Option<PathBuf>,
        default_greedy: bool,
        live: Option<(Arc<LiveCounters>, flume::Receiver<Arc<LiveEpisode>>)>,
    ) -> Hub {
        Hub {
            mode: run.mode,
            run,
            common,
            world,
            run_dir,
            started: Instant::now(),
            default_greedy,
            live,
            counters: ServerCounters::default(),
            ring: RwLock::default(),
            clients: Mutex::default(),
            version: watch::Sender::new(0),
            generator: OnceLock::new(),
            model: RwLock::new(None),
            steps_rate: AtomicU64::new(0f64.to_bits()),
            rate: Mutex::new(crate::server::RateWindow::new(
                crate::server::STEPS_RATE_WINDOW,
            )),
            control: OnceLock::new(),
            events: Default::default(),
        }
    }

    /// The run's id (`run_id` of its messages).
    pub(crate) fn id(&self) -> &str {
        &self.run.id
    }

    /// Episodes trained by a live run's trainer (0 for other runs).
    pub(crate) fn live_trained(&self) -> u64 {
        if self.live.is_some() {
            self.trained().0
        } else {
            0
        }
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ClientHandle>>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Clients watching this run.
    pub(crate) fn client_count(&self) -> usize {
        self.clients().len()
    }

    /// A client starts watching this run (it counts as a viewer of a live run).
    pub(crate) fn attach(&self, id: u64, handle: &Arc<ClientHandle>) {
        self.clients().insert(id, Arc::clone(handle));
        if let Some((live, _)) = &self.live {
            live.viewers.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The client stops watching this run.
    pub(crate) fn detach(&self, id: u64) {
        if self.clients().remove(&id).is_some()
            && let Some((live, _)) = &self.live
        {
            live.viewers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn all_clients(&self) -> Vec<Arc<ClientHandle>> {
        self.clients().values().cloned().collect()
    }

    /// Sends one frame to every client (never waits on any of them).
    pub(crate) fn broadcast(&self, json: &Arc<str>, kind: Kind) {
        let mut skipped = 0;
        for c in self.all_clients() {
            if !c.greeted.load(Ordering::Acquire) {
                continue;
            }
            skipped += c.queue.push(Arc::clone(json), kind);
        }
        if skipped > 0 {
            self.counters.skipped.fetch_add(skipped, Ordering::Relaxed);
        }
    }

    /// A training event from the trainer: kept, and sent to every viewer of the run.
    pub(crate) fn add_event(&self, event: proto::TrainingEventInfo) {
        self.events.push(event.clone());
        let msg = ServerMessage::TrainingEvents(proto::TrainingEvents {
            run_id: self.id().to_owned(),
            events: vec![event],
            full: false,
        });
        self.broadcast(&Arc::from(townlet_protocol::to_json(&msg)), Kind::Other);
    }

    /// Every client gets a close frame (shutdown).
    pub(crate) fn close_all(&self, code: u16, reason: &'static str) {
        for c in self.all_clients() {
            c.queue.close(code, reason);
        }
    }

    /// A new episode from the source: into the ring and the history, summary to everyone,
    /// waiting sessions woken.
    pub(crate) fn ingest(&self, entry: Entry) {
        let entry = Arc::new(entry);
        if entry.source == Source::Training {
            let m = &entry.episode.metadata;
            self.run
                .add_episode(entry.id(), m.survival_steps, m.curriculum_stage);
        }
        let summary: Arc<str> = Arc::from(to_json(&convert::summary(
            &self.run.id,
            &entry.episode,
            entry.source,
            entry.checkpoint_episode,
            unix_ms_now(),
        )));
        {
            let mut ring = write(&self.ring);
            ring.entries.push_back(Arc::clone(&entry));
            while ring.entries.len() > proto::RING_SIZE as usize {
                ring.entries.pop_front();
            }
            ring.history
                .push_back(convert::history_point(entry.id(), &entry.episode.metadata));
            while ring.history.len() > proto::HISTORY_LEN as usize {
                ring.history.pop_front();
            }
        }
        self.counters
            .episodes_streamed
            .fetch_add(1, Ordering::Relaxed);
        self.counters
            .steps_streamed
            .fetch_add(entry.episode.len() as u64, Ordering::Relaxed);
        let clients: Vec<_> = self
            .all_clients()
            .into_iter()
            .filter(|c| c.greeted.load(Ordering::Acquire))
            .collect();
        self.counters
            .summaries_sent
            .fetch_add(clients.len() as u64, Ordering::Relaxed);
        let mut skipped = 0;
        for c in clients {
            skipped += c.queue.push(Arc::clone(&summary), Kind::Summary);
        }
        if skipped > 0 {
            self.counters.skipped.fetch_add(skipped, Ordering::Relaxed);
        }
        self.version.send_replace(entry.id() + 1);
    }

    /// Chart history from the run's database (a resumed run starts with full charts).
    pub(crate) fn preload_history(&self, points: Vec<proto::HistoryPoint>) {
        let mut ring = write(&self.ring);
        let mut merged: VecDeque<proto::HistoryPoint> = points.into();
        merged.extend(ring.history.drain(..));
        while merged.len() > proto::HISTORY_LEN as usize {
            merged.pop_front();
        }
        ring.history = merged;
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<Entry>> {
        read(&self.ring)
            .entries
            .iter()
            .find(|e| e.id() == id)
            .cloned()
    }

    pub(crate) fn latest(&self) -> Option<Arc<Entry>> {
        read(&self.ring).entries.back().cloned()
    }

    /// The episode `next {after, order}` picks for a session
    /// (docs/decisions.md#next-order-and-history), and how many matching episodes it
    /// skipped over. `greedy` restricts checkpoint-mode episodes to that policy.
    pub(crate) fn pick(
        &self,
        after: Option<u64>,
        order: Order,
        filter: Filter,
        greedy: Option<bool>,
    ) -> (Option<Arc<Entry>>, u64) {
        let ring = read(&self.ring);
        let entries = &ring.entries;
        let ranks = match filter {
            Filter::Best | Filter::Worst => rank_thresholds(entries),
            _ => None,
        };
        let candidates = (0..entries.len()).filter(|&i| {
            let e = &entries[i];
            after.is_none_or(|a| e.id() > a)
                && greedy.is_none_or(|g| e.greedy == g)
                && matches(entries, i, filter, ranks)
        });
        match order {
            Order::Sequential => (
                candidates
                    .min_by_key(|&i| entries[i].id())
                    .map(|i| Arc::clone(&entries[i])),
                0,
            ),
            Order::Latest => {
                let all: Vec<usize> = candidates.collect();
                let skipped = if after.is_some() {
                    all.len().saturating_sub(1) as u64
                } else {
                    0
                };
                (all.last().map(|&i| Arc::clone(&entries[i])), skipped)
            }
        }
    }

    pub(crate) fn steps_rate(&self) -> f64 {
        f64::from_bits(self.steps_rate.load(Ordering::Relaxed))
    }

    pub(crate) fn set_steps_rate(&self, rate: f64) {
        self.steps_rate.store(rate.to_bits(), Ordering::Relaxed);
    }

    /// Episodes / steps trained (live) or played (checkpoint).
    pub(crate) fn trained(&self) -> (u64, u64) {
        let last = self.latest().map_or(0, |e| e.id() + 1);
        match &self.live {
            Some((c, _)) => (c.episodes_finished().max(last), c.steps()),
            None => (
                self.counters.episodes_streamed.load(Ordering::Relaxed),
                self.counters.steps_streamed.load(Ordering::Relaxed),
            ),
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.live.as_ref().map_or(0, |(c, _)| c.dropped())
    }

    pub(crate) fn queue_len(&self) -> u32 {
        self.live.as_ref().map_or(0, |(_, rx)| rx.len() as u32)
    }

    pub(crate) fn totals(&self) -> proto::Totals {
        let (episodes_trained, steps_trained) = self.trained();
        proto::Totals {
            episodes_trained,
            steps_trained,
            episodes_streamed: self.counters.episodes_streamed.load(Ordering::Relaxed),
            dropped: self.dropped(),
        }
    }

    pub(crate) fn history(&self) -> Vec<proto::HistoryPoint> {
        read(&self.ring).history.iter().cloned().collect()
    }

    /// A `stats` message for one client.
    pub(crate) fn stats(&self, skipped: u64, with_history: bool) -> ServerMessage {
        let (episodes_trained, steps_trained) = self.trained();
        let latest = self.latest();
        let m = latest.as_ref().map(|e| &e.episode.metadata);
        ServerMessage::Stats(proto::Stats {
            run_id: self.run.id.clone(),
            episodes_trained,
            steps_trained,
            steps_per_second: self.steps_rate(),
            epsilon: m.map_or(0.0, |m| m.epsilon),
            intrinsic_weight: m.map_or(0.0, |m| m.intrinsic_weight),
            curriculum_stage: m.map_or(1, |m| m.curriculum_stage),
            depletion_multiplier: m.map_or(0.0, |m| m.depletion_multiplier),
            queue_len: self.queue_len(),
            dropped: self.dropped(),
            skipped,
            last_loss: m.and_then(|m| m.loss_mean),
            clients: self.common.client_count() as u32,
            uptime_s: self.started.elapsed().as_secs(),
            history: with_history.then(|| self.history()),
            sent_at: unix_ms_now(),
        })
    }

    /// Pushes a `stats` to every client (each with its own `skipped`).
    pub(crate) fn push_stats(&self) {
        for c in self.all_clients() {
            if !c.greeted.load(Ordering::Acquire) {
                continue;
            }
            let json: Arc<str> = Arc::from(to_json(&self.stats(c.queue.skipped(), false)));
            c.queue.push(json, Kind::Other);
        }
    }

    pub(crate) fn set_model(&self, model: proto::ModelLoaded) {
        let json: Arc<str> = Arc::from(to_json(&ServerMessage::ModelLoaded(model.clone())));
        *write(&self.model) = Some((model, Arc::clone(&json)));
        self.counters.models_loaded.fetch_add(1, Ordering::Relaxed);
        self.broadcast(&json, Kind::Other);
    }

    pub(crate) fn model_json(&self) -> Option<Arc<str>> {
        read(&self.model).as_ref().map(|(_, j)| Arc::clone(j))
    }

    pub(crate) fn model(&self) -> Option<proto::ModelLoaded> {
        read(&self.model).as_ref().map(|(m, _)| m.clone())
    }

    /// Checkpoint mode: ask for a fresh episode (coalesced by the generator).
    pub(crate) fn request_episode(&self, greedy: bool) {
        if let Some(g) = self.generator.get() {
            g.request(greedy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use townlet_recording::{EndReason, EpisodeMetadata};

    fn entry(id: u64, stage: u32, reward: f32, died: bool) -> Entry {
        Entry::new(
            Arc::new(LiveEpisode {
                episode_id: id,
                agent_id: 0,
                metadata: EpisodeMetadata {
                    curriculum_stage: stage,
                    extrinsic_reward: reward,
                    end_reason: if died {
                        EndReason::Died
                    } else {
                        EndReason::Truncated
                    },
                    ..Default::default()
                },
                layout: vec![],
                start: Default::default(),
                steps: Default::default(),
                finished_at: 0,
            }),
            Source::Training,
            None,
            false,
        )
    }

    fn hub() -> Hub {
        let (_tx, rx) = watch::channel(false);
        let world = WorldInfo {
            pack: "t".into(),
            grid: proto::GridSize {
                width: 1,
                height: 1,
            },
            meters: vec![],
            actions: vec![],
            affordances: vec![],
            cascades: vec![],
            temporal: false,
            max_steps_per_episode: 1,
            max_episodes: None,
            probe_env: None,
        };
        let run = crate::runs::ServedRun {
            id: "main".into(),
            name: "main".into(),
            seed: 0,
            overrides: Default::default(),
            mode: crate::server::Mode::Recorded,
            world: world.clone(),
            run_dir: None,
        };
        let meta = RunMeta::new(
            &run,
            proto::Mode::Live,
            proto::RunStatus::Live,
            Arc::new(watch::Sender::new(0)),
        );
        Hub::new(
            Arc::new(meta),
            Arc::new(Common::new(ServerOptions::default(), rx)),
            world,
            None,
            false,
            None,
        )
    }

    fn ids(h: &Hub, after: Option<u64>, order: Order, f: Filter) -> Option<u64> {
        h.pick(after, order, f, None).0.map(|e| e.id())
    }

    #[test]
    fn filters_pick_as_documented() {
        let h = hub();
        // Stage changes between 9 and 10.
        for id in 0..20u64 {
            let stage = if id < 10 { 1 } else { 2 };
            h.ingest(entry(id, stage, id as f32, id % 4 == 0));
        }
        assert_eq!(ids(&h, None, Order::Latest, Filter::All), Some(19));
        assert_eq!(ids(&h, Some(3), Order::Sequential, Filter::All), Some(4));
        assert_eq!(ids(&h, None, Order::Latest, Filter::Failures), Some(16));
        assert_eq!(ids(&h, Some(16), Order::Latest, Filter::Failures), None);
        assert_eq!(
            ids(&h, None, Order::Sequential, Filter::StageChanges),
            Some(7)
        );
        assert_eq!(ids(&h, None, Order::Latest, Filter::StageChanges), Some(12));
        assert_eq!(
            ids(&h, None, Order::Latest, Filter::EveryNth { n: 7 }),
            Some(14)
        );
        assert_eq!(ids(&h, None, Order::Latest, Filter::Best), Some(19));
        assert_eq!(ids(&h, None, Order::Latest, Filter::Worst), Some(1));
        assert_eq!(ids(&h, Some(0), Order::Sequential, Filter::Worst), Some(1));
        assert_eq!(ids(&h, Some(1), Order::Sequential, Filter::Worst), None);
        let (_, skipped) = h.pick(Some(10), Order::Latest, Filter::All, None);
        assert_eq!(skipped, 8);
    }

    #[test]
    fn ring_keeps_the_last_200() {
        let h = hub();
        for id in 0..250u64 {
            h.ingest(entry(id, 1, 0.0, false));
        }
        assert!(h.get(49).is_none());
        assert!(h.get(50).is_some());
        assert_eq!(h.history().len(), 250);
        assert_eq!(*h.version.borrow(), 250);
    }
}
