//! The standalone viewer server behind `townlet-inference`: a run folder's (or checkpoint
//! folder's) newest checkpoint plays episodes, its recordings replay; or every run folder
//! under a root, each as its own run (`--runs-root`).

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::{
    CheckpointSource, Mode, Runs, ServedRun, ServerError, ServerOptions, WorldInfo, bind, serve,
    serve_runs,
};

/// How often `--runs-root` looks for new run folders.
pub const RUNS_ROOT_POLL: Duration = Duration::from_secs(2);
/// How deep below the root run folders are looked for (`<pack>/<timestamp>` is 2, a lab
/// run `labs/<lab>/<timestamp>/<run>` is 4).
const RUNS_ROOT_DEPTH: usize = 4;

/// What to serve. Either `run` (a run folder), `checkpoints` (a checkpoint folder whose
/// parent holds `config_snapshot/`) or `runs_root` (every run folder below it); `pack`
/// overrides the snapshot's pack (not with `runs_root`).
#[derive(Debug, Clone, Default)]
pub struct StandaloneOptions {
    pub run: Option<PathBuf>,
    pub checkpoints: Option<PathBuf>,
    pub runs_root: Option<PathBuf>,
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

/// A pack's overrides as the run list shows them (`key` → value as given).
pub(crate) fn overrides(pack: &townlet_config::Pack) -> BTreeMap<String, String> {
    pack.overrides
        .iter()
        .map(|o| (o.key(), o.value_text().to_owned()))
        .collect()
}

/// The run id of a run folder below the root: its relative path with `/` written `~`,
/// other characters a run id cannot hold written `-`, at most the last 64 characters.
pub fn run_id_for(root: &Path, run_dir: &Path) -> String {
    let rel = run_dir.strip_prefix(root).unwrap_or(run_dir);
    let text: String = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("~")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '~') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let skip = text.len().saturating_sub(crate::MAX_RUN_ID_LEN);
    let id = &text[skip..];
    if id.is_empty() {
        "run".to_owned()
    } else {
        id.to_owned()
    }
}

/// The run folders (folders holding `config_snapshot/`) below `root`, newest first.
pub fn find_run_folders(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<(SystemTime, PathBuf)>) {
        let snapshot = dir.join("config_snapshot");
        if snapshot.is_dir() {
            let made = std::fs::metadata(&snapshot)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            out.push((made, dir.to_path_buf()));
            return;
        }
        if depth == 0 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&e.path(), depth - 1, out);
            }
        }
    }
    let mut found = Vec::new();
    walk(root, RUNS_ROOT_DEPTH, &mut found);
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    found.into_iter().map(|(_, p)| p).collect()
}

/// A run folder as a served run: checkpoint mode when it has a `checkpoints/` folder,
/// else its recordings only.
pub fn served_run_folder(
    root: &Path,
    run_dir: &Path,
    greedy: bool,
) -> Result<ServedRun, ServerError> {
    let pack_dir = snapshot_pack(run_dir)?;
    let pack = townlet_config::load_pack(&pack_dir).map_err(|source| ServerError::Pack {
        path: pack_dir.clone(),
        source,
    })?;
    let world = WorldInfo::from_pack(&pack)?;
    let checkpoints = run_dir.join("checkpoints");
    // `--seed` given to the trainer is kept in run_options.json, not in the snapshot.
    let seed = std::fs::read_to_string(run_dir.join("run_options.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|options| options.get("seed").and_then(serde_json::Value::as_u64))
        .unwrap_or(pack.training.seed);
    let overrides = overrides(&pack);
    let mode = if checkpoints.is_dir() {
        Mode::Checkpoint(CheckpointSource {
            dir: checkpoints,
            pack,
            greedy,
        })
    } else {
        Mode::Recorded
    };
    Ok(ServedRun {
        id: run_id_for(root, run_dir),
        name: run_dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        seed,
        overrides,
        mode,
        world,
        run_dir: Some(run_dir.to_path_buf()),
    })
}

/// Adds the run folders below `root` that `runs` does not serve yet (newest first, each
/// new one ahead of the older ones). A folder that cannot be served yet (its snapshot
/// still being written, a broken pack) is tried again next time; its problem is logged
/// once.
fn discover(
    root: &Path,
    runs: &Runs,
    known: &mut HashSet<PathBuf>,
    warned: &mut HashSet<PathBuf>,
    greedy: bool,
    initial: bool,
) {
    let mut new: Vec<PathBuf> = find_run_folders(root)
        .into_iter()
        .filter(|d| !known.contains(d))
        .collect();
    if !initial {
        // Oldest first, each added at the front: the newest ends up first.
        new.reverse();
    }
    for dir in new {
        let added = served_run_folder(root, &dir, greedy).and_then(|run| {
            if initial {
                runs.add(run)
            } else {
                runs.add_first(run)
            }
        });
        match added {
            Ok(()) => {
                known.insert(dir);
            }
            Err(e) => {
                if warned.insert(dir.clone()) {
                    tracing::warn!(
                        "not serving {} (yet): {}",
                        dir.display(),
                        crate::error::chain(&e)
                    );
                }
            }
        }
    }
}

/// Serves every run folder below `root` until `stop` resolves, looking for new ones every
/// `poll`. Call on a Tokio runtime.
pub async fn serve_runs_root(
    listener: tokio::net::TcpListener,
    root: PathBuf,
    greedy: bool,
    poll: Duration,
    opts: ServerOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    if !root.is_dir() {
        return Err(ServerError::NoRunsRoot(root));
    }
    let runs = Runs::new(None);
    let mut known = HashSet::new();
    let mut warned = HashSet::new();
    // The initial list: newest first, in order.
    discover(&root, &runs, &mut known, &mut warned, greedy, true);
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let watcher = {
        let runs = runs.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = done_rx.changed() => break,
                }
                let (root, runs) = (root.clone(), runs.clone());
                let (k, w) = (std::mem::take(&mut known), std::mem::take(&mut warned));
                let Ok((k, w)) = tokio::task::spawn_blocking(move || {
                    let (mut k, mut w) = (k, w);
                    discover(&root, &runs, &mut k, &mut w, greedy, false);
                    (k, w)
                })
                .await
                else {
                    break;
                };
                known = k;
                warned = w;
            }
        })
    };
    let served = serve_runs(listener, runs, opts, stop).await;
    let _ = done_tx.send(true);
    let _ = watcher.await;
    served
}

/// Serve until `stop` resolves, on a runtime of its own. `on_listening` gets the bound
/// address (after a taken port has had its chance to fail), the pack's name (`runs`
/// with `runs_root`) and the checkpoint folder (the root with `runs_root`).
pub fn run_standalone(
    opts: StandaloneOptions,
    stop: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr, &str, &Path),
) -> Result<(), ServerError> {
    if let Some(root) = opts.runs_root.clone() {
        if !root.is_dir() {
            return Err(ServerError::NoRunsRoot(root));
        }
        let runtime = tokio::runtime::Runtime::new().map_err(ServerError::Runtime)?;
        return runtime.block_on(async move {
            let listener = bind(&opts.server).await?;
            let addr = listener.local_addr().map_err(ServerError::Runtime)?;
            on_listening(addr, "runs", &root);
            serve_runs_root(
                listener,
                root,
                opts.greedy,
                RUNS_ROOT_POLL,
                opts.server,
                stop,
            )
            .await
        });
    }
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
