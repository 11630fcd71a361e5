//! What a caller chooses ([`RunnerOptions`]), how it is checked against the run folder,
//! and how it is kept in `<run>/run_options.json` for a resume without flags.

use super::RunnerError;
use crate::run_folder::{RunFolder, RunFolderError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use townlet_config::{CurriculumKind, DeviceKind, NetworkType, Overrides, Pack};

/// What a caller can choose (the command-line flags of `townlet-train`, plus test hooks).
#[derive(Debug, Clone, Default)]
pub struct RunnerOptions {
    /// Pack folder. Optional when resuming (`run_dir` with a snapshot).
    pub pack_dir: Option<PathBuf>,
    /// `--run DIR`: created when absent, resumed when present.
    pub run_dir: Option<PathBuf>,
    /// `--runs-root` (default `./runs`).
    pub runs_root: Option<PathBuf>,
    pub episodes: Option<u64>,
    pub seed: Option<u64>,
    pub device: Option<DeviceKind>,
    pub network: Option<NetworkType>,
    /// Force `curriculum.kind: static` at this stage (learn-check L1-5).
    pub static_stage: Option<u8>,
    /// Override `curriculum.max_steps_per_episode` (tests, tiny demos).
    pub max_steps: Option<u32>,
    /// Raise the stop flag once this many env steps have been taken in this process
    /// (a deterministic stand-in for Ctrl+C in tests; not persisted).
    pub stop_after_steps: Option<u64>,
    /// Greedy evaluation (docs/decisions.md#greedy-evaluation-in-learn-check): after every
    /// `every` training episodes, play `episodes` episodes with ε = 0 (not trained on,
    /// recorded or streamed); their lengths come in the `EpisodeReport`. Not persisted.
    pub evaluation: Option<EvalOptions>,
    /// `--set KEY=VALUE` pack values (or a lab run's `set:`), validated with the pack. A
    /// new run keeps them in its config snapshot (`overrides.yaml`), so a resume needs
    /// none; given on a resume they must agree with the snapshot on every hashed value.
    pub overrides: Overrides,
}

/// See [`RunnerOptions::evaluation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalOptions {
    pub every: u64,
    pub episodes: u32,
}

/// The run folder and pack a [`RunnerOptions`] resolves to.
pub(super) struct Resolved {
    pub folder: RunFolder,
    /// The pack with every override in force applied.
    pub pack: Pack,
    pub resuming: bool,
}

/// Open (resume) or create the run folder, load the pack, check that a `--pack` given
/// with a run matches its snapshot, and merge the overrides stored with the run.
pub(super) fn resolve(opts: &RunnerOptions) -> Result<Resolved, RunnerError> {
    let resuming = opts.run_dir.as_deref().is_some_and(RunFolder::is_run);
    let (folder, mut pack) = if resuming {
        let dir = opts.run_dir.clone().unwrap_or_default();
        let folder = RunFolder::open(&dir)?;
        let snap_dir = folder.snapshot_pack_dir()?;
        let snap = townlet_config::load_pack(&snap_dir)?;
        if let Some(p) = &opts.pack_dir {
            let given = townlet_config::load_pack_with(p, &snap.overrides)?;
            let diff = townlet_config::config_hash_diff(&snap, &given);
            if !diff.is_empty() {
                return Err(RunnerError::ConfigMismatch {
                    pack: p.clone(),
                    run: dir,
                    keys: diff.join(", "),
                });
            }
        }
        if opts.overrides.is_empty() {
            (folder, snap)
        } else {
            let with = townlet_config::load_pack_with(&snap_dir, &opts.overrides)?;
            let diff = townlet_config::config_hash_diff(&snap, &with);
            if !diff.is_empty() {
                return Err(RunnerError::SetMismatch {
                    run: dir,
                    keys: diff.join(", "),
                });
            }
            (folder, with)
        }
    } else {
        let Some(pack_dir) = &opts.pack_dir else {
            return Err(match &opts.run_dir {
                Some(d) if d.exists() => RunnerError::NotARunFolder(d.clone()),
                Some(d) => RunnerError::NoRunFolder(d.clone()),
                None => RunnerError::NoPack,
            });
        };
        let pack = townlet_config::load_pack_with(pack_dir, &opts.overrides)?;
        let folder = match &opts.run_dir {
            Some(d) => RunFolder::create_at(d, &pack)?,
            None => {
                let root = opts
                    .runs_root
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("runs"));
                RunFolder::new_under(&root, &pack)?
            }
        };
        (folder, pack)
    };
    let effective = persist_overrides(&folder, opts, resuming)?;
    apply_overrides(&mut pack, &effective);
    Ok(Resolved {
        folder,
        pack,
        resuming,
    })
}

/// The command-line overrides a run was created with, kept in `<run>/run_options.json` so
/// a resume without flags continues with the same seed, network, stage and length.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PersistedOverrides {
    episodes: Option<u64>,
    seed: Option<u64>,
    device: Option<DeviceKind>,
    network: Option<NetworkType>,
    static_stage: Option<u8>,
    max_steps: Option<u32>,
}

const RUN_OPTIONS_FILE: &str = "run_options.json";

impl PersistedOverrides {
    fn from_opts(o: &RunnerOptions) -> Self {
        Self {
            episodes: o.episodes,
            seed: o.seed,
            device: o.device,
            network: o.network,
            static_stage: o.static_stage,
            max_steps: o.max_steps,
        }
    }

    /// Stored values, with any flag given now taking precedence.
    fn merged(stored: Self, o: &RunnerOptions) -> RunnerOptions {
        let mut out = o.clone();
        out.episodes = o.episodes.or(stored.episodes);
        out.seed = o.seed.or(stored.seed);
        out.device = o.device.or(stored.device);
        out.network = o.network.or(stored.network);
        out.static_stage = o.static_stage.or(stored.static_stage);
        out.max_steps = o.max_steps.or(stored.max_steps);
        out
    }
}

/// The options in force for this process (stored ones merged in when resuming), written
/// back to the run folder.
fn persist_overrides(
    folder: &RunFolder,
    opts: &RunnerOptions,
    resuming: bool,
) -> Result<RunnerOptions, RunnerError> {
    let opts_file = folder.dir.join(RUN_OPTIONS_FILE);
    let effective = if resuming {
        let stored: PersistedOverrides = std::fs::read_to_string(&opts_file)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        PersistedOverrides::merged(stored, opts)
    } else {
        opts.clone()
    };
    let persisted = serde_json::to_string_pretty(&PersistedOverrides::from_opts(&effective))
        .map_err(|e| RunnerError::Other(e.to_string()))?;
    std::fs::write(&opts_file, persisted).map_err(|source| RunFolderError::Io {
        action: "write",
        path: opts_file.clone(),
        source,
    })?;
    Ok(effective)
}

/// Command-line overrides on top of the pack (of these, only network, static stage and max
/// steps enter the config hash: docs/decisions.md#config-snapshot-and-config-hash).
pub fn apply_overrides(pack: &mut Pack, opts: &RunnerOptions) {
    if let Some(n) = opts.episodes {
        pack.training.max_episodes = Some(n);
    }
    if let Some(s) = opts.seed {
        pack.training.seed = s;
    }
    if let Some(d) = opts.device {
        pack.training.device = d;
    }
    if let Some(n) = opts.network {
        pack.population.network_type = n;
    }
    if let Some(s) = opts.static_stage {
        pack.curriculum.kind = CurriculumKind::Static;
        pack.curriculum.static_stage = s.clamp(1, 5);
    }
    if let Some(m) = opts.max_steps {
        pack.curriculum.max_steps_per_episode = m.max(1);
    }
}
