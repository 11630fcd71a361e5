//! `UnifiedServer`: one process that trains and serves. The runner runs on a dedicated OS
//! thread and hands every finished episode to a callback that `try_send`s it into a
//! bounded flume channel (10 episodes); the inference server consumes that channel on a
//! tokio runtime. Training never waits for viewers: a full queue drops the episode from
//! the live view only and counts it (docs/decisions.md).
//!
//! Train `configs/L0_0_minimal` for two episodes on a free port, then stop (what
//! `townlet-demo` does, minus flags, Ctrl+C and the browser):
//!
//! ```
//! use townlet_unified_server::{DemoOptions, ShutdownHandle, run_demo};
//!
//! let pack = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/L0_0_minimal");
//! let runs = tempfile::tempdir().unwrap();
//! let mut opts = DemoOptions::default();
//! opts.runner.pack_dir = Some(pack.into());
//! opts.runner.runs_root = Some(runs.path().to_path_buf());
//! opts.runner.episodes = Some(2);
//! opts.server.port = 0; // any free port
//! let shutdown = ShutdownHandle::new();
//! let stop = shutdown.clone();
//! let outcome = run_demo(opts, shutdown, |started| {
//!     println!("watch at {}", started.url);
//!     stop.request_stop(); // a stop right away: training closes and checkpoints
//! })
//! .unwrap();
//! assert!(outcome.run_dir.join("checkpoints").is_dir());
//! ```

mod lab;
pub mod tap;
pub mod teach;

pub use lab::{
    LabError, LabOptions, LabOutcome, LabRunOutcome, LabStarted, lab_compute_threads, run_lab,
};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use tokio::sync::Notify;
use townlet_inference::{
    LIVE_QUEUE_CAPACITY, LiveSource, MAIN_RUN, Mode, ServerOptions, WorldInfo,
};
use townlet_runner::{DemoRunner, PhaseTimes, RunSummary, RunnerOptions, StopFlag};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Server(#[from] townlet_inference::ServerError),
    #[error(transparent)]
    Runner(#[from] townlet_runner::RunnerError),
    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the training thread panicked")]
    TrainerPanicked,
}

/// Everything `townlet-demo` can set.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub runner: RunnerOptions,
    pub server: ServerOptions,
    /// burn compute threads (1 by default, the other core serves viewers).
    pub threads: usize,
    /// Capacity of the live channel (10).
    pub live_queue: usize,
    /// Hold training until this many WebSocket viewers are connected (0: start at once).
    /// A stop request while waiting ends the run without training.
    pub wait_for_viewers: u64,
    /// A second consumer of the finished episodes (`--publish`), if any.
    pub tap: tap::Tap,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            runner: RunnerOptions::default(),
            server: ServerOptions::default(),
            threads: 1,
            live_queue: LIVE_QUEUE_CAPACITY,
            wait_for_viewers: 0,
            tap: tap::Tap::default(),
        }
    }
}

/// Shutdown control shared with signal handlers: `request_stop` stops training at the
/// next step; the server closes once training has stopped and `request_stop` was called.
#[derive(Debug, Clone, Default)]
pub struct ShutdownHandle {
    stop: StopFlag,
    requested: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl ShutdownHandle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ctrl+C / SIGTERM: stop training at the next step, then close the server.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.requested.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    pub fn stop_flag(&self) -> StopFlag {
        Arc::clone(&self.stop)
    }

    async fn wait_requested(&self) {
        loop {
            let notified = self.notify.notified();
            if self.requested.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

/// What happened, for the binary's last log line and for tests.
#[derive(Debug)]
pub struct DemoOutcome {
    pub run_dir: PathBuf,
    pub summary: RunSummary,
    pub dropped_live: u64,
    /// Where the training thread's time went (benchmarks read CPU per env step here).
    pub phase: PhaseTimes,
}

/// Information available once the server is bound and the runner is built, before any
/// training step (the binary prints the URL from it; tests connect to it).
#[derive(Debug, Clone)]
pub struct Started {
    pub url: String,
    /// The page URL with the teacher token (docs/security.md); `None` when the server
    /// has no teacher token.
    pub teacher_url: Option<String>,
    pub port: u16,
    pub run_dir: PathBuf,
    /// Where the run's log belongs (`<run>/townlet.log`); the binary attaches its logger.
    pub log_path: PathBuf,
}

/// Tokio worker threads for the server: the cores the trainer does not use (the training
/// thread waits while burn's `threads` compute threads work), at least one. On the 2-core
/// machines this project targets that is one worker, so the server's threads never take
/// both cores from the trainer (docs/decisions.md#compute-threads).
fn server_workers(compute_threads: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    cores.saturating_sub(compute_threads.max(1)).max(1)
}

/// The tokio runtime that serves viewers while `compute_threads` train.
fn server_runtime(compute_threads: usize) -> Result<tokio::runtime::Runtime, DemoError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_workers(compute_threads))
        .thread_name("townlet-server")
        .enable_all()
        .build()
        .map_err(DemoError::Runtime)
}

/// `http://host:port/` (IPv6 hosts in brackets).
fn page_url(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("http://[{host}]:{port}/")
    } else {
        format!("http://{host}:{port}/")
    }
}

/// What a training thread returns.
type TrainerResult = Result<(RunSummary, PhaseTimes), townlet_runner::RunnerError>;

/// Counts training threads that have stopped, checkpointed and drained (the server waits
/// for all of them before it closes).
type DoneCount = tokio::sync::watch::Sender<usize>;

/// Train `runner` on its own OS thread (`name`), after `wait_for` viewers are connected
/// (per `viewers`); then drain its recordings and count it in `done`. `label` prefixes
/// its log lines (a lab's run id; empty for a single run).
fn spawn_trainer(
    name: String,
    label: String,
    mut runner: DemoRunner,
    stop: StopFlag,
    wait_for: u64,
    viewers: Arc<townlet_inference::LiveCounters>,
    done: DoneCount,
) -> Result<JoinHandle<TrainerResult>, DemoError> {
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            if wait_for > 0 {
                tracing::info!("{label}waiting for {wait_for} viewer(s) before training starts");
                while viewers.viewers() < wait_for && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
            // A stop while waiting: `run` sees the flag and trains nothing.
            let result = runner.run(&mut |_| {}).and_then(|s| {
                runner.shutdown()?;
                Ok((s, runner.phase_times()))
            });
            match result.as_ref().map(|(s, _)| s) {
                Ok(s) if s.interrupted => tracing::info!(
                    "{label}training stopped; final checkpoint written, recordings drained (next episode {})",
                    s.next_episode
                ),
                Ok(s) => tracing::info!(
                    "{label}training finished ({} episodes); still serving history and replays until Ctrl+C",
                    s.next_episode
                ),
                Err(e) => tracing::error!("{label}training failed: {e}"),
            }
            // The live channel closes with the runner (its last sender).
            drop(runner);
            done.send_modify(|n| *n += 1);
            result
        })
        .map_err(DemoError::Runtime)
}

/// Resolves once a stop was requested and `trainers` training threads are done (training
/// closes its episode, checkpoints and drains before clients go).
fn stop_when_done(
    shutdown: &ShutdownHandle,
    mut done: tokio::sync::watch::Receiver<usize>,
    trainers: usize,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let shutdown = shutdown.clone();
    async move {
        shutdown.wait_requested().await;
        let _ = done.wait_for(|n| *n >= trainers).await;
    }
}

/// Bind, build the runner, start training on its own thread and serve until a stop is
/// requested (training finishing keeps the server up, serving history and replays).
/// `on_started` runs once the port is bound and the run folder exists, before training
/// starts.
pub fn run_demo(
    opts: DemoOptions,
    shutdown: ShutdownHandle,
    on_started: impl FnOnce(&Started),
) -> Result<DemoOutcome, DemoError> {
    townlet_runner::threads::set_compute_threads(opts.threads);
    let rt = server_runtime(opts.threads)?;
    // Bind first, so a taken port is a clear error before any training.
    let listener = rt.block_on(townlet_inference::bind(&opts.server))?;
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(opts.server.port);

    let (sender, source) = LiveSource::channel(opts.live_queue);
    let counters = Arc::clone(&source.counters);
    let snapshots = sender.snapshot_callback();
    let mut runner = DemoRunner::new(
        &opts.runner,
        Some(opts.tap.wrap(MAIN_RUN, sender.into_callback())),
        shutdown.stop_flag(),
    )?;
    runner.set_snapshot_callback(snapshots);
    let source = teach::link(&mut runner, source);
    counters.attach_recorder(runner.recorder_counters_handle());
    let world = WorldInfo::new(runner.pack(), runner.env());
    let run_dir = runner.run_dir().to_path_buf();
    let folder = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    opts.tap.started(tap::TapRun {
        key: MAIN_RUN,
        suggested_id: &format!("{}-{folder}", runner.pack().name),
        pack: runner.pack(),
        world: &world,
        run_dir: &run_dir,
    });
    let url = page_url(&opts.server.host, port);
    let started = Started {
        teacher_url: opts
            .server
            .teacher_token
            .as_deref()
            .map(|t| teach::teacher_url(&url, t)),
        url,
        port,
        run_dir: run_dir.clone(),
        log_path: runner.folder().log_path(),
    };
    on_started(&started);
    tracing::info!(
        "training {} (episodes {}..{}) in {}",
        runner.pack().name,
        runner.next_episode(),
        runner.max_episodes(),
        run_dir.display()
    );

    let (done_tx, done_rx) = tokio::sync::watch::channel(0);
    let trainer = spawn_trainer(
        "townlet-trainer".into(),
        String::new(),
        runner,
        shutdown.stop_flag(),
        opts.wait_for_viewers,
        Arc::clone(&counters),
        done_tx,
    )?;
    let served = rt.block_on(townlet_inference::serve(
        listener,
        Mode::Live(source),
        world,
        Some(run_dir.clone()),
        opts.server.clone(),
        stop_when_done(&shutdown, done_rx, 1),
    ));
    let joined = trainer.join();
    opts.tap.finish();
    let (summary, phase) = joined.map_err(|_| DemoError::TrainerPanicked)??;
    served?;
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(DemoOutcome {
        run_dir,
        summary,
        dropped_live: counters.dropped(),
        phase,
    })
}
