//! `townlet-inference --run DIR | --checkpoints DIR | --runs-root DIR | --subscribe URL [--pack DIR]
//! [--greedy] [--host H] [--port P] [--static DIR]`: the standalone viewer server
//! (checkpoint mode, docs/decisions.md#checkpoint-mode; several runs,
//! docs/protocol.md#runs).

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use townlet_inference::{ServerOptions, StandaloneOptions, run_standalone};

#[derive(Debug, Parser)]
#[command(
    name = "townlet-inference",
    about = "Serve a training run's newest checkpoint to browsers: it plays episodes with the saved model and follows new checkpoints as they appear."
)]
struct Args {
    /// A run folder (runs/<pack>/<timestamp>): its checkpoints/, config_snapshot/ and
    /// metrics.db (recordings for replay).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["checkpoints", "runs_root", "subscribe"],
        required_unless_present_any = ["checkpoints", "runs_root", "subscribe"]
    )]
    run: Option<PathBuf>,
    /// A checkpoint folder; the pack is read from DIR/../config_snapshot unless --pack.
    #[arg(long, value_name = "DIR", conflicts_with = "runs_root")]
    checkpoints: Option<PathBuf>,
    /// Serve every run folder under DIR (e.g. runs/), newest first, each as its own run
    /// in the viewer's run picker; run folders created later are picked up.
    #[arg(long, value_name = "DIR")]
    runs_root: Option<PathBuf>,
    /// Serve every run published to this NATS JetStream server (nats://HOST:PORT,
    /// nats://USER:PASS@HOST:PORT, tls://HOST:PORT), and runs that appear later; see
    /// docs/deployment.md.
    #[arg(long, value_name = "URL", conflicts_with_all = ["checkpoints", "runs_root", "pack"])]
    subscribe: Option<String>,
    /// NATS credentials file for --subscribe.
    #[arg(long, value_name = "FILE", requires = "subscribe")]
    nats_creds: Option<PathBuf>,
    /// With --subscribe: a run whose trainer sent no heartbeat for this many seconds is
    /// shown as stale (default: three heartbeats, 6 s).
    #[arg(long, value_name = "SECONDS", requires = "subscribe")]
    stale_after: Option<f64>,
    /// The config pack folder (overrides the run's config_snapshot).
    #[arg(long, value_name = "DIR", conflicts_with = "runs_root")]
    pack: Option<PathBuf>,
    /// Play greedily (ε = 0) by default; each viewer can still switch.
    #[arg(long)]
    greedy: bool,
    /// Address to listen on (0.0.0.0 exposes the server on the network).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = townlet_inference::DEFAULT_PORT)]
    port: u16,
    /// The built frontend (default: frontend/dist when it exists).
    #[arg(long = "static", value_name = "DIR")]
    static_dir: Option<PathBuf>,
    #[arg(long, value_name = "TOKEN", long_help = townlet_cli::teacher::HELP)]
    teacher_token: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    townlet_cli::logging::init();
    let token = match townlet_cli::teacher::resolve_token(args.teacher_token.clone()) {
        Ok(t) => t,
        Err(e) => return townlet_cli::report::fail(&e),
    };
    let host = args.host.clone();
    let server = ServerOptions {
        host: args.host,
        port: args.port,
        static_dir: args.static_dir.or_else(|| {
            let d = PathBuf::from("frontend/dist");
            d.is_dir().then_some(d)
        }),
        teacher_token: Some(token.clone()),
        ..ServerOptions::default()
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Some(url) = args.subscribe {
        let nats = townlet_nats::NatsOptions {
            url: url.clone(),
            creds: args.nats_creds,
        };
        if let Err(e) = nats.check() {
            return townlet_cli::report::fail(&anyhow::Error::from(e).context("--subscribe"));
        }
        let stale = args
            .stale_after
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(std::time::Duration::from_secs_f64);
        let served = townlet_nats::serve_bus(&nats, server, stale, stop, |addr| {
            tracing::info!(
                "serving the runs on {} at http://{addr}/ (WebSocket ws://{addr}/ws); Ctrl+C stops",
                townlet_nats::redact(&url)
            );
            let url = format!("http://{addr}/");
            let teacher = format!("{url}?token={token}");
            townlet_cli::teacher::print_urls("viewer", &url, Some(&teacher), &host, addr.port());
        });
        return match served {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => townlet_cli::report::fail(&e.into()),
        };
    }
    let opts = StandaloneOptions {
        run: args.run,
        checkpoints: args.checkpoints,
        runs_root: args.runs_root,
        pack: args.pack,
        greedy: args.greedy,
        server,
    };
    let served = run_standalone(opts, stop, |addr, pack, checkpoints| {
        tracing::info!(
            "serving {pack} from {} on http://{addr}/ (WebSocket ws://{addr}/ws); Ctrl+C stops",
            checkpoints.display()
        );
        let url = format!("http://{addr}/");
        let teacher = format!("{url}?token={token}");
        townlet_cli::teacher::print_urls("viewer", &url, Some(&teacher), &host, addr.port());
    });
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => townlet_cli::report::fail(&e.into()),
    }
}
