//! `--set KEY=VALUE`: the value lands in the run's config snapshot, a resume without the
//! flag keeps it, and a bad value stops the program before anything is created.

use crate::demo::tiny_pack;
use crate::errors::train;
use std::process::Output;

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "townlet-train failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_set_value_is_snapshotted_and_kept_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = tiny_pack(tmp.path());
    let run = tmp.path().join("run");
    let (pack, run_s) = (pack.to_str().unwrap(), run.to_str().unwrap());
    ok(&train(
        &[
            "--pack",
            pack,
            "--run",
            run_s,
            "--episodes",
            "2",
            "--set",
            "curriculum.max_steps_per_episode=20",
            "--set",
            "exploration.initial_intrinsic_weight=0",
        ],
        tmp.path(),
    ));
    let snap = run.join("config_snapshot/tiny");
    let text = std::fs::read_to_string(snap.join(townlet_config::OVERRIDES_FILE)).unwrap();
    assert!(
        text.contains("curriculum.max_steps_per_episode: 20"),
        "{text}"
    );
    assert!(
        text.contains("exploration.initial_intrinsic_weight: 0"),
        "{text}"
    );
    let before = townlet_config::load_pack(&snap).unwrap();
    assert_eq!(before.curriculum.max_steps_per_episode, 20);
    assert_eq!(before.exploration.initial_intrinsic_weight, 0.0);

    // Resume without the flags: the checkpoint's config hash must match the snapshot's.
    ok(&train(&["--run", run_s, "--episodes", "4"], tmp.path()));
    let after = townlet_config::load_pack(&snap).unwrap();
    assert_eq!(
        townlet_config::config_hash(&after),
        townlet_config::config_hash(&before)
    );
    assert_eq!(after.overrides, before.overrides);

    // Resuming with the same value again is fine; with another one it is refused.
    ok(&train(
        &[
            "--run",
            run_s,
            "--episodes",
            "5",
            "--set",
            "curriculum.max_steps_per_episode=20",
        ],
        tmp.path(),
    ));
    let out = train(
        &[
            "--run",
            run_s,
            "--episodes",
            "6",
            "--set",
            "curriculum.max_steps_per_episode=30",
        ],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("curriculum.max_steps_per_episode"),
        "{stderr}"
    );
}

#[test]
fn a_bad_value_is_one_error_and_nothing_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = tiny_pack(tmp.path());
    let pack = pack.to_str().unwrap();
    let out = train(
        &["--pack", pack, "--set", "training.epsilon_decay=2"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(
        report,
        [
            "error: tiny/training.yaml: training.epsilon_decay: 2 is outside (0, 1] \
          (from --set training.epsilon_decay=2)"
        ],
        "{stderr}"
    );
    let out = train(
        &["--pack", pack, "--set", "training.epsilon_decay"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: --set training.epsilon_decay: expected KEY=VALUE"),
        "{stderr}"
    );
    assert!(
        !tmp.path().join("runs").exists(),
        "a run folder was created"
    );
}
