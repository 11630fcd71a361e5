//! Shared test helpers: a shipped pack copied into a temp dir, editable as text; the
//! lock for tests that depend on the process's current directory; the error chain as a
//! program prints it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
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

/// Held by every test that changes the current directory or reads a path relative to it
/// (all tests of this binary share one process). Dropping it restores the directory the
/// test started in, even when the test panicked.
pub struct CwdLock {
    back: PathBuf,
    _held: MutexGuard<'static, ()>,
}

pub fn cwd_lock() -> CwdLock {
    static CWD: Mutex<()> = Mutex::new(());
    let held = CWD.lock().unwrap_or_else(PoisonError::into_inner);
    let back = std::env::current_dir().expect("current dir");
    CwdLock { back, _held: held }
}

impl Drop for CwdLock {
    fn drop(&mut self) {
        // Runs before the fields drop, i.e. while the lock is still held.
        std::env::set_current_dir(&self.back).expect("restore the current dir");
    }
}

/// An error and its causes the way the binaries print them: `error: <Display>` then
/// `caused by: <Display>` for each `source()`.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut lines = vec![format!("error: {err}")];
    let mut cur = err.source();
    while let Some(e) = cur {
        lines.push(format!("caused by: {e}"));
        cur = e.source();
    }
    lines.join("\n")
}

/// Fails when a line of `text` contains another line's message, or says the same thing
/// twice in a row itself (`a: b: a: b`, the shape of a wrapped error shown again).
pub fn assert_said_once(text: &str) {
    let msgs: Vec<&str> = text
        .lines()
        .map(|l| {
            l.trim_start_matches("error: ")
                .trim_start_matches("caused by: ")
        })
        .collect();
    for (i, a) in msgs.iter().enumerate() {
        let parts: Vec<&str> = a.split(": ").collect();
        for k in 1..=parts.len() / 2 {
            for s in 0..=parts.len() - 2 * k {
                assert!(
                    parts[s..s + k] != parts[s + k..s + 2 * k],
                    "line {i} says {:?} twice:\n{text}",
                    parts[s..s + k].join(": ")
                );
            }
        }
        for (j, b) in msgs.iter().enumerate() {
            assert!(
                i == j || !a.contains(b),
                "line {i} repeats line {j}:\n{text}"
            );
        }
    }
}
