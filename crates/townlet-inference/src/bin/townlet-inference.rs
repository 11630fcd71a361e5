//! `townlet-inference --run DIR | --checkpoints DIR [--pack DIR] [--greedy] [--host H]
//! [--port P] [--static DIR]`: the standalone viewer server (checkpoint mode, D1, D21).

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::path::{Path, PathBuf};
use townlet_inference::{CheckpointSource, Mode, ServerOptions, WorldInfo, bind, serve};

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
        conflicts_with = "checkpoints",
        required_unless_present = "checkpoints"
    )]
    run: Option<PathBuf>,
    /// A checkpoint folder; the pack is read from DIR/../config_snapshot unless --pack.
    #[arg(long, value_name = "DIR")]
    checkpoints: Option<PathBuf>,
    /// The config pack folder (overrides the run's config_snapshot).
    #[arg(long, value_name = "DIR")]
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
}

/// The pack folder inside `config_snapshot/` (the sub-folder holding training.yaml).
fn snapshot_pack(run_dir: &Path) -> Result<PathBuf> {
    let snap = run_dir.join("config_snapshot");
    let mut packs: Vec<PathBuf> = std::fs::read_dir(&snap)
        .with_context(|| {
            format!(
                "reading {} (is this a Townlet run folder? or pass --pack)",
                snap.display()
            )
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("training.yaml").is_file())
        .collect();
    packs.sort();
    match packs.len() {
        1 => Ok(packs.remove(0)),
        0 => bail!(
            "{} holds no pack (no training.yaml in a sub-folder); pass --pack",
            snap.display()
        ),
        _ => bail!(
            "{} holds several packs; choose one with --pack",
            snap.display()
        ),
    }
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let (checkpoints, run_dir) = match (&args.run, &args.checkpoints) {
        (Some(run), _) => (run.join("checkpoints"), Some(run.clone())),
        (None, Some(dir)) => (dir.clone(), Some(dir.join(".."))),
        (None, None) => bail!("give --run DIR or --checkpoints DIR"),
    };
    if !checkpoints.is_dir() {
        bail!("checkpoint folder {} does not exist", checkpoints.display());
    }
    let pack_dir = match &args.pack {
        Some(p) => p.clone(),
        None => snapshot_pack(run_dir.as_deref().unwrap_or(Path::new(".")))?,
    };
    let pack = townlet_config::load_pack(&pack_dir)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("loading the pack {}", pack_dir.display()))?;
    let world = WorldInfo::from_pack(&pack).context("building the world from the pack")?;
    let static_dir = args.static_dir.clone().or_else(|| {
        let d = PathBuf::from("frontend/dist");
        d.is_dir().then_some(d)
    });
    let opts = ServerOptions {
        host: args.host.clone(),
        port: args.port,
        static_dir,
        ..ServerOptions::default()
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = bind(&opts).await?;
        let addr = listener.local_addr().context("reading the bound address")?;
        tracing::info!(
            "serving {} from {} on http://{addr}/ (WebSocket ws://{addr}/ws); Ctrl+C stops",
            pack.name,
            checkpoints.display()
        );
        let source = CheckpointSource {
            dir: checkpoints,
            pack,
            greedy: args.greedy,
        };
        let run_dir = run_dir.filter(|d| d.join("metrics.db").is_file());
        serve(
            listener,
            Mode::Checkpoint(source),
            world,
            run_dir,
            opts,
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await?;
        Ok::<_, anyhow::Error>(())
    })?;
    tracing::info!("stopped");
    Ok(())
}
