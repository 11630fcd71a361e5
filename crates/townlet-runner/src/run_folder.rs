//! Run folders (docs/decisions.md#one-run-folder-one-flag): `checkpoints/`, `recordings/`,
//! `metrics.db`, `config_snapshot/<pack>/…` + `config_snapshot/global_actions.yaml`,
//! `townlet.log`.

use std::path::{Path, PathBuf};
use townlet_config::Pack;

#[derive(Debug, thiserror::Error)]
pub enum RunFolderError {
    /// A file-system call failed; `action` says what was being done to `path`
    /// ("create run folder", "read", …) and the OS error is the source.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "run folder {} has no pack in its config_snapshot/ (is it a Townlet run folder?)",
        .0.display()
    )]
    NoSnapshot(PathBuf),
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> RunFolderError + 'a {
    move |source| RunFolderError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct RunFolder {
    pub dir: PathBuf,
}

impl RunFolder {
    /// An existing run folder (it has a `config_snapshot/`).
    pub fn is_run(dir: &Path) -> bool {
        dir.join("config_snapshot").is_dir()
    }

    /// A new folder `<runs_root>/<output_subdir>/<YYYY-MM-DD_HHMMSS>` (suffixed when taken).
    pub fn new_under(runs_root: &Path, pack: &Pack) -> Result<Self, RunFolderError> {
        let stamp = chrono::Local::now().format("%Y-%m-%d_%H%M%S").to_string();
        let parent = runs_root.join(&pack.run_metadata.output_subdir);
        let mut dir = parent.join(&stamp);
        let mut k = 1;
        while dir.exists() {
            dir = parent.join(format!("{stamp}_{k}"));
            k += 1;
        }
        Self::create_at(&dir, pack)
    }

    /// Create the layout at `dir` and snapshot the pack into it.
    pub fn create_at(dir: &Path, pack: &Pack) -> Result<Self, RunFolderError> {
        let rf = Self {
            dir: dir.to_path_buf(),
        };
        for sub in [rf.checkpoints_dir(), rf.dir.join("config_snapshot")] {
            std::fs::create_dir_all(&sub).map_err(io("create run folder", dir))?;
        }
        let snap = rf.dir.join("config_snapshot");
        townlet_config::write_snapshot(pack, &snap)
            .map_err(io("write the pack snapshot into", &snap))?;
        Ok(rf)
    }

    /// Open an existing run folder.
    pub fn open(dir: &Path) -> Result<Self, RunFolderError> {
        if !Self::is_run(dir) {
            return Err(RunFolderError::NoSnapshot(dir.to_path_buf()));
        }
        let rf = Self {
            dir: dir.to_path_buf(),
        };
        let ck = rf.checkpoints_dir();
        std::fs::create_dir_all(&ck).map_err(io("create", &ck))?;
        Ok(rf)
    }

    /// The pack folder inside `config_snapshot/` (the one sub-folder holding training.yaml).
    pub fn snapshot_pack_dir(&self) -> Result<PathBuf, RunFolderError> {
        let snap = self.dir.join("config_snapshot");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&snap)
            .map_err(io("read", &snap))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("training.yaml").is_file())
            .collect();
        found.sort();
        found
            .into_iter()
            .next()
            .ok_or_else(|| RunFolderError::NoSnapshot(self.dir.clone()))
    }

    pub fn checkpoints_dir(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("metrics.db")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("townlet.log")
    }
    pub fn recordings_dir(&self, pack: &Pack) -> PathBuf {
        self.dir.join(&pack.recording.output_dir)
    }

    /// Remove half-written `*.tmp` files left by a crash
    /// (docs/training.md#writing-and-reading-checkpoints).
    pub fn clean_temp_files(&self) -> usize {
        let mut n = 0;
        for dir in [self.checkpoints_dir()] {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if e.path().extension().is_some_and(|x| x == "tmp")
                    && std::fs::remove_file(e.path()).is_ok()
                {
                    n += 1;
                }
            }
        }
        n
    }
}
