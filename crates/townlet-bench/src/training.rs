//! L1 training throughput (issue 4 item 8, docs/decisions.md#throughput-targets): env
//! steps/s per device and compute thread count, the cost of one DQN update, and where the
//! training thread's time goes.
//! Each configuration runs in its own child process (burn's compute pool is sized once
//! per process).

use crate::procfs;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use townlet_config::{DeviceKind, Overrides};
use townlet_runner::threads::COMPUTE_THREAD_PREFIX;
use townlet_runner::{DemoRunner, EpisodeReport, PhaseTimes, RunnerOptions};

/// One configuration's measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThroughputRun {
    pub device: String,
    pub threads: usize,
    pub episodes: u64,
    pub env_steps: u64,
    pub wall_s: f64,
    /// Whole run, wall clock.
    pub steps_per_s: f64,
    /// Episodes after the first tenth and after the first episode with an update.
    pub steady_steps_per_s: f64,
    /// Trainer thread + compute threads, per env step.
    pub cpu_us_per_step: f64,
    pub updates: u64,
    pub update_us: f64,
    /// Share of the episode loop's wall time per phase (percent).
    pub shares: Vec<(String, f64)>,
    pub mean_length_last_10: f64,
}

/// Train L1 from scratch for `episodes` episodes in a temp folder and measure.
pub fn run_one(
    pack: &Path,
    device: DeviceKind,
    threads: usize,
    episodes: u64,
    seed: u64,
    gradients: Option<&str>,
) -> anyhow::Result<ThroughputRun> {
    townlet_runner::threads::set_compute_threads(threads);
    let tmp = tempfile::tempdir()?;
    let overrides = match gradients {
        Some(g) => Overrides::from_flags(&[format!("training.gradients={g}")])
            .map_err(|e| anyhow::anyhow!("bad --gradients {g}: {e:?}"))?,
        None => Overrides::default(),
    };
    let opts = RunnerOptions {
        overrides,
        pack_dir: Some(pack.to_path_buf()),
        run_dir: Some(tmp.path().join("run")),
        episodes: Some(episodes),
        seed: Some(seed),
        device: Some(device),
        ..Default::default()
    };
    let pool_cpu0 = procfs::threads_cpu_ns(COMPUTE_THREAD_PREFIX);
    let result = std::thread::Builder::new()
        .name("townlet-trainer".into())
        .spawn(
            move || -> anyhow::Result<(PhaseTimes, Vec<EpisodeReport>)> {
                let mut runner = DemoRunner::new(&opts, None, Arc::new(AtomicBool::new(false)))?;
                let mut reports = Vec::new();
                runner.run(&mut |r| reports.push(r.clone()))?;
                runner.shutdown()?;
                Ok((runner.phase_times(), reports))
            },
        )?
        .join()
        .map_err(|_| anyhow::anyhow!("the training thread panicked"))?;
    let (phase, reports) = result?;
    let pool_cpu = procfs::threads_cpu_ns(COMPUTE_THREAD_PREFIX).saturating_sub(pool_cpu0);
    let steps = phase.env_steps.max(1);
    // Steady state: skip the first tenth, and every episode up to the first one that had
    // an update (L2's sequence buffer needs 16 whole episodes before it samples), so each
    // counted step carries its share of the learner's work.
    let first_update = reports
        .iter()
        .position(|r| r.loss_mean.is_some())
        .map_or(reports.len(), |i| i + 1);
    let warm = (reports.len() / 10)
        .max(first_update)
        .min(reports.len().saturating_sub(1));
    let (s_steps, s_ns) = reports[warm..].iter().fold((0u64, 0u64), |(s, n), r| {
        (s + u64::from(r.length), n + r.wall_ns)
    });
    let last: Vec<f64> = reports
        .iter()
        .rev()
        .take(10)
        .map(|r| f64::from(r.length))
        .collect();
    let total = phase.total_ns.max(1) as f64;
    let pct = |ns: u64| 100.0 * ns as f64 / total;
    let accounted = phase.act_ns
        + phase.env_ns
        + phase.record_ns
        + phase.store_ns
        + phase.learn_ns
        + phase.rnd_ns
        + phase.episode_end_ns;
    Ok(ThroughputRun {
        device: format!("{device:?}").to_lowercase(),
        threads,
        episodes: reports.len() as u64,
        env_steps: phase.env_steps,
        wall_s: phase.total_ns as f64 / 1e9,
        steps_per_s: phase.env_steps as f64 / (phase.total_ns.max(1) as f64 / 1e9),
        steady_steps_per_s: s_steps as f64 / (s_ns.max(1) as f64 / 1e9),
        cpu_us_per_step: (phase.cpu_ns + pool_cpu) as f64 / 1e3 / steps as f64,
        updates: phase.updates,
        update_us: phase.update_ns as f64 / 1e3 / phase.updates.max(1) as f64,
        shares: vec![
            ("act (Q forward + selection)".into(), pct(phase.act_ns)),
            ("env step".into(), pct(phase.env_ns)),
            (
                "record (record_step + finish_episode)".into(),
                pct(phase.record_ns),
            ),
            ("store transitions".into(), pct(phase.store_ns)),
            (
                "learn (DQN updates; with overlap: waits for the learner thread)".into(),
                pct(phase.learn_ns),
            ),
            ("RND (novelty + predictor)".into(), pct(phase.rnd_ns)),
            (
                "episode end (curriculum, checkpoints)".into(),
                pct(phase.episode_end_ns),
            ),
            (
                "other (loop)".into(),
                pct(phase.total_ns.saturating_sub(accounted)),
            ),
        ],
        mean_length_last_10: last.iter().sum::<f64>() / last.len().max(1) as f64,
    })
}

/// [`run_one`] in a child process of the `townlet-bench` executable `exe` (`train-one`):
/// burn's compute pool is sized once per process, so each configuration gets its own. `exe`
/// is this binary, or an older build for before/after pairs that knows `train-one` with the
/// same flags.
pub fn run_child_of(
    exe: &Path,
    pack: &Path,
    seed: u64,
    device: &str,
    threads: usize,
    episodes: u64,
    gradients: Option<&str>,
) -> anyhow::Result<ThroughputRun> {
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--pack")
        .arg(pack)
        .args(["--seed", &seed.to_string(), "train-one", "--device", device])
        .args(["--threads", &threads.to_string()])
        .args(["--episodes", &episodes.to_string()]);
    if let Some(g) = gradients {
        cmd.args(["--gradients", g]);
    }
    let output = cmd.output()?;
    anyhow::ensure!(
        output.status.success(),
        "train-one {device} × {threads} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .rfind(|l| l.starts_with('{'))
        .ok_or_else(|| anyhow::anyhow!("train-one printed no result"))?;
    Ok(serde_json::from_str(line)?)
}

/// Print one measurement as a readable block.
pub fn print_run(r: &ThroughputRun) {
    println!(
        "{} × {} thread(s): {} episodes, {} env steps in {:.1} s → {:.0} env steps/s (after warm-up {:.0}); CPU {:.1} µs/step; {} DQN updates at {:.0} µs each",
        r.device,
        r.threads,
        r.episodes,
        r.env_steps,
        r.wall_s,
        r.steps_per_s,
        r.steady_steps_per_s,
        r.cpu_us_per_step,
        r.updates,
        r.update_us
    );
    for (name, pct) in &r.shares {
        println!("    {pct:5.1} %  {name}");
    }
}
