//! `townlet-demo`: train and watch live in the browser, in one process.

use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use townlet_cli::flags::DeviceArg;
use townlet_config::DeviceKind;
use townlet_inference::{DEFAULT_PORT, ServerOptions};
use townlet_runner::RunnerOptions;
use townlet_unified_server::tap::Tap;
use townlet_unified_server::{DemoOptions, LabOptions, ShutdownHandle, run_demo, run_lab};

/// The workspace this binary was built from (defaults resolve from here, not the cwd).
const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Train a Townlet agent and watch its actual training episodes live in a browser.
#[derive(Parser, Debug)]
#[command(name = "townlet-demo", version)]
struct Args {
    /// Lab file: train every run it lists, side by side, and serve them on one port
    /// (run folders under <runs-root>/labs/<file name>/<time>/<run id>/).
    #[arg(
        long,
        conflicts_with_all = ["pack", "run", "episodes", "seed", "static_stage", "max_steps", "wait_for_viewers"]
    )]
    lab: Option<PathBuf>,
    /// With --lab: continue the newest lab folder of this lab file (each run from its
    /// last checkpoint) instead of starting new runs.
    #[arg(long, requires = "lab")]
    resume: bool,
    /// Pack folder (default: the workspace's configs/L1_full_observability).
    #[arg(long)]
    pack: Option<PathBuf>,
    /// Episodes to train (overrides training.max_episodes).
    #[arg(long)]
    episodes: Option<u64>,
    /// Master seed (overrides training.seed).
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, value_enum)]
    device: Option<DeviceArg>,
    /// Address to listen on (use 0.0.0.0 to expose on a network).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Run folder: created when absent, resumed when it exists.
    #[arg(long)]
    run: Option<PathBuf>,
    /// Where new runs go.
    #[arg(long, default_value = "runs")]
    runs_root: PathBuf,
    /// Built frontend (default: the workspace's frontend/dist).
    #[arg(long = "static")]
    static_dir: Option<PathBuf>,
    /// Compute threads for burn (1: the other core serves viewers).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Train at a fixed curriculum stage 1–5.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
    static_stage: Option<u8>,
    /// Override curriculum.max_steps_per_episode (short episodes for a quick look).
    #[arg(long)]
    max_steps: Option<u32>,
    /// Do not try to open a browser.
    #[arg(long)]
    no_open: bool,
    /// Start training only once this many viewers are connected (so a class sees
    /// episode 0); Ctrl+C while waiting exits cleanly. 0 = start at once.
    #[arg(long, default_value_t = 0)]
    wait_for_viewers: u64,
    #[arg(long, value_name = "TOKEN", long_help = townlet_cli::teacher::HELP)]
    teacher_token: Option<String>,
    /// Also publish every finished episode to a NATS JetStream server (nats://HOST:PORT,
    /// nats://USER:PASS@HOST:PORT, tls://HOST:PORT), every run of a lab under its own id;
    /// see docs/deployment.md.
    #[arg(long, value_name = "URL")]
    publish: Option<String>,
    /// NATS credentials file for --publish.
    #[arg(long, value_name = "FILE", requires = "publish")]
    nats_creds: Option<PathBuf>,
    /// The run's id on the bus (default: <pack>-<run folder name>; not with --lab, whose
    /// runs are <lab folder>-<run id>).
    #[arg(long, value_name = "ID", requires = "publish", conflicts_with = "lab")]
    bus_run_id: Option<String>,
    /// Replace a pack value, KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", long_help = townlet_cli::set::HELP)]
    set: Vec<String>,
}

fn main() -> ExitCode {
    townlet_cli::flags::main_with(Args::parse(), run)
}

fn run(args: Args, log: &townlet_cli::logging::LogFile) -> Result<()> {
    let overrides = townlet_cli::set::parse(&args.set)?;
    let teacher_token = townlet_cli::teacher::resolve_token(args.teacher_token.clone())?;
    // --publish is checked before anything starts.
    let tap = match &args.publish {
        Some(url) => {
            let bus = townlet_cli::bus::options(url, args.nats_creds.clone())?;
            if let Some(id) = &args.bus_run_id
                && !townlet_nats::valid_bus_run_id(id)
            {
                return Err(townlet_nats::NatsError::RunId(id.clone()))
                    .context("--bus-run-id is not a valid run id");
            }
            let tap = townlet_cli::bus::BusTap::new(bus, args.bus_run_id.clone());
            Tap(Some(Arc::new(tap)))
        }
        None => Tap::default(),
    };
    let shutdown = ShutdownHandle::new();
    {
        let shutdown = shutdown.clone();
        townlet_cli::signals::on_ctrl_c(
            "stopping: finishing the current step, writing the final checkpoint, draining recordings",
            move || shutdown.request_stop(),
        )?;
    }
    let workspace = PathBuf::from(WORKSPACE);
    let pack = args.pack.clone().or_else(|| {
        args.run
            .is_none()
            .then(|| workspace.join("configs/L1_full_observability"))
    });
    let static_dir = args
        .static_dir
        .clone()
        .unwrap_or_else(|| workspace.join("frontend/dist"));
    if !static_dir.join("index.html").is_file() {
        eprintln!(
            "note: {} has no built frontend; the page will explain how to build it (cd frontend && npm ci && npm run build)",
            static_dir.display()
        );
    }
    let opts = DemoOptions {
        runner: RunnerOptions {
            pack_dir: pack,
            run_dir: args.run.clone(),
            runs_root: Some(args.runs_root.clone()),
            episodes: args.episodes,
            seed: args.seed,
            device: args.device.map(DeviceKind::from),
            network: None,
            static_stage: args.static_stage,
            max_steps: args.max_steps,
            stop_after_steps: None,
            evaluation: None,
            overrides,
        },
        server: ServerOptions {
            host: args.host.clone(),
            port: args.port,
            static_dir: Some(static_dir),
            teacher_token: Some(teacher_token),
            ..ServerOptions::default()
        },
        threads: args.threads,
        wait_for_viewers: args.wait_for_viewers,
        tap: tap.clone(),
        ..DemoOptions::default()
    };
    let no_open = args.no_open;
    let host = args.host.clone();
    if let Some(lab_file) = &args.lab {
        let lab = LabOptions {
            resume: args.resume,
            device: opts.runner.device,
            server: opts.server,
            tap,
            ..LabOptions::new(
                lab_file.clone(),
                workspace.join("configs"),
                args.runs_root.clone(),
            )
        };
        return run_lab_and_report(lab, shutdown, log, no_open, &host);
    }
    let outcome = run_demo(opts, shutdown, |started| {
        log.attach(&started.log_path);
        townlet_cli::teacher::print_urls(
            "Townlet live training",
            &started.url,
            started.teacher_url.as_deref(),
            &host,
            started.port,
        );
        println!("run folder: {}", started.run_dir.display());
        if !no_open {
            open_browser(started.teacher_url.as_deref().unwrap_or(&started.url));
        }
    })?;
    tracing::info!(
        "stopped cleanly: {} episodes this session, next episode {}, {} episodes dropped from the live view, run {}",
        outcome.summary.episodes_run,
        outcome.summary.next_episode,
        outcome.dropped_live,
        outcome.run_dir.display()
    );
    Ok(())
}

/// `--lab`: every run of the lab trains; one URL serves them all.
fn run_lab_and_report(
    opts: LabOptions,
    shutdown: ShutdownHandle,
    log: &townlet_cli::logging::LogFile,
    no_open: bool,
    host: &str,
) -> Result<()> {
    let outcome = run_lab(opts, shutdown, |started| {
        log.attach(&started.log_path);
        townlet_cli::teacher::print_urls(
            &format!("Townlet lab \"{}\"", started.title),
            &started.url,
            started.teacher_url.as_deref(),
            host,
            started.port,
        );
        println!("lab folder: {}", started.lab_dir.display());
        for (id, dir) in &started.runs {
            println!("  run {id}: {}", dir.display());
        }
        if !no_open {
            open_browser(started.teacher_url.as_deref().unwrap_or(&started.url));
        }
    })?;
    for run in &outcome.runs {
        tracing::info!(
            "[{}] stopped cleanly: {} episodes this session, next episode {}, {} episodes dropped from the live view",
            run.id,
            run.summary.episodes_run,
            run.summary.next_episode,
            run.dropped_live
        );
    }
    tracing::info!(
        "lab stopped; resume with --resume ({})",
        outcome.lab_dir.display()
    );
    Ok(())
}

/// Best effort: `xdg-open` when a desktop is there; otherwise just the printed URL.
fn open_browser(url: &str) {
    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !has_display {
        return;
    }
    if let Err(e) = std::process::Command::new("xdg-open")
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        tracing::debug!("could not open a browser: {e}");
    }
}
