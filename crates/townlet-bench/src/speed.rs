//! The training-speed figures (docs/benchmarks.md#training-speed-issue-18): L1 and L2 (recurrent)
//! throughput with `training.gradients: manual` against `autodiff` (the reference path,
//! the update as it was before hand-written gradients), as interleaved pairs in one run,
//! each run in its own child process (`train-one`, flex; L1 on one compute thread, L2 on
//! `--l2-threads`); and `townlet-demo` (streaming on, one viewer) against `townlet-train`
//! (off) on the default path. `--baseline EXE` runs the old side of the L1 and L2 pairs
//! with another `townlet-bench` build (the code before a change that the autodiff path of
//! this build does not undo: a smaller net, AVX-512 matrix products, overlapped updates).

use crate::stats::Spread;
use crate::training::{ThroughputRun, print_run, run_child_of};
use crate::{streaming, workspace};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One pack's pairs.
#[derive(Debug, Clone, Serialize)]
pub struct PackPairs {
    pub pack: String,
    pub autodiff: Vec<ThroughputRun>,
    pub manual: Vec<ThroughputRun>,
    /// manual ÷ autodiff, steady-state env steps/s, per pair.
    pub ratio: Spread,
    /// manual ÷ autodiff, time of one DQN update.
    pub update_ratio: Spread,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpeedReport {
    pub l1: PackPairs,
    pub l2: PackPairs,
    /// demo (streaming on) ÷ train (off), wall-clock env steps/s, per pair.
    pub demo_vs_train: Option<Spread>,
}

/// How the runs of one pack are made.
struct Sides<'a> {
    /// The executable of the old (autodiff) side.
    old_exe: &'a Path,
    threads: usize,
}

fn pairs(
    pack: &Path,
    seed: u64,
    n: usize,
    episodes: u64,
    sides: &Sides,
) -> anyhow::Result<PackPairs> {
    println!(
        "\n=== {}: autodiff vs manual gradients, {n} interleaved pairs, {} thread(s) ===",
        pack.display(),
        sides.threads
    );
    let this = std::env::current_exe()?;
    if sides.old_exe != this {
        println!("    (old side: {})", sides.old_exe.display());
    }
    let (mut auto, mut hand) = (Vec::new(), Vec::new());
    for i in 0..n {
        // Alternate which side runs first, so a drift in machine speed hits both.
        let order = if i % 2 == 0 {
            ["autodiff", "manual"]
        } else {
            ["manual", "autodiff"]
        };
        for g in order {
            let exe = if g == "manual" {
                this.as_path()
            } else {
                sides.old_exe
            };
            let r = run_child_of(exe, pack, seed, "flex", sides.threads, episodes, Some(g))?;
            print!("  pair {} {g:8} ", i + 1);
            print_run(&r);
            if g == "manual" {
                hand.push(r);
            } else {
                auto.push(r);
            }
        }
    }
    let ratios: Vec<f64> = hand
        .iter()
        .zip(&auto)
        .map(|(m, a)| m.steady_steps_per_s / a.steady_steps_per_s.max(1e-9))
        .collect();
    let update: Vec<f64> = hand
        .iter()
        .zip(&auto)
        .map(|(m, a)| m.update_us / a.update_us.max(1e-9))
        .collect();
    Ok(PackPairs {
        pack: pack.display().to_string(),
        autodiff: auto,
        manual: hand,
        ratio: Spread::of(&ratios),
        update_ratio: Spread::of(&update),
    })
}

fn median(runs: &[ThroughputRun]) -> f64 {
    let xs: Vec<f64> = runs.iter().map(|r| r.steady_steps_per_s).collect();
    Spread::of(&xs).median
}

/// What `speed` runs.
#[derive(Debug, Clone)]
pub struct SpeedOptions {
    pub seed: u64,
    pub pairs: usize,
    pub l1_episodes: u64,
    pub l2_episodes: u64,
    /// Compute threads of the L2 runs (both sides).
    pub l2_threads: usize,
    pub demo_pairs: usize,
    /// Another `townlet-bench` for the old side of the L1 and L2 pairs.
    pub baseline: Option<PathBuf>,
}

/// Run all three figures and print them with their targets.
pub fn run(o: &SpeedOptions) -> anyhow::Result<SpeedReport> {
    let (seed, n, demo_pairs) = (o.seed, o.pairs, o.demo_pairs);
    let l1_pack = workspace().join("configs/L1_full_observability");
    let l2_pack = workspace().join("configs/L2_partial_observability");
    let this = std::env::current_exe()?;
    let old_exe = o.baseline.as_deref().unwrap_or(&this);
    let side = |threads| Sides { old_exe, threads };
    let l1 = pairs(&l1_pack, seed, n, o.l1_episodes, &side(1))?;
    let l2 = pairs(&l2_pack, seed, n, o.l2_episodes, &side(o.l2_threads))?;
    let demo_vs_train = if demo_pairs > 0 {
        println!("\n=== townlet-demo (streaming on, one viewer) vs townlet-train (off), L1 ===");
        townlet_runner::threads::set_compute_threads(1);
        let r = streaming::run(&l1_pack, demo_pairs, 100, seed)?;
        let ratios: Vec<f64> = r
            .off
            .iter()
            .zip(&r.on)
            .map(|(off, on)| on.steps_per_s / off.steps_per_s.max(1e-9))
            .collect();
        Some(Spread::of(&ratios))
    } else {
        None
    };
    println!(
        "\n=== training speed (flex; L1 one compute thread, L2 {}; steady-state env steps/s) ===",
        o.l2_threads
    );
    for (name, p, target) in [
        ("L1 training", &l1, "≥ 10,000"),
        ("L2 recurrent training", &l2, "≥ 400"),
    ] {
        println!(
            "{name}: manual {:.0} env steps/s (median of {}), autodiff (old) {:.0}; ratio {:.2} (median; {:.2}–{:.2}); one update {:.2}× the old time (target {target})",
            median(&p.manual),
            p.manual.len(),
            median(&p.autodiff),
            p.ratio.median,
            p.ratio.min,
            p.ratio.max,
            p.update_ratio.median,
        );
    }
    if let Some(d) = &demo_vs_train {
        println!(
            "townlet-demo vs townlet-train: {:.1} % (median of {}; {:.1}–{:.1} %) (target ≥ 90 %)",
            100.0 * d.median,
            d.n,
            100.0 * d.min,
            100.0 * d.max
        );
    }
    Ok(SpeedReport {
        l1,
        l2,
        demo_vs_train,
    })
}
