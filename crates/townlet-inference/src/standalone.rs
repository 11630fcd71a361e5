//! The standalone viewer server behind `townlet-inference`: a run folder's (or checkpoint
//! folder's) newest checkpoint plays episodes, its recordings replay.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::{CheckpointSource, Mode, ServerError, ServerOptions, WorldInfo, bind, serve};

/// What to serve. Either `run` (a run folder) or `checkpoints` (a checkpoint folder whose
/// parent holds `config_snapshot/`); `pack` overrides the snapshot's pack.
#[derive(Debug, Clone, Default)]
pub struct StandaloneOptions {
    pub run: Option<PathBuf>,
    pub checkpoints: Option<PathBuf>,
    pub pack: Option<PathBuf>,
    /// Play greedily (ε = 0) by default; each viewer can still switch.
    pub greedy: bool,
    pub server: ServerOptions,
}

/// The pack folder inside `<run>/config_snapshot/` (the sub-folder holding training.yaml).
pub fn snapshot_pack(run_dir: &Path) -> Result<PathBuf, ServerError> {
    let snap = run_dir.join("config_snapshot");
    let entries = std::fs::read_dir(&snap).map_err(|source| ServerError::NotARunFolder {
        path: snap.clone(),
        source,
    })?;
    let mut packs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("training.yaml").is_file())
        .collect();
    packs.sort();
    match packs.len() {
        1 => Ok(packs.remove(0)),
        0 => Err(ServerError::NoSnapshotPack(snap)),
        _ => Err(ServerError::SeveralSnapshotPacks(snap)),
    }
}

/// Serve until `stop` resolves, on a runtime of its own. `on_listening` gets the bound
/// address (after a taken port has had its chance to fail) and the pack's name.
pub fn run_standalone(
    opts: StandaloneOptions,
    stop: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr, &str, &Path),
) -> Result<(), ServerError> {
    let (checkpoints, run_dir) = match (&opts.run, &opts.checkpoints) {
        (Some(run), _) => (run.join("checkpoints"), Some(run.clone())),
        (None, Some(dir)) => (dir.clone(), Some(dir.join(".."))),
        (None, None) => return Err(ServerError::NoCheckpointDir(PathBuf::from("(none given)"))),
    };
    if !checkpoints.is_dir() {
        return Err(ServerError::NoCheckpointDir(checkpoints));
    }
    let pack_dir = match &opts.pack {
        Some(p) => p.clone(),
        None => snapshot_pack(run_dir.as_deref().unwrap_or(Path::new(".")))?,
    };
    let pack = townlet_config::load_pack(&pack_dir).map_err(|source| ServerError::Pack {
        path: pack_dir.clone(),
        source,
    })?;
    let world = WorldInfo::from_pack(&pack)?;
    let runtime = tokio::runtime::Runtime::new().map_err(ServerError::Runtime)?;
    runtime.block_on(async move {
        let listener = bind(&opts.server).await?;
        let addr = listener.local_addr().map_err(ServerError::Runtime)?;
        on_listening(addr, &pack.name, &checkpoints);
        let source = CheckpointSource {
            dir: checkpoints,
            pack,
            greedy: opts.greedy,
        };
        let run_dir = run_dir.filter(|d| d.join("metrics.db").is_file());
        serve(
            listener,
            Mode::Checkpoint(source),
            world,
            run_dir,
            opts.server,
            stop,
        )
        .await
    })
}
