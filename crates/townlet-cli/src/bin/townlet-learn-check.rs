//! `townlet-learn-check` (docs/training.md#learn-check): does the DQN learn? Prints
//! every criterion with its measured value, threshold and pass/fail, plus baselines in
//! the same world.

use anyhow::Result;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use townlet_config::NetworkType;
use townlet_runner::EvalOptions;
use townlet_runner::learn_check::{self, Criterion, RunSpec, RunTrace};

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

#[derive(Parser, Debug)]
#[command(name = "townlet-learn-check")]
struct Args {
    /// Which runs: l0 (L0_0, 500 ep), l1 (L1, 3000 ep), l1-static (L1 stage 4, 1500 ep),
    /// all (those three); l2 / l3 (POMDP packs at stage 4, 1000 ep, recurrent vs MLP
    /// with greedy evaluations, issue 8), pomdp (both).
    #[arg(long, default_value = "all")]
    suite: String,
    /// Seeds (default: 1,2,3).
    #[arg(long, value_delimiter = ',')]
    seeds: Option<Vec<u64>>,
    /// Scale every run's episode count (e.g. 0.2 for a quick look; the criteria assume 1.0).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Where the runs are written (default: a temp folder).
    #[arg(long)]
    runs_root: Option<PathBuf>,
    /// burn compute threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Write the traces and criteria as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Replace a pack value, KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", long_help = townlet_cli::set::HELP)]
    set: Vec<String>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            townlet_cli::report::fail(&e);
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<()> {
    townlet_runner::threads::set_compute_threads(args.threads);
    let ws = PathBuf::from(WORKSPACE);
    let tmp;
    let root = match &args.runs_root {
        Some(r) => r.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!("townlet-learn-check-{}", std::process::id()));
            tmp.clone()
        }
    };
    let scaled = |n: u64| ((n as f64 * args.scale).round() as u64).max(1);
    let suites: Vec<(&str, &str, u64, Option<u8>)> = [
        ("l0", "configs/L0_0_minimal", 500, None),
        ("l1", "configs/L1_full_observability", 3000, None),
        (
            "l1-static",
            "configs/L1_full_observability",
            1500,
            Some(4u8),
        ),
        ("l2", "configs/L2_partial_observability", 1000, Some(4u8)),
        ("l3", "configs/L3_temporal_mechanics", 1000, Some(4u8)),
    ]
    .into_iter()
    .filter(|(s, ..)| {
        args.suite == *s
            || (args.suite == "all" && !s.starts_with("l2") && !s.starts_with("l3"))
            || (args.suite == "pomdp" && (*s == "l2" || *s == "l3"))
    })
    .collect();
    if suites.is_empty() {
        anyhow::bail!(
            "--suite must be l0, l1, l1-static, all, l2, l3 or pomdp (got '{}')",
            args.suite
        );
    }
    // Every suite's pack with the --set values, checked before anything trains.
    let overrides = townlet_cli::set::parse(&args.set)?;
    for (_, pack, ..) in &suites {
        townlet_config::load_pack_with(&ws.join(pack), &overrides)?;
    }
    let mut all_criteria: Vec<Criterion> = vec![];
    let mut traces: Vec<RunTrace> = vec![];
    for (suite, pack, episodes, stage) in suites {
        let pack_dir = ws.join(pack);
        let pomdp = suite == "l2" || suite == "l3";
        let seeds = args.seeds.clone().unwrap_or_else(|| vec![1, 2, 3]);
        if pomdp {
            // Issue 8: recurrent vs MLP, greedy evaluations every 100 episodes
            // (docs/decisions.md#greedy-evaluation-in-learn-check).
            let evaluation = Some(EvalOptions {
                every: scaled(100),
                episodes: 20,
            });
            let mut by_net: Vec<Vec<RunTrace>> = vec![];
            for network in [NetworkType::Recurrent, NetworkType::Simple] {
                let mut runs = vec![];
                for &seed in &seeds {
                    eprintln!(
                        "{suite}: seed {seed}, {network:?} network, {} episodes at stage 4 …",
                        scaled(episodes)
                    );
                    let t = learn_check::run_protocol(
                        suite,
                        &pack_dir,
                        seed,
                        scaled(episodes),
                        RunSpec {
                            static_stage: stage,
                            network: Some(network),
                            evaluation,
                            overrides: overrides.clone(),
                        },
                        root.join(format!("{suite}_{network:?}_seed{seed}")),
                    )?;
                    runs.push(t);
                }
                by_net.push(runs);
            }
            let mut baselines = vec![];
            for &seed in &seeds {
                let random = learn_check::baseline(&pack_dir, &overrides, seed, 4, None, 300)?;
                let rest = learn_check::baseline(&pack_dir, &overrides, seed, 4, Some("REST"), 20)?;
                println!(
                    "baseline {suite} stage 4, seed {seed}'s world: random {random:.0}, REST {rest:.0}"
                );
                baselines.push((seed, random, rest));
            }
            for runs in &by_net {
                for t in runs {
                    let evals: Vec<String> = t
                        .evaluations
                        .iter()
                        .map(|(_, m)| format!("{m:.0}"))
                        .collect();
                    println!(
                        "{suite} seed {} {}: greedy evaluation means every {} episodes: {}",
                        t.seed,
                        t.network,
                        scaled(100),
                        evals.join(" ")
                    );
                }
            }
            let id = if suite == "l2" { "L2-1" } else { "L3-1" };
            let cap = townlet_config::load_pack_with(&pack_dir, &overrides)?
                .curriculum
                .max_steps_per_episode as f64;
            all_criteria.extend(learn_check::judge_pomdp(
                id, &by_net[0], &by_net[1], &baselines, cap,
            ));
            traces.extend(by_net.into_iter().flatten());
            continue;
        }
        let mut runs = vec![];
        for &seed in &seeds {
            eprintln!("{suite}: seed {seed}, {} episodes …", scaled(episodes));
            let t = learn_check::run_protocol(
                suite,
                &pack_dir,
                seed,
                scaled(episodes),
                RunSpec {
                    static_stage: stage,
                    overrides: overrides.clone(),
                    ..RunSpec::default()
                },
                root.join(format!("{suite}_seed{seed}")),
            )?;
            runs.push(t);
        }
        // Baselines in the same world as seed 1's layout.
        let seed = seeds.first().copied().unwrap_or(1);
        let stages: &[u8] = match stage {
            Some(s) => &[s],
            None if suite == "l0" => &[1, 2],
            None => &[1, 2, 3],
        };
        for &st in stages {
            let random = learn_check::baseline(&pack_dir, &overrides, seed, st, None, 300)?;
            let wait = learn_check::baseline(&pack_dir, &overrides, seed, st, Some("WAIT"), 20)?;
            let rest = learn_check::baseline(&pack_dir, &overrides, seed, st, Some("REST"), 20)?;
            let med = learn_check::baseline(&pack_dir, &overrides, seed, st, Some("MEDITATE"), 20)?;
            println!(
                "baseline {suite} stage {st}: random {random:.0}, WAIT {wait:.0}, REST {rest:.0}, MEDITATE {med:.0}"
            );
        }
        let crit = match suite {
            "l0" => learn_check::judge_l0(&runs),
            "l1" => learn_check::judge_l1(&runs),
            _ => learn_check::judge_l1_static(&runs),
        };
        all_criteria.extend(crit);
        traces.extend(runs);
    }
    println!();
    let mut passed = 0;
    let mut failed = 0;
    for c in &all_criteria {
        println!(
            "{} — {}: {}",
            c.id,
            c.description,
            if c.pass { "PASS" } else { "FAIL" }
        );
        for (seed, text, ok) in &c.per_seed {
            println!("    seed {seed}: {text}  {}", if *ok { "ok" } else { "no" });
        }
        if c.pass {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    if args.scale != 1.0 {
        println!(
            "(episode counts scaled by {}; the thresholds assume the full protocol)",
            args.scale
        );
    }
    println!("learn-check: {passed} passed, {failed} failed");
    if let Some(p) = &args.json {
        let doc = serde_json::json!({ "criteria": all_criteria, "traces": traces });
        std::fs::write(p, serde_json::to_string_pretty(&doc)?)?;
    }
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
