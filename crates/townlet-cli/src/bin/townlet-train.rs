//! `townlet-train`: training alone (no server). Thin over `townlet_runner::DemoRunner`.

use anyhow::Result;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use townlet_cli::flags::{DeviceArg, NetworkArg};
use townlet_config::{DeviceKind, NetworkType};
use townlet_runner::{DemoRunner, RunnerOptions};

/// Train a Townlet DQN agent on a config pack.
#[derive(Parser, Debug)]
#[command(name = "townlet-train", version)]
struct Args {
    /// Pack folder, e.g. configs/L1_full_observability (optional when resuming --run).
    #[arg(long)]
    pack: Option<PathBuf>,
    /// Episodes to train in total (overrides training.max_episodes).
    #[arg(long)]
    episodes: Option<u64>,
    /// Master seed (overrides training.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// burn CPU device.
    #[arg(long, value_enum)]
    device: Option<DeviceArg>,
    /// Q-network (overrides population.network_type).
    #[arg(long, value_enum)]
    network: Option<NetworkArg>,
    /// Run folder: created when absent, resumed when it exists.
    #[arg(long)]
    run: Option<PathBuf>,
    /// Where new runs go (default ./runs).
    #[arg(long, default_value = "runs")]
    runs_root: PathBuf,
    /// Compute threads for burn (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Train at a fixed curriculum stage 1–5 (curriculum.kind: static).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
    static_stage: Option<u8>,
    /// Print a summary line every N episodes.
    #[arg(long, default_value_t = 100)]
    summary_every: u64,
    /// No progress bar (log lines only).
    #[arg(long)]
    quiet: bool,
    /// Replace a pack value, KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", long_help = townlet_cli::set::HELP)]
    set: Vec<String>,
    /// Publish every finished episode to a NATS JetStream server (nats://HOST:PORT,
    /// nats://USER:PASS@HOST:PORT, tls://HOST:PORT); see docs/deployment.md.
    #[arg(long, value_name = "URL")]
    publish: Option<String>,
    /// NATS credentials file for --publish.
    #[arg(long, value_name = "FILE", requires = "publish")]
    nats_creds: Option<PathBuf>,
    /// The run's id on the bus (default: <pack>-<run folder name>).
    #[arg(long, value_name = "ID", requires = "publish")]
    bus_run_id: Option<String>,
}

fn main() -> ExitCode {
    townlet_cli::flags::main_with(Args::parse(), run)
}

fn run(args: Args, log: &townlet_cli::logging::LogFile) -> Result<()> {
    townlet_runner::threads::set_compute_threads(
        args.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    );
    let overrides = townlet_cli::set::parse(&args.set)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        townlet_cli::signals::on_ctrl_c("stopping at the next step", move || {
            stop.store(true, Ordering::SeqCst)
        })?;
    }
    let opts = RunnerOptions {
        pack_dir: args.pack.clone(),
        run_dir: args.run.clone(),
        runs_root: Some(args.runs_root.clone()),
        episodes: args.episodes,
        seed: args.seed,
        device: args.device.map(DeviceKind::from),
        network: args.network.map(NetworkType::from),
        static_stage: args.static_stage,
        max_steps: None,
        stop_after_steps: None,
        evaluation: None,
        overrides,
    };
    if opts.pack_dir.is_none() && opts.run_dir.is_none() {
        anyhow::bail!("give --pack DIR for a new run, or --run DIR to resume one");
    }
    let bus = match &args.publish {
        Some(url) => Some(townlet_cli::bus::options(url, args.nats_creds.clone())?),
        None => None,
    };
    if let Some(id) = &args.bus_run_id
        && !townlet_nats::valid_bus_run_id(id)
    {
        return Err(townlet_nats::NatsError::RunId(id.clone()).into());
    }
    let (bus_sender, bus_queue) = townlet_nats::publish_queue(townlet_nats::PUBLISH_QUEUE_CAPACITY);
    let callback = args.publish.is_some().then(|| bus_sender.into_callback());
    let mut runner = DemoRunner::new(&opts, callback, Arc::clone(&stop))?;
    log.attach(&runner.folder().log_path());
    let publisher = match &bus {
        Some(opts) => Some(townlet_cli::bus::start_publisher(
            opts,
            args.bus_run_id.as_deref(),
            &runner,
            bus_queue,
        )?),
        None => None,
    };
    let total = runner.max_episodes();
    let first = runner.next_episode();
    tracing::info!(
        "run folder {} — pack {}, episodes {first}..{total}, device {}",
        runner.run_dir().display(),
        runner.pack().name,
        runner.agent().device_name()
    );
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} ep  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(first);
    let mut window: VecDeque<u32> = VecDeque::new();
    let started = Instant::now();
    let steps_at_start = runner.agent().total_steps();
    let mut last_steps = steps_at_start;
    let mut last_t = Instant::now();
    let every = args.summary_every.max(1);
    let summary = runner.run(&mut |r| {
        window.push_back(r.length);
        if window.len() > 100 {
            window.pop_front();
        }
        let avg = window.iter().map(|&t| f64::from(t)).sum::<f64>() / window.len() as f64;
        let dt = last_t.elapsed().as_secs_f64().max(1e-9);
        let sps = (r.total_steps - last_steps) as f64 / dt;
        last_steps = r.total_steps;
        last_t = Instant::now();
        bar.set_position(r.episode + 1);
        bar.set_message(format!(
            "{sps:>6.0} steps/s  survival(100) {avg:>5.1}  ε {:.3}  stage {}",
            r.epsilon, r.stage
        ));
        if let Some(to) = r.stage_changed_to {
            bar.println(format!("episode {}: curriculum stage {} → {to}", r.episode, r.stage));
        }
        if (r.episode + 1).is_multiple_of(every) {
            let line = format!(
                "episode {:>6}  survival(100) {avg:6.1}  last {:4} ({})  ε {:.3}  w {:.3}  stage {}  loss {}",
                r.episode,
                r.length,
                r.end_reason,
                r.epsilon,
                r.intrinsic_weight,
                r.stage,
                r.loss_mean.map_or("-".to_string(), |l| format!("{l:.4}"))
            );
            bar.suspend(|| tracing::info!("{line}"));
        }
    })?;
    bar.finish_and_clear();
    let counters = runner.shutdown()?;
    let secs = started.elapsed().as_secs_f64();
    let steps = runner.agent().total_steps() - steps_at_start;
    tracing::info!(
        "{} {} episodes in {secs:.1} s ({:.0} env steps/s); {} recordings written; next episode {}; checkpoint {}",
        if summary.interrupted {
            "stopped after"
        } else {
            "finished"
        },
        summary.episodes_run,
        steps as f64 / secs.max(1e-9),
        counters.episodes_written,
        summary.next_episode,
        summary
            .last_checkpoint
            .as_ref()
            .map_or("-".to_string(), |p| p.display().to_string())
    );
    if let Some(p) = publisher {
        tracing::info!("{}", p.finish(std::time::Duration::from_secs(5)));
    }
    println!("{}", summary.run_dir.display());
    Ok(())
}
