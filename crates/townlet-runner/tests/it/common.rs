//! Helpers shared by the test modules: a tiny training run on a repository pack.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use townlet_runner::{DemoRunner, EpisodeReport, RunnerError, RunnerOptions};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `episodes` episodes of at most 40 steps of `configs/L0_0_minimal` into `run`.
pub fn opts(run: &Path, episodes: u64, seed: u64) -> RunnerOptions {
    RunnerOptions {
        pack_dir: Some(repo().join("configs/L0_0_minimal")),
        run_dir: Some(run.to_path_buf()),
        episodes: Some(episodes),
        seed: Some(seed),
        max_steps: Some(40),
        ..Default::default()
    }
}

/// Train to the end; the reports and the final weights' hash.
pub fn train(o: &RunnerOptions) -> (Vec<EpisodeReport>, u64) {
    let mut r = DemoRunner::new(o, None, Arc::new(AtomicBool::new(false))).expect("runner");
    let mut reports = vec![];
    r.run(&mut |rep| reports.push(rep.clone())).expect("run");
    let hash = r.agent().weights_hash();
    r.shutdown().expect("shutdown");
    (reports, hash)
}

/// The error `DemoRunner::new` must return for `o`.
pub fn refused(o: &RunnerOptions) -> RunnerError {
    DemoRunner::new(o, None, Arc::new(AtomicBool::new(false)))
        .err()
        .expect("the runner must refuse these options")
}

/// The error and its `source()` chain the way the binaries print it: `error: …` then one
/// `  caused by: …` line per cause, nothing left out or merged.
pub fn chain(err: &dyn Error) -> String {
    let mut out = format!("error: {err}");
    let mut cause = err.source();
    while let Some(c) = cause {
        out.push_str(&format!("\n  caused by: {c}"));
        cause = c.source();
    }
    out
}
