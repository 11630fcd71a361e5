//! Shared test helper: a shipped pack copied into a temp dir, editable as text.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use tempfile::TempDir;
use townlet_config::{ConfigErrors, GLOBAL_ACTIONS_FILE, PACK_FILES, Pack, load_pack};

pub struct Fixture {
    pub tmp: TempDir,
    pub pack: PathBuf,
    pub root: PathBuf,
}

pub fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

/// A copy of `configs/<pack>` and `configs/global_actions.yaml` in a fresh temp dir.
pub fn fixture(pack: &str) -> Fixture {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("configs");
    let dir = root.join(pack);
    std::fs::create_dir_all(&dir).expect("mkdir");
    for f in PACK_FILES {
        std::fs::copy(configs().join(pack).join(f), dir.join(f)).expect("copy pack file");
    }
    std::fs::copy(
        configs().join(GLOBAL_ACTIONS_FILE),
        root.join(GLOBAL_ACTIONS_FILE),
    )
    .expect("copy global actions");
    Fixture {
        tmp,
        pack: dir,
        root,
    }
}

impl Fixture {
    pub fn path(&self, file: &str) -> PathBuf {
        if file == GLOBAL_ACTIONS_FILE {
            self.root.join(file)
        } else {
            self.pack.join(file)
        }
    }

    /// Replaces the `nth` (0-based) occurrence of `from`; the text must be there.
    pub fn edit_nth(&self, file: &str, from: &str, to: &str, nth: usize) -> &Self {
        let p = self.path(file);
        let text = std::fs::read_to_string(&p).expect("read");
        let (at, _) = text
            .match_indices(from)
            .nth(nth)
            .unwrap_or_else(|| panic!("{file}: occurrence {nth} of {from:?} not found"));
        let new = format!("{}{}{}", &text[..at], to, &text[at + from.len()..]);
        std::fs::write(&p, new).expect("write");
        self
    }

    pub fn edit(&self, file: &str, from: &str, to: &str) -> &Self {
        self.edit_nth(file, from, to, 0)
    }

    pub fn load(&self) -> Pack {
        match load_pack(&self.pack) {
            Ok(p) => p,
            Err(e) => panic!("the pack failed to load:\n{e}"),
        }
    }

    pub fn errors(&self) -> ConfigErrors {
        match load_pack(&self.pack) {
            Ok(_) => panic!("the faulty pack loaded without errors"),
            Err(e) => e,
        }
    }
}
