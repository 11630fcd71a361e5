//! `townlet-inference --run DIR | --checkpoints DIR | --runs-root DIR [--pack DIR]
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
        conflicts_with_all = ["checkpoints", "runs_root"],
        required_unless_present_any = ["checkpoints", "runs_root"]
    )]
    run: Option<PathBuf>,
    /// A checkpoint folder; the pack is read from DIR/../config_snapshot unless --pack.
    #[arg(long, value_name = "DIR", conflicts_with = "runs_root")]
    checkpoints: Option<PathBuf>,
    /// Serve every run folder under DIR (e.g. runs/), newest first, each as its own run
    /// in the viewer's run picker; run folders created later are picked up.
    #[arg(long, value_name = "DIR")]
    runs_root: Option<PathBuf>,
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
    let opts = StandaloneOptions {
        run: args.run,
        checkpoints: args.checkpoints,
        runs_root: args.runs_root,
        pack: args.pack,
        greedy: args.greedy,
        server: ServerOptions {
            host: args.host,
            port: args.port,
            static_dir: args.static_dir.or_else(|| {
                let d = PathBuf::from("frontend/dist");
                d.is_dir().then_some(d)
            }),
            teacher_token: Some(token.clone()),
            ..ServerOptions::default()
        },
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
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
