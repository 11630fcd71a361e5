//! `townlet-bench` (run by `cargo xtask bench`, release): training throughput, streaming
//! overhead and latency, live queue size, many viewers, episode export (GIF, MP4). Prints each figure with its
//! target; `--json FILE` keeps the numbers. See docs/benchmarks.md.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use townlet_bench::{export, lab, nats, presenter, probe, speed, streaming, training, viewers};
use townlet_config::DeviceKind;

#[derive(Parser, Debug)]
#[command(
    name = "townlet-bench",
    about = "Townlet training and streaming benchmarks"
)]
struct Args {
    #[command(subcommand)]
    what: Option<What>,
    /// Pack to train (default: configs/L1_full_observability).
    #[arg(long, global = true)]
    pack: Option<PathBuf>,
    /// Seed of every run.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    /// Write the results as JSON here.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum What {
    /// Everything below, in order (the default).
    All,
    /// Throughput per device and thread count, DQN update cost, phase shares.
    Training {
        /// Episodes per flex run.
        #[arg(long, default_value_t = 150)]
        episodes: u64,
        /// Episodes per ndarray run (it is several times slower).
        #[arg(long, default_value_t = 40)]
        ndarray_episodes: u64,
    },
    /// Streaming off vs on (one viewer at 1×), latency, live queue bytes.
    Streaming {
        #[arg(long, default_value_t = 5)]
        pairs: usize,
        #[arg(long, default_value_t = 100)]
        episodes: u64,
    },
    /// Many WebSocket viewers against the training unified server.
    Viewers {
        #[arg(long, default_value_t = 500)]
        clients: usize,
        #[arg(long, default_value_t = 2)]
        pairs: usize,
        #[arg(long, default_value_t = 150)]
        episodes: u64,
    },
    /// A lab: several runs of the pack trained side by side in one process, one viewer
    /// following each at 1×; per-run throughput and viewer latency (not part of `all`).
    Lab {
        #[arg(long, default_value_t = 2)]
        runs: usize,
        #[arg(long, default_value_t = 150)]
        episodes: u64,
    },
    /// "Ask the agent": probe latency at step 400 on L1 and L2 (recurrent) while
    /// training runs, and the training slowdown with probes running back to back (not
    /// part of `all`).
    Probe {
        /// Interleaved pairs of phases (training alone, training + probes).
        #[arg(long, default_value_t = 3)]
        pairs: usize,
        /// Seconds per phase.
        #[arg(long, default_value_t = 10.0)]
        phase_s: f64,
        /// A control run: the "with probes" phases run no probes (both sides are training
        /// alone), so the slowdown it reports is the noise floor of this machine.
        #[arg(long)]
        control: bool,
    },
    /// The training-speed figures: L1 and L2 (recurrent) throughput with hand-written
    /// gradients against the autodiff path as interleaved pairs, and townlet-demo (streaming
    /// on) against townlet-train (off). Not part of `all`.
    Speed {
        #[arg(long, default_value_t = 3)]
        pairs: usize,
        #[arg(long, default_value_t = 150)]
        l1_episodes: u64,
        #[arg(long, default_value_t = 40)]
        l2_episodes: u64,
        /// Compute threads of the L2 runs (both sides; the L1 runs use one).
        #[arg(long, default_value_t = 2)]
        l2_threads: usize,
        /// Pairs of the demo-vs-train comparison (0 skips it).
        #[arg(long, default_value_t = 3)]
        demo_pairs: usize,
        /// Another townlet-bench executable for the old side of the L1 and L2 pairs (e.g. a build
        /// of the commit before a change).
        #[arg(long)]
        baseline: Option<PathBuf>,
    },
    /// Trainers and viewer servers joined by NATS JetStream (needs nats-server; not part
    /// of `all`): publish on/off pairs, latency through the bus, many trainers and
    /// clients.
    Nats {
        #[arg(long, default_value_t = 5)]
        pairs: usize,
        #[arg(long, default_value_t = 100)]
        episodes: u64,
        /// Pack of the many-trainers run (default: configs/L0_0_minimal).
        #[arg(long)]
        scale_pack: Option<PathBuf>,
        #[arg(long, default_value_t = 8)]
        trainers: usize,
        /// WebSocket clients per viewer server (two servers).
        #[arg(long, default_value_t = 500)]
        clients: usize,
        #[arg(long, default_value_t = 200)]
        scale_episodes: u64,
    },
    /// Presenter lag: a teacher presenting to N followers (teacher move → follower
    /// received, p50/p99; not part of `all`).
    Presenter {
        #[arg(long, default_value_t = 100)]
        followers: usize,
        #[arg(long, default_value_t = 200)]
        moves: usize,
    },
    /// Episode export: a walk of STEPS steps through the pack's world exported as an
    /// animated GIF and as an MP4, each timed RUNS times.
    Export {
        #[arg(long, default_value_t = 500)]
        steps: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// One throughput configuration in this process (used by `training`).
    #[command(hide = true)]
    TrainOne {
        #[arg(long)]
        device: String,
        #[arg(long)]
        threads: usize,
        #[arg(long)]
        episodes: u64,
        /// `training.gradients` for this run (the pack's value if absent).
        #[arg(long)]
        gradients: Option<String>,
    },
    /// Viewers in this process until stdin closes (used by `viewers`).
    #[command(hide = true)]
    Clients {
        #[arg(long)]
        url: String,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 5.0)]
        pull_every_s: f64,
    },
}

fn main() {
    // Quiet by default: the runs' own info lines would bury the figures.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let pack = args.pack.clone().unwrap_or_else(townlet_bench::l1_pack);
    let seed = args.seed;
    let mut out = serde_json::Map::new();
    match args.what.unwrap_or(What::All) {
        What::TrainOne {
            device,
            threads,
            episodes,
            gradients,
        } => {
            let device = parse_device(&device)?;
            let r =
                training::run_one(&pack, device, threads, episodes, seed, gradients.as_deref())?;
            println!("{}", serde_json::to_string(&r)?);
            return Ok(());
        }
        What::Clients {
            url,
            count,
            pull_every_s,
        } => {
            return viewers::clients_main(&url, count, Duration::from_secs_f64(pull_every_s));
        }
        What::Training {
            episodes,
            ndarray_episodes,
        } => {
            out.insert(
                "training".into(),
                bench_training(&pack, seed, episodes, ndarray_episodes)?,
            );
        }
        What::Streaming { pairs, episodes } => {
            out.insert(
                "streaming".into(),
                bench_streaming(&pack, seed, pairs, episodes)?,
            );
        }
        What::Viewers {
            clients,
            pairs,
            episodes,
        } => {
            out.insert(
                "viewers".into(),
                bench_viewers(&pack, seed, clients, pairs, episodes)?,
            );
        }
        What::Probe {
            pairs,
            phase_s,
            control,
        } => {
            townlet_runner::threads::set_compute_threads(1);
            let mut all = Vec::new();
            for name in ["L1_full_observability", "L2_partial_observability"] {
                let dir = townlet_bench::workspace().join("configs").join(name);
                println!("\n=== ask the agent: {name} ===");
                let r = probe::run(&dir, pairs, Duration::from_secs_f64(phase_s), seed, control)?;
                probe::print(&r);
                all.push(r);
            }
            out.insert("probe".into(), serde_json::to_value(all)?);
        }
        What::Speed {
            pairs,
            l1_episodes,
            l2_episodes,
            l2_threads,
            demo_pairs,
            baseline,
        } => {
            let r = speed::run(&speed::SpeedOptions {
                seed,
                pairs,
                l1_episodes,
                l2_episodes,
                l2_threads,
                demo_pairs,
                baseline,
            })?;
            out.insert("speed".into(), serde_json::to_value(r)?);
        }
        What::Lab { runs, episodes } => {
            println!(
                "\n=== lab: {runs} runs side by side ({}) ===",
                pack.display()
            );
            let r = lab::run(&pack, runs, episodes, seed)?;
            lab::print(&r);
            out.insert("lab".into(), serde_json::to_value(r)?);
        }
        What::Nats {
            pairs,
            episodes,
            scale_pack,
            trainers,
            clients,
            scale_episodes,
        } => {
            let scale_pack = scale_pack
                .unwrap_or_else(|| townlet_bench::workspace().join("configs/L0_0_minimal"));
            println!(
                "\n=== NATS JetStream: {pairs} publish on/off pairs ({}), latency, {trainers} trainers ({}) + 2 viewer servers × {clients} clients ===",
                pack.display(),
                scale_pack.display()
            );
            let r = nats::run(
                &pack,
                pairs,
                episodes,
                seed,
                &scale_pack,
                trainers,
                clients,
                scale_episodes,
            )?;
            nats::print(&r);
            out.insert("nats".into(), serde_json::to_value(r)?);
        }
        What::Presenter { followers, moves } => {
            println!("\n=== presenter lag ({followers} followers) ===");
            let r = presenter::run(&pack, followers, moves)?;
            presenter::print(&r);
            out.insert("presenter".into(), serde_json::to_value(r)?);
        }
        What::Export { steps, runs } => {
            out.insert("export".into(), bench_export(&pack, seed, steps, runs)?);
        }
        What::All => {
            out.insert("training".into(), bench_training(&pack, seed, 150, 40)?);
            out.insert("streaming".into(), bench_streaming(&pack, seed, 5, 100)?);
            out.insert("viewers".into(), bench_viewers(&pack, seed, 500, 2, 150)?);
            out.insert("export".into(), bench_export(&pack, seed, 500, 3)?);
        }
    }
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_string_pretty(&out)?)
            .with_context(|| format!("could not write {}", p.display()))?;
        println!("results written to {}", p.display());
    }
    Ok(())
}

fn parse_device(s: &str) -> Result<DeviceKind> {
    match s {
        "flex" => Ok(DeviceKind::Flex),
        "ndarray" => Ok(DeviceKind::Ndarray),
        other => anyhow::bail!("--device must be flex or ndarray (got '{other}')"),
    }
}

fn bench_training(
    pack: &std::path::Path,
    seed: u64,
    episodes: u64,
    ndarray_episodes: u64,
) -> Result<serde_json::Value> {
    println!("\n=== training throughput ({}) ===", pack.display());
    let mut runs = Vec::new();
    for (device, threads, eps) in [
        ("flex", 1, episodes),
        ("flex", 2, episodes),
        ("ndarray", 1, ndarray_episodes),
    ] {
        // One process per configuration: burn's compute pool is sized once per process.
        let exe = std::env::current_exe()?;
        let r = training::run_child_of(&exe, pack, seed, device, threads, eps, None)?;
        training::print_run(&r);
        runs.push(r);
    }
    // ≥ 6,000 env steps/s for the MLP (L1), ≥ 150 for the recurrent network (L2)
    // (docs/decisions.md#throughput-targets).
    let recurrent = townlet_config::load_pack(pack)
        .map(|p| p.population.network_type == townlet_config::NetworkType::Recurrent)
        .unwrap_or(false);
    let target = if recurrent { "150" } else { "6,000" };
    println!(
        "(target: ≥ {target} env steps/s on flex, docs/decisions.md#throughput-targets; \
         \"after warm-up\" counts the episodes after the first tenth and after the first \
         one with an update)"
    );
    Ok(serde_json::to_value(runs)?)
}

fn bench_streaming(
    pack: &std::path::Path,
    seed: u64,
    pairs: usize,
    episodes: u64,
) -> Result<serde_json::Value> {
    println!("\n=== streaming: off vs on, latency, live queue ===");
    townlet_runner::threads::set_compute_threads(1);
    let r = streaming::run(pack, pairs, episodes, seed)?;
    streaming::print(&r);
    Ok(serde_json::to_value(r)?)
}

fn bench_viewers(
    pack: &std::path::Path,
    seed: u64,
    clients: usize,
    pairs: usize,
    episodes: u64,
) -> Result<serde_json::Value> {
    println!("\n=== many viewers ===");
    townlet_runner::threads::set_compute_threads(1);
    let r = viewers::run(pack, clients, pairs, episodes, seed)?;
    viewers::print(&r);
    Ok(serde_json::to_value(r)?)
}

fn bench_export(
    pack: &std::path::Path,
    seed: u64,
    steps: usize,
    runs: usize,
) -> Result<serde_json::Value> {
    println!("\n=== episode export: GIF and MP4 ({}) ===", pack.display());
    let r = export::run(pack, steps, runs, seed)?;
    export::print(&r);
    Ok(serde_json::to_value(r)?)
}
