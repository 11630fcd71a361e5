//! Runs the `townlet-recordings` binary on a run folder made by the recorder.

// The recording crate's own test helpers (synthetic episodes), one copy for both crates.
#[path = "../../../townlet-recording/tests/it/common.rs"]
mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};
use townlet_recording::*;

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_townlet-recordings"))
        .args(args)
        .output()
        .expect("run townlet-recordings")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn make_run(dir: &Path) {
    let mut cfg = every_episode_config();
    cfg.criteria.periodic.interval = 2;
    let mut rec = EpisodeRecorder::new(
        &cfg,
        dir.join("recordings"),
        Some(dir.join("metrics.db")),
        None,
    )
    .unwrap();
    for e in 0..6u64 {
        rec.begin_episode(e, layout(), start());
        for mut s in steps(12, e) {
            if s.step == 3
                && let Some(q) = s.q_values.as_mut()
            {
                q[0] = f32::NAN; // must come out as null, never NaN
                q[1] = f32::INFINITY;
            }
            rec.record_step(s).unwrap();
        }
        rec.finish_episode(metadata(e, (e / 3 + 1) as u32, e as f32, 12), metrics())
            .unwrap();
    }
    rec.shutdown().unwrap();
}

#[test]
fn list_show_export_on_a_recorded_run() {
    let dir = tempfile::tempdir().unwrap();
    make_run(dir.path());
    let run = dir.path().to_str().unwrap();

    let o = cli(&["list", "--run", run]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(s.contains("3 recording(s)"), "{s}");
    assert!(s.contains("recordings/episode_000004.twrec"), "{s}");
    assert!(s.contains("periodic"), "{s}");

    let db = dir.path().join("metrics.db");
    let o = cli(&[
        "list",
        "--db",
        db.to_str().unwrap(),
        "--stage",
        "2",
        "--min-reward",
        "-1",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(s.contains("1 recording(s)"), "{s}");
    let o = cli(&["list", "--run", run, "--reason", "performance_top"]);
    assert!(text(&o.stdout).contains("no recordings match"));

    let o = cli(&["show", "2", "--run", run]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(s.contains("episode 2"), "{s}");
    assert!(s.contains("recorded because : periodic"), "{s}");
    assert!(s.contains("12 step(s)"), "{s}");
    assert!(s.contains("Bed@(0,7)"), "{s}");

    let o = cli(&["export", "4", "--json", "--run", run]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(
        !s.contains("NaN") && !s.contains("inf"),
        "non-finite leaked"
    );
    let v: serde_json::Value = serde_json::from_str(&s).expect("valid JSON");
    assert_eq!(v["episode_id"], 4);
    assert_eq!(v["reason"], "periodic");
    assert_eq!(v["metadata"]["end_reason"], "died");
    assert_eq!(v["metadata"]["curriculum_stage"], 2);
    let steps_json = v["steps"].as_array().unwrap();
    assert_eq!(steps_json.len(), 12);
    assert_eq!(steps_json[0]["step"], 1);
    assert!(steps_json[2]["q_values"][0].is_null());
    assert!(steps_json[2]["q_values"][1].is_null());
    // Values match the file, compared as f32
    // (docs/decisions.md#comparing-streamed-with-stored-values).
    let file = read_recording(&dir.path().join("recordings").join(recording_file_name(4))).unwrap();
    for (j, s) in steps_json.iter().zip(file.episode.steps.iter()) {
        for (a, b) in j["meters"].as_array().unwrap().iter().zip(&s.meters) {
            assert_eq!(a.as_f64().unwrap() as f32, *b);
        }
        assert_eq!(j["action"].as_u64().unwrap() as u8, s.action);
        assert_eq!(j["reward"].as_f64().unwrap() as f32, s.reward);
    }

    let out = dir.path().join("e4.json");
    let o = cli(&[
        "export",
        "4",
        "--json",
        "--run",
        run,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v2: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v, v2);
}

#[test]
fn errors_are_clear_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    make_run(dir.path());
    let run = dir.path().to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["list", "--run", "/nonexistent/run"], "does not exist"),
        (vec!["show", "3", "--run", run], "no recording of episode 3"),
        (
            vec!["export", "99", "--json", "--run", run],
            "no recording of episode 99",
        ),
    ];
    for (args, needle) in cases {
        let o = cli(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = text(&o.stderr);
        assert!(e.contains(needle), "{args:?}: {e}");
        assert!(!e.contains("panicked"), "{args:?}: {e}");
    }
    // A damaged recording file: a clear error naming the problem.
    let f = dir.path().join("recordings").join(recording_file_name(2));
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 3]).unwrap();
    let o = cli(&["show", "2", "--run", run]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(e.contains("truncated"), "{e}");
    // Bad usage is clap's exit code 2.
    assert_eq!(cli(&["export", "2", "--run", run]).status.code(), Some(2));
    assert_eq!(cli(&["show", "abc"]).status.code(), Some(2));
}

#[test]
fn a_missing_run_is_said_once() {
    let o = cli(&["list", "--run", "/nonexistent/run"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error: opening /nonexistent/run/metrics.db\n  \
         caused by: database /nonexistent/run/metrics.db does not exist\n"
    );
}

/// Copies `from` into `to` (files and folders).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A run with recordings and the pack snapshot where the runner keeps it (what `export
/// --gif / --video` reads the world's names from).
fn make_run_with_pack(dir: &Path) {
    make_run(dir);
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let snap = dir.join("config_snapshot");
    copy_dir(&configs.join("L0_0_minimal"), &snap.join("L0_0_minimal"));
    std::fs::copy(
        configs.join("global_actions.yaml"),
        snap.join("global_actions.yaml"),
    )
    .unwrap();
}

#[test]
fn export_gif_draws_the_episode_or_a_step_range() {
    let dir = tempfile::tempdir().unwrap();
    make_run_with_pack(dir.path());
    let run = dir.path().to_str().unwrap();
    let out = dir.path().join("e4.gif");
    let o = cli(&["export", "4", "--gif", out.to_str().unwrap(), "--run", run]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("12 frames"), "{}", text(&o.stderr));
    assert!(std::fs::read(&out).unwrap().starts_with(b"GIF89a"));
    let o = cli(&[
        "export",
        "4",
        "--gif",
        out.to_str().unwrap(),
        "--from",
        "3",
        "--to",
        "5",
        "--fps",
        "10",
        "--run",
        run,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("3 frames"), "{}", text(&o.stderr));
    let o = cli(&[
        "export",
        "4",
        "--gif",
        out.to_str().unwrap(),
        "--from",
        "20",
        "--run",
        run,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("outside episode 4's steps 1..=12"),
        "{}",
        text(&o.stderr)
    );
    let o = cli(&["export", "4", "--gif", "x.gif", "--json", "--run", run]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--gif and --json exclude each other"
    );
}

#[test]
fn export_video_writes_an_mp4_beside_or_instead_of_the_gif() {
    let dir = tempfile::tempdir().unwrap();
    make_run_with_pack(dir.path());
    let run = dir.path().to_str().unwrap();
    let (gif, mp4) = (dir.path().join("e4.gif"), dir.path().join("e4.mp4"));
    let o = cli(&[
        "export",
        "4",
        "--gif",
        gif.to_str().unwrap(),
        "--video",
        mp4.to_str().unwrap(),
        "--from",
        "2",
        "--fps",
        "10",
        "--run",
        run,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert_eq!(err.matches("11 frames").count(), 2, "{err}");
    assert!(std::fs::read(&gif).unwrap().starts_with(b"GIF89a"));
    let video = std::fs::read(&mp4).unwrap();
    assert_eq!(&video[4..8], b"ftyp", "an MP4");
    // Exit 1 with one line on stderr that says all of `says`.
    let fails = |video: &Path, says: &[&str]| {
        let o = cli(&[
            "export",
            "4",
            "--video",
            video.to_str().unwrap(),
            "--run",
            run,
        ]);
        assert_eq!(o.status.code(), Some(1));
        let err = text(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(says.iter().all(|s| err.contains(s)), "{err}");
    };
    // A file name the format does not fit: named, nothing written.
    let webm = dir.path().join("e4.webm");
    fails(&webm, &["e4.webm", "must end in .mp4"]);
    assert!(!webm.exists());
    // A folder that does not exist: the path named.
    let nowhere = dir.path().join("no/such/folder/e4.mp4");
    fails(&nowhere, &["could not write", "no/such/folder/e4.mp4"]);
    // --video and --json exclude each other; --fps needs a picture.
    let o = cli(&["export", "4", "--video", "x.mp4", "--json", "--run", run]);
    assert_eq!(o.status.code(), Some(2));
    let o = cli(&["export", "4", "--json", "--fps", "10", "--run", run]);
    assert_eq!(o.status.code(), Some(2));
}
