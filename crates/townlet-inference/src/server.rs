//! `serve_runs`: serves every run of a [`Runs`] — each run's source (live channel or
//! checkpoint worker) feeding its hub, one stats ticker, the `runs` updates, and the
//! HTTP/WebSocket server — until the shutdown future resolves, then sends every client a
//! close frame. `serve` is the one-run form.

use crate::checkpoint::{self, CheckpointSource, CheckpointWorker};
use crate::convert;
use crate::error::ServerError;
use crate::hub::{Common, Entry, Hub};
use crate::live::LiveSource;
use crate::options::ServerOptions;
use crate::queue::Kind;
use crate::runs::{RunMeta, Runs, ServedRun};
use crate::world::WorldInfo;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use townlet_protocol::{self as proto, RunStatus, Source, to_json};

/// Where a run's episodes come from.
// Built once per run; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Mode {
    /// A trainer in the same process (the unified server).
    Live(LiveSource),
    /// A saved model playing (standalone inference).
    Checkpoint(CheckpointSource),
    /// Nothing plays: the run's recordings replay and its history shows.
    Recorded,
}

/// The id of the one run [`serve`] serves.
pub const MAIN_RUN: &str = "main";

/// How often the run list is re-sent while a run is live (also sent at once on any
/// status or stage change).
const RUNS_REFRESH: Duration = Duration::from_secs(5);

/// Serves one run (id `main`) until `shutdown` resolves. `listener` comes from
/// [`crate::bind`]; `run_dir` (the run folder holding `metrics.db` and `recordings/`)
/// enables replay, `/api/episodes` and `/api/recordings`. On shutdown every WebSocket
/// client gets a close frame (1001) and the checkpoint thread is stopped before this
/// returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    mode: Mode,
    world: WorldInfo,
    run_dir: Option<PathBuf>,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let name = run_dir
        .as_deref()
        .and_then(|d| d.file_name())
        .map_or_else(|| world.pack.clone(), |n| n.to_string_lossy().into_owned());
    let (seed, overrides) = match &mode {
        Mode::Checkpoint(src) => (
            src.pack.training.seed,
            crate::standalone::overrides(&src.pack),
        ),
        _ => (0, Default::default()),
    };
    let runs = Runs::new(None);
    runs.add(ServedRun {
        id: MAIN_RUN.to_owned(),
        name,
        seed,
        overrides,
        mode,
        world,
        run_dir,
    })?;
    serve_runs(listener, runs, opts, shutdown).await
}

/// What the server runs for one run besides its hub.
struct RunTasks {
    tasks: Vec<JoinHandle<()>>,
    worker: Option<CheckpointWorker>,
}

/// Starts serving one run: its hub, its history, its source.
async fn start_run(
    common: &Arc<Common>,
    meta: Arc<RunMeta>,
    run: ServedRun,
) -> (Arc<Hub>, RunTasks) {
    // Probes: live runs get the trainer's snapshots, checkpoint runs the loaded model.
    // Replays of any run are probed with its checkpoint nearest to the episode.
    let probe_source = match run.mode {
        Mode::Live(_) => Source::Training,
        Mode::Checkpoint(_) => Source::Checkpoint,
        Mode::Recorded => Source::Replay,
    };
    let checkpoints = match &run.mode {
        Mode::Checkpoint(src) => Some(src.dir.clone()),
        _ => run.run_dir.as_ref().map(|d| d.join("checkpoints")),
    };
    if let Some(world) = &run.world.probe_env {
        common
            .probes
            .register(&meta.id, world, probe_source, checkpoints);
    }
    if let Mode::Live(src) = &run.mode {
        common.probes.attach_live(&meta.id, src.snapshots.clone());
    }
    let (live, ckpt, earlier, training) = match run.mode {
        Mode::Live(src) => (
            Some((src.counters.clone(), src.rx.clone())),
            None,
            src.history,
            src.training.clone(),
        ),
        Mode::Checkpoint(src) => (None, Some(src), Vec::new(), None),
        Mode::Recorded => (None, None, Vec::new(), None),
    };
    let greedy = ckpt.as_ref().is_some_and(|c| c.greedy);
    let hub = Arc::new(Hub::new(
        meta,
        Arc::clone(common),
        run.world,
        run.run_dir,
        greedy,
        live.clone(),
    ));
    // Run figures start from the run's database (every row), and the charts of a resumed
    // or recorded run from its newest rows (checkpoint mode charts its own episodes).
    let chart_rows = ckpt.is_none();
    if let Ok(rows) = crate::replay::episodes(hub.run_dir.as_deref(), usize::MAX >> 1).await {
        for r in &rows {
            hub.run.add_episode(
                r.episode_id,
                r.metadata.survival_steps,
                r.metadata.curriculum_stage,
            );
        }
        let skip = rows.len().saturating_sub(proto::HISTORY_LEN as usize);
        if chart_rows {
            hub.preload_history(
                rows[skip..]
                    .iter()
                    .map(|r| convert::history_point(r.episode_id, &r.metadata))
                    .collect(),
            );
        }
    }
    // A live source's own history (a run served from a message bus).
    if !earlier.is_empty() {
        for (id, m) in &earlier {
            hub.run
                .add_episode(*id, m.survival_steps, m.curriculum_stage);
        }
        let skip = earlier.len().saturating_sub(proto::HISTORY_LEN as usize);
        hub.preload_history(
            earlier[skip..]
                .iter()
                .map(|(id, m)| convert::history_point(*id, m))
                .collect(),
        );
    }
    hub.events
        .replace(crate::teacher::stored_events(hub.run_dir.clone()).await);
    let mut tasks = Vec::new();
    if let Some(link) = training {
        let _ = hub.control.set(link.control);
        let hub = Arc::clone(&hub);
        let mut stop = common.shutdown.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    received = link.events.recv_async() => match received {
                        Ok(event) => hub.add_event(event),
                        Err(_) => break,
                    },
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    if let Some((_, rx)) = live {
        let hub = Arc::clone(&hub);
        let mut stop = common.shutdown.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    received = rx.recv_async() => match received {
                        Ok(ep) => hub.ingest(Entry::new(ep, Source::Training, None, false)),
                        // The trainer finished: keep serving what we have.
                        Err(_) => {
                            hub.run.set_status(RunStatus::Finished);
                            break;
                        }
                    },
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    let worker = match ckpt {
        Some(src) => match checkpoint::start(Arc::clone(&hub), src) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    run = %hub.id(),
                    "checkpoint mode unavailable: {}",
                    crate::error::chain(&e)
                );
                None
            }
        },
        None => None,
    };
    (hub, RunTasks { tasks, worker })
}

/// Starts every run added and not yet served.
async fn start_pending(common: &Arc<Common>, runs: &Runs, all: &Mutex<Vec<RunTasks>>) {
    for (meta, run) in runs.take_pending() {
        let id = meta.id.clone();
        let (hub, tasks) = start_run(common, meta, run).await;
        runs.set_served(&id, hub);
        all.lock().unwrap_or_else(|p| p.into_inner()).push(tasks);
    }
}

/// Serves every run of `runs` (and those added later) until `shutdown` resolves.
/// `listener` comes from [`crate::bind`]. On shutdown every WebSocket client gets a
/// close frame (1001) and the checkpoint threads are stopped before this returns.
pub async fn serve_runs(
    listener: tokio::net::TcpListener,
    runs: Runs,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let grace = opts.shutdown_grace;
    let stats_interval = opts.stats_interval;
    let common = Arc::new(Common::new(opts, stop_rx.clone()));
    let run_tasks = Arc::new(Mutex::new(Vec::new()));
    start_pending(&common, &runs, &run_tasks).await;

    let mut tasks = Vec::new();
    // Runs added while serving.
    {
        let (common, runs, run_tasks) = (Arc::clone(&common), runs.clone(), Arc::clone(&run_tasks));
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = runs.added() => start_pending(&common, &runs, &run_tasks).await,
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    // Stats about once a second, per run to its watchers.
    {
        let runs = runs.clone();
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(stats_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => break,
                }
                for hub in runs.served() {
                    let count = hub.trained().1;
                    let rate = hub
                        .rate
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .sample(Instant::now(), count);
                    if let Some(r) = rate {
                        hub.set_steps_rate(r);
                    }
                    hub.push_stats();
                }
            }
        }));
    }
    // `runs` to every client: at once on a change, every few seconds while a run is live.
    {
        let runs = runs.clone();
        let mut stop = stop_rx.clone();
        let mut changed = runs.subscribe();
        changed.mark_unchanged();
        tasks.push(tokio::spawn(async move {
            let mut last = tokio::time::Instant::now();
            loop {
                let refresh = last + RUNS_REFRESH;
                tokio::select! {
                    c = changed.changed() => if c.is_err() { break },
                    _ = tokio::time::sleep_until(refresh) => {
                        if !runs.any_live() {
                            last = tokio::time::Instant::now();
                            continue;
                        }
                    }
                    _ = stop.changed() => break,
                }
                last = tokio::time::Instant::now();
                let json: Arc<str> = Arc::from(to_json(&runs.message()));
                for hub in runs.served() {
                    hub.broadcast(&json, Kind::Other);
                }
            }
        }));
    }

    let routes = crate::http::routes(Arc::clone(&common), runs.clone());
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(
        warp::serve(routes)
            .incoming(listener)
            .graceful(async move {
                let _ = http_stop.changed().await;
            })
            .run(),
    );
    if let Ok(addr) = common.opts.addr() {
        tracing::debug!(%addr, runs = runs.ids().len(), "serving");
    }

    shutdown.await;
    tracing::info!("shutting down: closing client connections");
    stop_tx.send_replace(true);
    for hub in runs.served() {
        hub.close_all(1001, "server shutting down");
    }
    // Sessions send their close frame and end; wait for them (bounded).
    let deadline = Instant::now() + grace + Duration::from_secs(1);
    while common.client_count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for t in tasks {
        let _ = t.await;
    }
    let run_tasks = std::mem::take(&mut *run_tasks.lock().unwrap_or_else(|p| p.into_inner()));
    for run in run_tasks {
        for t in run.tasks {
            let _ = t.await;
        }
        if let Some(w) = run.worker {
            let _ = tokio::task::spawn_blocking(move || w.stop()).await;
        }
    }
    if tokio::time::timeout(grace, http).await.is_err() {
        tracing::debug!("HTTP connections still open at shutdown");
    }
    Ok(())
}

/// Steps are counted when an episode finishes, so a one-second rate flickers to 0 whenever
/// no episode ends within that second (every few seconds for the recurrent packs). The
/// rate shown is over the last 10 seconds instead.
pub(crate) const STEPS_RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// Rate of a growing counter over a sliding time window.
pub(crate) struct RateWindow {
    window: std::time::Duration,
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl RateWindow {
    pub(crate) fn new(window: std::time::Duration) -> Self {
        RateWindow {
            window,
            samples: Default::default(),
        }
    }

    /// Adds a sample; returns the rate per second since the oldest sample in the window
    /// (None until two samples exist).
    pub(crate) fn sample(&mut self, at: Instant, count: u64) -> Option<f64> {
        self.samples.push_back((at, count));
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|(t, _)| at.duration_since(*t) >= self.window)
        {
            self.samples.pop_front();
        }
        let (t0, c0) = *self.samples.front()?;
        let dt = at.duration_since(t0).as_secs_f64();
        (dt > 0.0).then(|| count.saturating_sub(c0) as f64 / dt)
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rate_is_smoothed_over_the_window() {
        let t = Instant::now();
        let mut r = RateWindow::new(Duration::from_secs(10));
        assert_eq!(r.sample(t, 0), None);
        // 1000 steps land at second 3, nothing else for 8 s: the rate stays positive.
        let mut last = None;
        for s in 1..=8u64 {
            let count = if s >= 3 { 1000 } else { 0 };
            last = r.sample(t + Duration::from_secs(s), count);
        }
        assert_eq!(last, Some(1000.0 / 8.0));
        // Old samples leave the window: after 20 quiet seconds the rate is 0.
        for s in 9..=25u64 {
            last = r.sample(t + Duration::from_secs(s), 1000);
        }
        assert_eq!(last, Some(0.0));
    }
}
