//! Streaming's cost and latency (issue 6 item 5; method in
//! docs/decisions.md#acceptance-figures and docs/decisions.md#measuring-training-slowdown).
//!
//! * Off: the runner alone (no live callback), as `townlet-train` runs.
//! * On: the unified server (`run_demo`) with viewers connected before training starts
//!   (`wait_for_viewers`), in this process.
//!
//! Every run trains the same pack from scratch with the same seed, so off and on do the
//! identical training work and the difference is the streaming overhead. The figure is
//! the training side's CPU time per env step (trainer thread + burn's compute threads),
//! with wall-clock throughput beside it.

use crate::client::{Behaviour, Viewers, ViewersReport};
use crate::procfs;
use crate::stats::{Latency, Spread};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use townlet_inference::ServerOptions;
use townlet_recording::{Database, LiveEpisode};
use townlet_runner::threads::COMPUTE_THREAD_PREFIX;
use townlet_runner::{DemoRunner, PhaseTimes, RunnerOptions};
use townlet_unified_server::{DemoOptions, ShutdownHandle, run_demo};

/// One training run's cost.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RunCost {
    pub env_steps: u64,
    pub cpu_us_per_step: f64,
    pub steps_per_s: f64,
    /// Process RSS at the end of the run (KiB).
    pub rss_end_kib: u64,
}

pub(crate) fn cost(phase: &PhaseTimes, pool_cpu_ns: u64) -> RunCost {
    let steps = phase.env_steps.max(1);
    RunCost {
        env_steps: phase.env_steps,
        cpu_us_per_step: (phase.cpu_ns + pool_cpu_ns) as f64 / 1e3 / steps as f64,
        steps_per_s: phase.env_steps as f64 / (phase.total_ns.max(1) as f64 / 1e9),
        rss_end_kib: procfs::rss_kib(),
    }
}

fn runner_options(pack: &Path, run_dir: PathBuf, episodes: u64, seed: u64) -> RunnerOptions {
    RunnerOptions {
        pack_dir: Some(pack.to_path_buf()),
        run_dir: Some(run_dir),
        episodes: Some(episodes),
        seed: Some(seed),
        ..Default::default()
    }
}

/// Streaming off: the runner alone on a thread named like the unified server's trainer.
pub fn run_off(pack: &Path, episodes: u64, seed: u64) -> anyhow::Result<RunCost> {
    let tmp = tempfile::tempdir()?;
    let opts = runner_options(pack, tmp.path().join("run"), episodes, seed);
    let pool0 = procfs::threads_cpu_ns(COMPUTE_THREAD_PREFIX);
    let phase = std::thread::Builder::new()
        .name("townlet-trainer".into())
        .spawn(move || -> anyhow::Result<PhaseTimes> {
            let mut runner = DemoRunner::new(&opts, None, Arc::new(AtomicBool::new(false)))?;
            runner.run(&mut |_| {})?;
            runner.shutdown()?;
            Ok(runner.phase_times())
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("the training thread panicked"))??;
    Ok(cost(
        &phase,
        procfs::threads_cpu_ns(COMPUTE_THREAD_PREFIX).saturating_sub(pool0),
    ))
}

/// What an "on" run measured.
#[derive(Debug, Clone, Serialize)]
pub struct OnRun {
    pub cost: RunCost,
    pub viewers: ViewersReport,
    pub dropped_live: u64,
    /// Process RSS once the viewers were connected, before training (KiB).
    pub rss_connected_kib: u64,
    /// Highest RSS seen while training with the viewers (KiB).
    pub rss_peak_kib: u64,
}

/// Viewers attached to an "on" run: started once the server's port is known, polled
/// until all are connected, closed after training.
pub trait ViewerGroup {
    /// All expected viewers have their `hello`.
    fn all_connected(&mut self) -> anyhow::Result<bool>;
    /// Close the viewers and report what they saw.
    fn finish(self: Box<Self>) -> anyhow::Result<ViewersReport>;
}

/// Viewers on a tokio runtime of this process.
pub struct InProcess {
    rt: tokio::runtime::Runtime,
    group: Viewers,
    expected: u64,
}

impl InProcess {
    pub fn start(
        port: u16,
        n: usize,
        behaviour: Behaviour,
    ) -> anyhow::Result<Box<dyn ViewerGroup>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bench-viewers")
            .enable_all()
            .build()?;
        let group = Viewers::spawn(
            rt.handle(),
            &format!("ws://127.0.0.1:{port}/ws"),
            n,
            behaviour,
        );
        Ok(Box::new(InProcess {
            rt,
            group,
            expected: n as u64,
        }))
    }
}

impl ViewerGroup for InProcess {
    fn all_connected(&mut self) -> anyhow::Result<bool> {
        Ok(self.group.connected() >= self.expected)
    }

    fn finish(self: Box<Self>) -> anyhow::Result<ViewersReport> {
        let InProcess { rt, group, .. } = *self;
        Ok(rt.block_on(group.stop(Duration::from_secs(10))))
    }
}

/// Streaming on: the unified server with `viewers` WebSocket clients (from `start`),
/// connected before training starts and closed after its last episode.
pub fn run_on(
    pack: &Path,
    episodes: u64,
    seed: u64,
    viewers: usize,
    start: impl Fn(u16) -> anyhow::Result<Box<dyn ViewerGroup>>,
) -> anyhow::Result<OnRun> {
    let tmp = tempfile::tempdir()?;
    let run_dir = tmp.path().join("run");
    let opts = DemoOptions {
        runner: runner_options(pack, run_dir.clone(), episodes, seed),
        server: ServerOptions {
            port: 0,
            max_clients: viewers + 16,
            static_dir: None,
            ..ServerOptions::default()
        },
        threads: 1,
        wait_for_viewers: viewers as u64,
        ..DemoOptions::default()
    };
    let shutdown = ShutdownHandle::new();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let pool0 = procfs::threads_cpu_ns(COMPUTE_THREAD_PREFIX);
    let server = {
        let shutdown = shutdown.clone();
        std::thread::Builder::new()
            .name("bench-demo".into())
            .spawn(move || run_demo(opts, shutdown, |s| port_tx.send(s.port).unwrap_or(())))?
    };
    let port = match port_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(p) => p,
        Err(_) => {
            shutdown.request_stop();
            return match server.join() {
                Ok(Err(e)) => Err(e.into()),
                _ => Err(anyhow::anyhow!("the unified server did not start")),
            };
        }
    };
    let mut group = start(port)?;
    let t0 = Instant::now();
    while !group.all_connected()? {
        if t0.elapsed() > Duration::from_secs(120) {
            shutdown.request_stop();
            anyhow::bail!("the {viewers} viewers did not all connect within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let rss_connected = procfs::rss_kib();
    // Training runs now; wait for the run to be marked finished in the database.
    let db_path = run_dir.join("metrics.db");
    let mut rss_peak = rss_connected;
    // RSS every 100 ms (a /proc read); the run's status once a second on one connection
    // kept open. This thread shares the cores with the trainer: opening SQLite ten times a
    // second (as this loop first did) cost the measured trainer about 2 % (figure (a)).
    let mut db = None;
    for tick in 1u64.. {
        std::thread::sleep(Duration::from_millis(100));
        rss_peak = rss_peak.max(procfs::rss_kib());
        if server.is_finished() {
            break;
        }
        if tick % 10 != 0 {
            continue;
        }
        if db.is_none() {
            db = Database::open_read(&db_path).ok();
        }
        let finished = db
            .as_ref()
            .and_then(|db| db.run_state().ok())
            .is_some_and(|s| s.get("status").is_some_and(|v| v == "finished"));
        if finished {
            break;
        }
    }
    drop(db);
    // Let the last summaries arrive, then close the viewers and the server.
    std::thread::sleep(Duration::from_millis(500));
    let report = group.finish()?;
    shutdown.request_stop();
    let outcome = server
        .join()
        .map_err(|_| anyhow::anyhow!("the unified server panicked"))??;
    let pool = procfs::threads_cpu_ns(COMPUTE_THREAD_PREFIX).saturating_sub(pool0);
    Ok(OnRun {
        cost: cost(&outcome.phase, pool),
        viewers: report,
        dropped_live: outcome.dropped_live,
        rss_connected_kib: rss_connected,
        rss_peak_kib: rss_peak,
    })
}

/// The live queue at capacity (docs/decisions.md#memory-bound-per-step, figure (c)): the
/// bytes of the largest episodes the live stream carried in a real L1 run, and the bound
/// for 10 episodes at the step cap.
#[derive(Debug, Clone, Serialize)]
pub struct QueueBytes {
    pub episodes: usize,
    pub capacity: usize,
    pub max_bytes_per_step: f64,
    pub largest_episode_bytes: usize,
    pub largest_episode_steps: usize,
    /// The `capacity` largest episodes together: the queue full of them.
    pub full_queue_largest_bytes: usize,
    /// `capacity` × step cap × max bytes per step.
    pub full_queue_bound_bytes: usize,
}

pub fn queue_bytes(pack: &Path, episodes: u64, seed: u64) -> anyhow::Result<QueueBytes> {
    let tmp = tempfile::tempdir()?;
    let opts = runner_options(pack, tmp.path().join("run"), episodes, seed);
    let seen: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let callback: townlet_recording::LiveStreamCallback = Box::new(move |ep: Arc<LiveEpisode>| {
        if let Ok(mut s) = sink.lock() {
            s.push((ep.approx_bytes(), ep.steps.len()));
        }
    });
    let mut runner = DemoRunner::new(&opts, Some(callback), Arc::new(AtomicBool::new(false)))?;
    let cap = runner.pack().curriculum.max_steps_per_episode as usize;
    runner.run(&mut |_| {})?;
    runner.shutdown()?;
    let mut eps = seen.lock().map(|s| s.clone()).unwrap_or_default();
    eps.sort_unstable_by(|a, b| b.cmp(a));
    let capacity = townlet_inference::LIVE_QUEUE_CAPACITY;
    let per_step = eps
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(b, n)| *b as f64 / *n as f64)
        .fold(0.0, f64::max);
    Ok(QueueBytes {
        episodes: eps.len(),
        capacity,
        max_bytes_per_step: per_step,
        largest_episode_bytes: eps.first().map_or(0, |e| e.0),
        largest_episode_steps: eps.first().map_or(0, |e| e.1),
        full_queue_largest_bytes: eps.iter().take(capacity).map(|e| e.0).sum(),
        full_queue_bound_bytes: (capacity as f64 * cap as f64 * per_step).ceil() as usize,
    })
}

/// The whole streaming benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct StreamingReport {
    pub pairs: usize,
    pub episodes_per_run: u64,
    pub off: Vec<RunCost>,
    pub on: Vec<RunCost>,
    /// Per pair: (on − off) / off of CPU per step, percent.
    pub cpu_overhead_pct: Spread,
    /// Per pair: (off − on) / off of wall-clock steps/s, percent.
    pub wall_slowdown_pct: Spread,
    pub latency: Latency,
    pub summaries_missing: u64,
    pub dropped_live: u64,
    pub viewer_disconnected: u64,
    pub queue: QueueBytes,
}

/// The streaming-cost comparison (docs/decisions.md#acceptance-figures): `pairs`
/// interleaved pairs of a streaming-off run and an "on" run (which goes first alternates,
/// so drift hits both sides), all training the same pack from scratch with the same seed.
/// Returns both sides and the per-pair overheads.
pub struct Pairs {
    pub off: Vec<RunCost>,
    pub on: Vec<OnRun>,
    /// Per pair: (on − off) / off of CPU per env step, percent.
    pub cpu_overhead_pct: Spread,
    /// Per pair: (off − on) / off of wall-clock env steps/s, percent.
    pub wall_slowdown_pct: Spread,
}

pub fn interleaved_pairs(
    pack: &Path,
    pairs: usize,
    episodes: u64,
    seed: u64,
    viewers: usize,
    start: impl Fn(u16) -> anyhow::Result<Box<dyn ViewerGroup>>,
) -> anyhow::Result<Pairs> {
    let mut off = Vec::new();
    let mut on: Vec<OnRun> = Vec::new();
    for i in 0..pairs {
        let order = if i % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for streaming in order {
            if streaming {
                let r = run_on(pack, episodes, seed, viewers, &start)?;
                let v = &r.viewers;
                println!(
                    "  pair {}: on  ({viewers} viewer(s)) {:.1} µs/step, {:.0} steps/s; {} summaries, p50 {:.1} ms, p99 {:.1} ms; {} full episodes, {} disconnected",
                    i + 1,
                    r.cost.cpu_us_per_step,
                    r.cost.steps_per_s,
                    v.summaries,
                    v.latency.p50_ms,
                    v.latency.p99_ms,
                    v.episodes,
                    v.disconnected
                );
                on.push(r);
            } else {
                let r = run_off(pack, episodes, seed)?;
                println!(
                    "  pair {}: off {:.1} µs/step, {:.0} steps/s",
                    i + 1,
                    r.cpu_us_per_step,
                    r.steps_per_s
                );
                off.push(r);
            }
        }
    }
    let cpu: Vec<f64> = off
        .iter()
        .zip(&on)
        .map(|(a, b)| 100.0 * (b.cost.cpu_us_per_step - a.cpu_us_per_step) / a.cpu_us_per_step)
        .collect();
    let wall: Vec<f64> = off
        .iter()
        .zip(&on)
        .map(|(a, b)| 100.0 * (a.steps_per_s - b.cost.steps_per_s) / a.steps_per_s)
        .collect();
    Ok(Pairs {
        off,
        on,
        cpu_overhead_pct: Spread::of(&cpu),
        wall_slowdown_pct: Spread::of(&wall),
    })
}

/// `pairs` interleaved off/on pairs (figure (a)) with one viewer following live at 1×;
/// the latency (b) pools every summary the viewer received; then the queue size (c).
pub fn run(pack: &Path, pairs: usize, episodes: u64, seed: u64) -> anyhow::Result<StreamingReport> {
    let p = interleaved_pairs(pack, pairs, episodes, seed, 1, |port| {
        InProcess::start(port, 1, Behaviour::FollowAt1x)
    })?;
    let lat: Vec<f64> =
        p.on.iter()
            .flat_map(|r| r.viewers.latencies_ms.iter().copied())
            .collect();
    let missing = p.on.iter().map(|r| r.viewers.summaries_missing).sum();
    let dropped = p.on.iter().map(|r| r.dropped_live).sum();
    let disc = p.on.iter().map(|r| r.viewers.disconnected).sum();
    let queue = queue_bytes(pack, episodes, seed)?;
    Ok(StreamingReport {
        pairs,
        episodes_per_run: episodes,
        off: p.off,
        on: p.on.iter().map(|r| r.cost).collect(),
        cpu_overhead_pct: p.cpu_overhead_pct,
        wall_slowdown_pct: p.wall_slowdown_pct,
        latency: Latency::of(&lat),
        summaries_missing: missing,
        dropped_live: dropped,
        viewer_disconnected: disc,
        queue,
    })
}

pub fn print(r: &StreamingReport) {
    println!(
        "(a) training CPU per env step, streaming on vs off ({} interleaved pairs, {} episodes each, one viewer following live at 1×):",
        r.pairs, r.episodes_per_run
    );
    println!("    overhead {} % (target < 1 %)", r.cpu_overhead_pct);
    println!(
        "    wall-clock throughput slowdown {} %",
        r.wall_slowdown_pct
    );
    println!(
        "(b) finished_at → episode_summary received: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} episodes (target p99 < 50 ms); {} summaries missing, {} episodes dropped from the live queue, {} viewer disconnections",
        r.latency.p50_ms,
        r.latency.p99_ms,
        r.latency.max_ms,
        r.latency.n,
        r.summaries_missing,
        r.dropped_live,
        r.viewer_disconnected
    );
    let q = &r.queue;
    println!(
        "(c) live queue at capacity ({} slots): the {} largest of {} L1 episodes take {:.1} KiB together (largest {} steps, {:.1} KiB); bound at the step cap {:.1} KiB ({:.1} bytes/step) (target ≤ 1 MB)",
        q.capacity,
        q.capacity,
        q.episodes,
        q.full_queue_largest_bytes as f64 / 1024.0,
        q.largest_episode_steps,
        q.largest_episode_bytes as f64 / 1024.0,
        q.full_queue_bound_bytes as f64 / 1024.0,
        q.max_bytes_per_step
    );
}
