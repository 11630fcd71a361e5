//! The cost of a lab: several runs of one pack trained side by side in one process
//! (`townlet-demo --lab`), each followed by one viewer at 1× (`/ws?run=<id>`). Per run:
//! throughput (env steps per second of the training loop's wall time), training-thread
//! CPU per step, and the viewer's `finished_at → episode_summary` latency.

use crate::client::{Behaviour, Viewers, ViewersReport};
use crate::procfs;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};
use townlet_inference::ServerOptions;
use townlet_recording::Database;
use townlet_runner::threads::COMPUTE_THREAD_PREFIX;
use townlet_unified_server::{LabOptions, ShutdownHandle, lab_compute_threads, run_lab};

/// One run of the lab.
#[derive(Debug, Clone, Serialize)]
pub struct LabRunCost {
    pub id: String,
    pub env_steps: u64,
    /// Env steps per second of the training loop's wall time.
    pub steps_per_s: f64,
    /// The training thread's own CPU per env step (the shared compute pool is reported
    /// for the lab as a whole).
    pub thread_cpu_us_per_step: f64,
    pub dropped_live: u64,
    /// The one viewer following this run at 1×.
    pub viewer: ViewersReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabReport {
    pub cores: usize,
    /// burn compute threads in all (shared by the runs).
    pub compute_threads: usize,
    pub episodes: u64,
    pub wall_s: f64,
    /// Compute-pool CPU per env step of all runs together (µs).
    pub pool_cpu_us_per_step: f64,
    pub runs: Vec<LabRunCost>,
}

/// Train `runs` runs of `pack` (seeds `seed`, `seed + 1`, …) for `episodes` episodes each
/// as one lab, one viewer per run, and measure each run.
pub fn run(pack: &Path, runs: usize, episodes: u64, seed: u64) -> anyhow::Result<LabReport> {
    let tmp = tempfile::tempdir()?;
    let pack = pack.canonicalize()?;
    let mut text = String::from("title: benchmark\nruns:\n");
    for k in 0..runs {
        text.push_str(&format!(
            "  - {{name: run {k}, pack: {}, seed: {}, episodes: {episodes}}}\n",
            pack.display(),
            seed + k as u64
        ));
    }
    let lab_file = tmp.path().join("bench.yaml");
    std::fs::write(&lab_file, text)?;
    let configs = pack.parent().unwrap_or(Path::new(".")).to_path_buf();
    let opts = LabOptions {
        server: ServerOptions {
            port: 0,
            static_dir: None,
            ..ServerOptions::default()
        },
        ..LabOptions::new(lab_file, configs, tmp.path().join("runs"))
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (_, compute_threads) = lab_compute_threads(runs, cores);

    let shutdown = ShutdownHandle::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let pool0 = procfs::threads_cpu_ns(COMPUTE_THREAD_PREFIX);
    let t0 = Instant::now();
    let server = {
        let shutdown = shutdown.clone();
        std::thread::Builder::new()
            .name("bench-lab".into())
            .spawn(move || run_lab(opts, shutdown, |s| tx.send(s.clone()).unwrap_or(())))?
    };
    let Ok(started) = rx.recv_timeout(Duration::from_secs(120)) else {
        shutdown.request_stop();
        return match server.join() {
            Ok(Err(e)) => Err(e.into()),
            _ => Err(anyhow::anyhow!("the lab did not start")),
        };
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-viewers")
        .enable_all()
        .build()?;
    let viewers: Vec<Viewers> = started
        .runs
        .iter()
        .map(|(id, _)| {
            let url = format!("ws://127.0.0.1:{}/ws?run={id}", started.port);
            Viewers::spawn(rt.handle(), &url, 1, Behaviour::FollowAt1x)
        })
        .collect();
    // Every run's status once a second, one connection each kept open.
    let mut dbs: Vec<Option<Database>> = started.runs.iter().map(|_| None).collect();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        if server.is_finished() {
            break;
        }
        let mut all = true;
        for ((_, dir), db) in started.runs.iter().zip(dbs.iter_mut()) {
            if db.is_none() {
                *db = Database::open_read(&dir.join("metrics.db")).ok();
            }
            all &= db
                .as_ref()
                .and_then(|db| db.run_state().ok())
                .is_some_and(|s| s.get("status").is_some_and(|v| v == "finished"));
        }
        if all {
            break;
        }
    }
    drop(dbs);
    let wall_s = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    let reports: Vec<ViewersReport> = viewers
        .into_iter()
        .map(|v| rt.block_on(v.stop(Duration::from_secs(10))))
        .collect();
    shutdown.request_stop();
    let outcome = server
        .join()
        .map_err(|_| anyhow::anyhow!("the lab panicked"))??;
    let pool = procfs::threads_cpu_ns(COMPUTE_THREAD_PREFIX).saturating_sub(pool0);
    let total_steps: u64 = outcome.runs.iter().map(|r| r.phase.env_steps).sum();
    let runs = outcome
        .runs
        .iter()
        .zip(reports)
        .map(|(r, viewer)| {
            let steps = r.phase.env_steps.max(1) as f64;
            LabRunCost {
                id: r.id.clone(),
                env_steps: r.phase.env_steps,
                steps_per_s: steps / (r.phase.total_ns.max(1) as f64 / 1e9),
                thread_cpu_us_per_step: r.phase.cpu_ns as f64 / 1e3 / steps,
                dropped_live: r.dropped_live,
                viewer,
            }
        })
        .collect();
    Ok(LabReport {
        cores,
        compute_threads,
        episodes,
        wall_s,
        pool_cpu_us_per_step: pool as f64 / 1e3 / total_steps.max(1) as f64,
        runs,
    })
}

pub fn print(r: &LabReport) {
    println!(
        "{} runs × {} episodes on {} cores ({} compute threads in all), {:.0} s",
        r.runs.len(),
        r.episodes,
        r.cores,
        r.compute_threads,
        r.wall_s
    );
    for run in &r.runs {
        let l = &run.viewer.latency;
        println!(
            "  {:<8} {:>8.0} env steps/s ({} steps, thread CPU {:.1} µs/step), \
             finished_at → summary p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} summaries, \
             {} dropped live)",
            run.id,
            run.steps_per_s,
            run.env_steps,
            run.thread_cpu_us_per_step,
            l.p50_ms,
            l.p99_ms,
            l.max_ms,
            l.n,
            run.dropped_live
        );
    }
    println!(
        "  compute pool: {:.1} µs per env step of all runs",
        r.pool_cpu_us_per_step
    );
}
