//! The subscriber (`townlet-inference --subscribe`): watches the bucket of run
//! descriptors and serves every run found there (and runs that appear later) through the
//! viewer server's [`Runs`] registry, exactly like a local live run: each run's chart
//! history and figures start from its summaries on the stream, its episode ring from the
//! stream's episodes, then the run follows live. A run whose heartbeat stops turns
//! `stale`; malformed or foreign messages are counted and ignored.

use crate::error::NatsError;
use crate::layout::{
    BusRunStatus, BusSummary, Layout, RunDescriptor, decode_episode, episode_subject,
    summary_subject, unix_ms, valid_bus_run_id,
};
use crate::publish::NatsOptions;
use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use async_nats::jetstream::kv::Operation;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use townlet_inference::{LiveCounters, LiveSource, Mode, Runs, ServedRun};
use townlet_protocol::RunStatus;
use townlet_recording::{EpisodeMetadata, LiveEpisode};

/// A run is stale after this many heartbeat periods without a descriptor put.
pub const STALE_HEARTBEATS: u32 = 3;
/// Episodes queued from a run's consumer to its hub (the subscriber waits when full:
/// nothing is dropped on the viewer side).
const RUN_QUEUE: usize = 16;
/// How long reading a run's history may wait for the next message.
const HISTORY_WAIT: Duration = Duration::from_secs(5);

/// The subscriber's counters (relaxed atomics), in the viewer server's `/metrics`.
#[derive(Debug, Default)]
pub struct SubscribeCounters {
    /// Runs found in the bucket.
    pub runs: AtomicU64,
    /// Summaries read (history).
    pub summaries: AtomicU64,
    /// Episodes read from the stream and handed to the runs' hubs.
    pub episodes: AtomicU64,
    /// Messages and descriptors that could not be read (garbage, foreign, wrong run):
    /// counted and ignored.
    pub malformed: AtomicU64,
    /// Runs whose heartbeat stopped (right now).
    pub stale: AtomicU64,
    /// `finished_at` → read here of the last episode read, ms (clocks of two machines).
    pub last_delay_ms: AtomicU64,
    /// Episodes the runs' trainers could not publish, as their last heartbeats say.
    pub trainers_unpublished: AtomicU64,
}

impl SubscribeCounters {
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// Prometheus text (`townlet_bus_*`).
    pub fn metrics_text(&self) -> String {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        crate::prometheus(&[
            ("bus_runs", "gauge", "Runs found on the bus.", l(&self.runs)),
            (
                "bus_runs_stale",
                "gauge",
                "Runs whose trainer stopped sending heartbeats.",
                l(&self.stale),
            ),
            (
                "bus_summaries_read_total",
                "counter",
                "Episode summaries read from the bus (history).",
                l(&self.summaries),
            ),
            (
                "bus_episodes_received_total",
                "counter",
                "Episodes read from the bus.",
                l(&self.episodes),
            ),
            (
                "bus_last_episode_delay_ms",
                "gauge",
                "From the trainer finishing the last episode read to its arrival here (ms).",
                l(&self.last_delay_ms),
            ),
            (
                "bus_trainers_unpublished_total",
                "counter",
                "Episodes the runs' trainers could not publish (from their heartbeats).",
                l(&self.trainers_unpublished),
            ),
            (
                "bus_malformed_total",
                "counter",
                "Messages or descriptors on the bus that could not be read (ignored).",
                l(&self.malformed),
            ),
        ])
    }
}

/// What the subscriber knows of a run.
struct Known {
    last_seen: Instant,
    stale_after: Duration,
    status: BusRunStatus,
    /// Added to the registry (its history read).
    served: bool,
    stale: bool,
    /// The trainer's count of episodes not published.
    unpublished: u64,
}

type KnownRuns = Arc<Mutex<HashMap<String, Known>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running subscriber; its tasks stop when this is dropped.
#[derive(Debug)]
pub struct Subscription {
    counters: Arc<SubscribeCounters>,
    tasks: Vec<JoinHandle<()>>,
}

impl Subscription {
    pub fn counters(&self) -> &Arc<SubscribeCounters> {
        &self.counters
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts following the bus on the current tokio runtime, adding each run to `runs` (its
/// counters are added to the server's `/metrics`). Returns once the address and
/// credentials are checked; the server may still be down (the client keeps trying).
/// `stale_after`: a run with no heartbeat for this long is stale (None: three of its
/// heartbeat periods).
pub async fn subscribe(
    opts: &NatsOptions,
    runs: Runs,
    stale_after: Option<Duration>,
) -> Result<Subscription, NatsError> {
    // Bumped on every (re)connection: after a server restart the consumers are
    // opened again from where they were.
    let (reconnected, connections) = tokio::sync::watch::channel(0u64);
    let client = opts.connect("townlet-inference", Some(reconnected)).await?;
    let counters = Arc::new(SubscribeCounters::default());
    {
        let c = Arc::clone(&counters);
        runs.add_metrics(move || c.metrics_text());
    }
    let known: KnownRuns = Arc::default();
    let discover = tokio::spawn(discover(
        client,
        runs.clone(),
        Arc::clone(&known),
        Arc::clone(&counters),
        stale_after,
        connections,
    ));
    let watch = tokio::spawn(watch_heartbeats(runs, known, Arc::clone(&counters)));
    Ok(Subscription {
        counters,
        tasks: vec![discover, watch],
    })
}

/// Every second: runs whose heartbeat stopped turn stale, back to live when it resumes.
async fn watch_heartbeats(runs: Runs, known: KnownRuns, counters: Arc<SubscribeCounters>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let mut stale = 0;
        let mut unpublished = 0;
        for (id, k) in lock(&known).iter_mut() {
            unpublished += k.unpublished;
            if !k.served {
                continue;
            }
            let now_stale = k.status == BusRunStatus::Live && k.last_seen.elapsed() > k.stale_after;
            if now_stale != k.stale {
                k.stale = now_stale;
                if now_stale {
                    tracing::warn!(run = %id, "no heartbeat: the run is stale");
                    runs.set_status(id, RunStatus::Stale);
                } else {
                    runs.set_status(id, RunStatus::Live);
                }
            }
            stale += u64::from(k.stale);
        }
        counters.stale.store(stale, Ordering::Relaxed);
        counters
            .trainers_unpublished
            .store(unpublished, Ordering::Relaxed);
    }
}

async fn ensure_layout(client: &async_nats::Client) -> Layout {
    let mut warned = false;
    loop {
        match Layout::ensure(client).await {
            Ok(l) => return l,
            Err(e) => {
                if !warned {
                    tracing::warn!(
                        "NATS not ready, retrying every second: {}",
                        crate::error_chain(&e)
                    );
                    warned = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Watches the descriptors; starts following each new run.
async fn discover(
    client: async_nats::Client,
    runs: Runs,
    known: KnownRuns,
    counters: Arc<SubscribeCounters>,
    stale_after: Option<Duration>,
    mut connections: tokio::sync::watch::Receiver<u64>,
) {
    let mut followers: Vec<JoinHandle<()>> = Vec::new();
    let layout = ensure_layout(&client).await;
    tracing::info!("following the runs on NATS");
    loop {
        connections.mark_unchanged();
        let mut watch = match layout.runs.watch_with_history(">").await {
            Ok(w) => w,
            Err(e) => {
                tracing::debug!("watching the run descriptors: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            let entry = tokio::select! {
                e = watch.next() => e,
                // Reconnected (the server may have restarted): watch again.
                _ = connections.changed() => None,
            };
            let Some(Ok(entry)) = entry else { break };
            if entry.operation != Operation::Put {
                continue;
            }
            let desc: RunDescriptor = match serde_json::from_slice(&entry.value) {
                Ok(d) => d,
                Err(_) => {
                    counters.malformed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            if desc.run_id != entry.key || !valid_bus_run_id(&desc.run_id) {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let period = Duration::from_millis(desc.heartbeat_interval_ms.max(100));
            let after = stale_after.unwrap_or(period * STALE_HEARTBEATS);
            // How old the heartbeat is (a viewer started late sees a dead run as stale).
            let age = Duration::from_millis(unix_ms().saturating_sub(desc.heartbeat_ms));
            let seen = Instant::now()
                .checked_sub(age.min(after * 2))
                .unwrap_or_else(Instant::now);
            let is_new = {
                let mut k = lock(&known);
                match k.get_mut(&desc.run_id) {
                    Some(run) => {
                        run.last_seen = seen;
                        run.unpublished = desc.episodes_unpublished;
                        run.stale_after = after;
                        if run.status != desc.status && run.served {
                            runs.set_status(
                                &desc.run_id,
                                match desc.status {
                                    BusRunStatus::Live if !run.stale => RunStatus::Live,
                                    BusRunStatus::Live => RunStatus::Stale,
                                    BusRunStatus::Finished => RunStatus::Finished,
                                },
                            );
                        }
                        run.status = desc.status;
                        false
                    }
                    None => {
                        k.insert(
                            desc.run_id.clone(),
                            Known {
                                last_seen: seen,
                                stale_after: after,
                                status: desc.status,
                                served: false,
                                stale: false,
                                unpublished: desc.episodes_unpublished,
                            },
                        );
                        true
                    }
                }
            };
            if is_new {
                counters.runs.fetch_add(1, Ordering::Relaxed);
                tracing::info!(run = %desc.run_id, pack = %desc.world.pack, "run found on NATS");
                followers.push(tokio::spawn(follow(
                    layout.clone(),
                    desc,
                    runs.clone(),
                    Arc::clone(&known),
                    Arc::clone(&counters),
                    connections.clone(),
                )));
            }
        }
        // The watch ended (server restarted): watch again; known runs are kept.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The summaries of a run on the stream, oldest first.
async fn read_summaries(
    layout: &Layout,
    run_id: &str,
    counters: &SubscribeCounters,
) -> Vec<(u64, EpisodeMetadata)> {
    let mut out = Vec::new();
    let config = OrderedConfig {
        filter_subject: summary_subject(run_id),
        deliver_policy: DeliverPolicy::All,
        ..Default::default()
    };
    let Ok(mut consumer) = layout.summaries.create_consumer(config).await else {
        return out;
    };
    let pending = consumer.info().await.map_or(0, |i| i.num_pending);
    if pending == 0 {
        return out;
    }
    let Ok(mut messages) = consumer.messages().await else {
        return out;
    };
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(HISTORY_WAIT, messages.next()).await {
        match serde_json::from_slice::<BusSummary>(&msg.message.payload) {
            Ok(s) if s.run_id == run_id => {
                counters.summaries.fetch_add(1, Ordering::Relaxed);
                out.push((s.episode_id, s.metadata));
            }
            _ => {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
            }
        }
        if msg.info().map_or(true, |i| i.pending == 0) {
            break;
        }
    }
    out
}

/// An episode message's episode, or None (counted) when it is not one.
fn read_episode(
    msg: &async_nats::jetstream::Message,
    counters: &SubscribeCounters,
) -> Option<LiveEpisode> {
    match decode_episode(&msg.message.payload) {
        Ok(ep) => Some(ep),
        Err(_) => {
            counters.malformed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// Serves one run: its history, then its episodes as they come.
async fn follow(
    layout: Layout,
    desc: RunDescriptor,
    runs: Runs,
    known: KnownRuns,
    counters: Arc<SubscribeCounters>,
    mut connections: tokio::sync::watch::Receiver<u64>,
) {
    let run_id = desc.run_id.clone();
    let summaries = read_summaries(&layout, &run_id, &counters).await;
    // The episodes: the stream's last ones per run first (history), then live. The first
    // one tells which summaries are older than the episode ring.
    let mut next_seq = 0u64;
    let mut messages = None;
    let mut first = None;
    for _ in 0..3 {
        if let Some((m, pending)) = open_episodes(&layout, &run_id, next_seq).await {
            messages = Some(m);
            if pending > 0
                && let Some(m) = messages.as_mut()
                && let Ok(Some(Ok(msg))) = tokio::time::timeout(HISTORY_WAIT, m.next()).await
            {
                next_seq = msg.info().map_or(0, |i| i.stream_sequence + 1);
                first = read_episode(&msg, &counters);
            }
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let oldest = first.as_ref().map_or(u64::MAX, |e| e.episode_id);
    let mut history: Vec<(u64, EpisodeMetadata)> = summaries
        .into_iter()
        .filter(|(id, _)| *id < oldest)
        .collect();
    history.sort_by_key(|(id, _)| *id);
    history.dedup_by_key(|(id, _)| *id);

    let (tx, rx) = flume::bounded(RUN_QUEUE);
    let live = Arc::new(LiveCounters::default());
    // No network snapshots and no trainer to control travel over the bus: the snapshot
    // channel is closed from the start and there is no training link.
    let source = LiveSource {
        rx,
        snapshots: flume::bounded(1).1,
        counters: Arc::clone(&live),
        history: Vec::new(),
        training: None,
    }
    .with_history(history);
    let served = ServedRun {
        id: run_id.clone(),
        name: desc.name.clone(),
        seed: desc.seed,
        overrides: desc.overrides.clone(),
        mode: Mode::Live(source),
        world: desc.world.clone(),
        run_dir: None,
    };
    if let Err(e) = runs.add(served) {
        tracing::warn!(run = %run_id, "cannot serve the run: {e}");
        return;
    }
    {
        let mut k = lock(&known);
        if let Some(run) = k.get_mut(&run_id) {
            run.served = true;
            if run.status == BusRunStatus::Finished {
                runs.finish(&run_id);
            }
        }
    }
    let send = |ep: LiveEpisode| {
        let tx = tx.clone();
        let live = Arc::clone(&live);
        let counters = Arc::clone(&counters);
        async move {
            live.episodes_offered.fetch_add(1, Ordering::Relaxed);
            live.steps_offered
                .fetch_add(ep.len() as u64, Ordering::Relaxed);
            counters.episodes.fetch_add(1, Ordering::Relaxed);
            counters
                .last_delay_ms
                .store(unix_ms().saturating_sub(ep.finished_at), Ordering::Relaxed);
            tx.send_async(Arc::new(ep)).await.is_ok()
        }
    };
    if let Some(ep) = first
        && !send(ep).await
    {
        return;
    }
    connections.mark_unchanged();
    loop {
        let Some(m) = messages.as_mut() else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            messages = open_episodes(&layout, &run_id, next_seq.max(1))
                .await
                .map(|(m, _)| m);
            continue;
        };
        let next = tokio::select! {
            n = m.next() => n,
            // Reconnected: open the consumer again from the next sequence.
            _ = connections.changed() => None,
        };
        match next {
            Some(Ok(msg)) => {
                if let Ok(info) = msg.info() {
                    next_seq = info.stream_sequence + 1;
                }
                if let Some(ep) = read_episode(&msg, &counters)
                    && !send(ep).await
                {
                    return; // the server stopped serving
                }
            }
            Some(Err(e)) => tracing::debug!(run = %run_id, "episode stream: {e}"),
            None => messages = None,
        }
    }
}

type Ordered = async_nats::jetstream::consumer::pull::Ordered;

/// An ordered consumer of a run's episodes from stream sequence `from` (0: all kept);
/// with the number of messages waiting.
async fn open_episodes(layout: &Layout, run_id: &str, from: u64) -> Option<(Ordered, u64)> {
    let config = OrderedConfig {
        filter_subject: episode_subject(run_id),
        deliver_policy: if from == 0 {
            DeliverPolicy::All
        } else {
            DeliverPolicy::ByStartSequence {
                start_sequence: from,
            }
        },
        ..Default::default()
    };
    let mut consumer = layout.episodes.create_consumer(config).await.ok()?;
    let pending = consumer.info().await.map_or(0, |i| i.num_pending);
    let messages = consumer.messages().await.ok()?;
    Some((messages, pending))
}
