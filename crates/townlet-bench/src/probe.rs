//! "Ask the agent" figures (docs/benchmarks.md#probes-issue-16-item-6): probe latency at step 400 of an
//! episode (L1 MLP, L2 recurrent) while a trainer trains the same pack on this machine,
//! and the training slowdown while probes run back to back.
//!
//! Probes run as the server runs them: on one thread with its own one-thread compute pool,
//! through `townlet_inference::probe_episode` (what the probe thread does per request,
//! without the WebSocket and the cache: every probe asks a different what-if, so nothing
//! is cached). Every viewer's probes go through that one thread, so ten viewers probing
//! continuously keep it busy all the time — the "with probes" phases do exactly that.
//! The episode is a synthetic 420-step walk on the pack's layout (a probe's cost does not
//! depend on the values), the network a fresh one of the pack's type.

use crate::stats::{Spread, percentile};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use townlet_agent::{DqnAgent, NetworkSnapshot};
use townlet_config::{DeviceKind, Overrides, Pack};
use townlet_env::Env;
use townlet_inference::{Memories, Question, probe_episode};
use townlet_protocol::{ProbeNetwork, Source};
use townlet_recording::{AffordancePosition, LiveEpisode, RecordedStep, StartState, StepColumns};
use townlet_runner::{DemoRunner, RunnerOptions};

/// The step probed.
pub const STEP: u32 = 400;

#[derive(Debug, Clone, Serialize)]
pub struct ProbeFigures {
    pub pack: String,
    pub network: String,
    pub cells: usize,
    /// Probe latency (ms) at step 400 while training runs.
    pub probes: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Trainer env steps per second without / with probes running back to back, per
    /// interleaved phase.
    pub steps_per_s_off: Spread,
    pub steps_per_s_on: Spread,
    /// The median over pairs of 1 − on / off, in percent.
    pub slowdown_pct: f64,
}

/// A `len`-step walk over the pack's grid on the env's layout (meters fixed).
fn episode(env: &Env, len: u32) -> LiveEpisode {
    let side = env.grid_size() as i32;
    let nm = env.num_meters();
    let mut steps = StepColumns::new(nm, env.action_dim());
    let (mut x, mut y) = (0i32, 0i32);
    for i in 0..len {
        match i % 4 {
            0 => x = (x + 1) % side,
            1 => y = (y + 1) % side,
            2 => x = (x + side - 1) % side,
            _ => y = (y + 2) % side,
        }
        let s = RecordedStep {
            step: i + 1,
            position: (x, y),
            meters: vec![0.7; nm],
            action: 5,
            ..Default::default()
        };
        let _ = steps.push(&s);
    }
    LiveEpisode {
        episode_id: 1,
        agent_id: 0,
        metadata: Default::default(),
        layout: env
            .layout()
            .into_iter()
            .map(|(name, [x, y])| AffordancePosition { name, x, y })
            .collect(),
        start: StartState {
            position: (0, 0),
            meters: vec![0.7; nm],
            time_of_day: env.temporal().then_some(0),
        },
        steps,
        finished_at: 0,
    }
}

/// Every episode end of the trainer: when, and the env steps trained until then.
type Ends = Arc<std::sync::Mutex<Vec<(Instant, u64)>>>;

/// Episodes are cut at this many steps while measuring (more episode ends per phase, so
/// the rate between them is sharp; the work per step is the pack's).
const MAX_STEPS: u32 = 100;

/// A trainer on `pack` until `stop`, noting every episode end in `ends`.
fn trainer(
    pack_dir: &Path,
    dir: &Path,
    seed: u64,
    stop: Arc<AtomicBool>,
    ends: Ends,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let opts = RunnerOptions {
        pack_dir: Some(pack_dir.to_path_buf()),
        run_dir: Some(dir.join("train")),
        episodes: Some(1_000_000),
        seed: Some(seed),
        max_steps: Some(MAX_STEPS),
        overrides: Overrides::default(),
        ..RunnerOptions::default()
    };
    let mut runner = DemoRunner::new(&opts, None, stop)?;
    Ok(std::thread::Builder::new()
        .name("townlet-trainer".into())
        .spawn(move || {
            let mut total = 0u64;
            let _ = runner.run(&mut |r| {
                total += u64::from(r.length);
                if let Ok(mut e) = ends.lock() {
                    e.push((Instant::now(), total));
                }
            });
            let _ = runner.shutdown();
        })?)
}

/// Env steps per second between the first and the last episode end inside `[from, to]`
/// (0 when fewer than two fall inside).
fn rate_between(ends: &Ends, from: Instant, to: Instant) -> f64 {
    let e = ends.lock().map(|e| e.clone()).unwrap_or_default();
    let inside: Vec<_> = e.iter().filter(|(t, _)| *t >= from && *t <= to).collect();
    match (inside.first(), inside.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1) as f64 / (b.0 - a.0).as_secs_f64(),
        _ => 0.0,
    }
}

/// Probes as fast as the server's probe thread answers them (a one-thread compute pool,
/// its priority and its duty-cycle throttle) until `stop`; returns each probe's latency
/// in ms.
fn prober(
    pack: Pack,
    snap: NetworkSnapshot,
    stop: Arc<AtomicBool>,
    control: bool,
) -> std::thread::JoinHandle<Vec<f64>> {
    std::thread::spawn(move || {
        if control {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
            }
            return Vec::new();
        }
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build();
        let work = || {
            // As the server's probe thread: in the background scheduling class.
            townlet_inference::run_in_background();
            let mut out = Vec::new();
            let Ok(env) = Env::new(&pack, 1, 0) else {
                return out;
            };
            let ep = episode(&env, STEP + 20);
            let network = ProbeNetwork {
                after_episode: 0,
                source: Source::Training,
                network_type: snap.network_type().into(),
                exact: false,
            };
            let mut k = 0u32;
            let mut throttle = townlet_inference::Throttle::new(townlet_inference::PROBE_DUTY);
            while !stop.load(Ordering::Relaxed) {
                throttle.wait();
                k += 1;
                let q = Question {
                    step: STEP,
                    meters: Some(vec![(k % 100) as f32 / 100.0; env.num_meters()]),
                    time_of_day: None,
                };
                let t = Instant::now();
                // No kept memories: every probe pays the full replay (the worst case).
                let r = probe_episode(
                    &env,
                    &snap,
                    network.clone(),
                    "bench",
                    &ep,
                    &q,
                    &mut Memories::default(),
                );
                throttle.spent(t.elapsed());
                out.push(t.elapsed().as_secs_f64() * 1000.0);
                if r.is_err() {
                    break;
                }
            }
            out
        };
        match pool {
            Ok(p) => p.install(work),
            Err(_) => work(),
        }
    })
}

/// Interleaved phases of `phase` each: `pairs` × (training alone, training + probes).
pub fn run(
    pack_dir: &Path,
    pairs: usize,
    phase: Duration,
    seed: u64,
    control: bool,
) -> anyhow::Result<ProbeFigures> {
    let pack = townlet_config::load_pack(pack_dir)?;
    let env = Env::new(&pack, 1, seed)?;
    let agent = DqnAgent::new(
        &pack,
        env.obs_dim(),
        env.action_dim(),
        DeviceKind::Flex,
        seed,
    )?;
    let snap = agent.snapshot(0);
    let dir = tempfile::tempdir()?;
    let stop = Arc::new(AtomicBool::new(false));
    let ends: Ends = Arc::default();
    let train = trainer(
        pack_dir,
        dir.path(),
        seed,
        Arc::clone(&stop),
        Arc::clone(&ends),
    )?;
    // Warm-up: the first episodes fill the replay buffer before any update.
    std::thread::sleep(phase);
    let (mut off, mut on, mut lat) = (Vec::new(), Vec::new(), Vec::new());
    let rate = |d: Duration| {
        let t0 = Instant::now();
        std::thread::sleep(d);
        rate_between(&ends, t0, Instant::now())
    };
    let mut ratios = Vec::new();
    for pair in 0..pairs {
        // Which side goes first alternates, so a drift in training speed cancels out.
        let with_probes = |lat: &mut Vec<f64>| {
            let halt = Arc::new(AtomicBool::new(false));
            let probes = prober(pack.clone(), snap.clone(), Arc::clone(&halt), control);
            let r = rate(phase);
            halt.store(true, Ordering::Relaxed);
            lat.extend(probes.join().unwrap_or_default());
            r
        };
        let (a, b) = if pair % 2 == 0 {
            let a = rate(phase);
            (a, with_probes(&mut lat))
        } else {
            let b = with_probes(&mut lat);
            (rate(phase), b)
        };
        off.push(a);
        on.push(b);
        if a > 0.0 {
            ratios.push(1.0 - b / a);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = train.join();
    lat.sort_by(f64::total_cmp);
    let (off, on) = (Spread::of(&off), Spread::of(&on));
    Ok(ProbeFigures {
        pack: pack.name.clone(),
        network: snap.network_type().into(),
        cells: (env.grid_size() * env.grid_size()) as usize,
        probes: lat.len(),
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        max_ms: lat.last().copied().unwrap_or(0.0),
        slowdown_pct: Spread::of(&ratios).median * 100.0,
        steps_per_s_off: off,
        steps_per_s_on: on,
    })
}

pub fn print(r: &ProbeFigures) {
    println!(
        "{} ({}, {} cells): probe at step {STEP}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} probes (targets: L1 p99 < 50 ms, L2 p99 < 250 ms)",
        r.pack, r.network, r.cells, r.p50_ms, r.p99_ms, r.max_ms, r.probes
    );
    println!(
        "  training: {:.0} env steps/s alone, {:.0} with probes back to back (medians of {} phases): slowdown {:.1} % (median of the pairs' ratios; target < 2 %)",
        r.steps_per_s_off.median, r.steps_per_s_on.median, r.steps_per_s_off.n, r.slowdown_pct
    );
}
