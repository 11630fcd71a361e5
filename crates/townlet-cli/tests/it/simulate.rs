//! Runs the `townlet-simulate` binary: G1 and G3 from its JSON output, truncation, stop
//! after done, and bad flags exiting with code 2.

// The env's own test helpers (packs, layouts, tolerances), one copy for both crates.
#[path = "../../../townlet-env/tests/it/common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_townlet-simulate"))
}

fn pack_dir(name: &str) -> PathBuf {
    configs_root().join(name)
}

fn write_layout(dir: &Path, layout: &[(String, [i32; 2])]) -> PathBuf {
    let map: serde_json::Map<String, Value> = layout
        .iter()
        .map(|(n, c)| (n.clone(), serde_json::json!(c)))
        .collect();
    let path = dir.join("layout.json");
    std::fs::write(&path, Value::Object(map).to_string()).unwrap();
    path
}

fn run_ok(cmd: &mut Command) -> Vec<Value> {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn f(v: &Value) -> f32 {
    v.as_f64().expect("number") as f32
}

fn meters_of(line: &Value) -> Vec<f32> {
    let m = line["meters"].as_object().expect("meters object");
    [
        "energy",
        "hygiene",
        "satiation",
        "money",
        "mood",
        "social",
        "health",
        "fitness",
    ]
    .iter()
    .map(|n| f(&m[*n]))
    .collect()
}

fn mask_of(line: &Value) -> Vec<u8> {
    line["next_action_mask"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| u8::from(b.as_bool().unwrap()))
        .collect()
}

#[test]
fn g1_from_json_output() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = write_layout(tmp.path(), &layout_r_prime());
    let lines = run_ok(
        bin()
            .arg("--pack")
            .arg(pack_dir(L1))
            .args(["--seed", "7", "--start", "0,0", "--multiplier", "1.0"])
            .arg("--layout")
            .arg(&layout)
            .args(["--actions", "WAIT,RIGHT,INTERACT,REST,7", "--json"]),
    );
    assert_eq!(lines.len(), 5);
    let want: [([i64; 2], [f32; 8], f32); 5] = [
        (
            [0, 0],
            [0.994, 0.997, 0.996, 0.5, 0.999, 0.994, 0.999495, 0.998],
            0.993498,
        ),
        (
            [1, 0],
            [0.984, 0.991, 0.988, 0.5, 0.998, 0.988, 0.998985, 0.996],
            0.983001,
        ),
        (
            [1, 0],
            [0.995, 0.988, 0.984, 0.45, 0.997, 0.982, 0.999485, 0.994],
            0.994488,
        ),
        (
            [1, 0],
            [0.992, 0.985, 0.980, 0.45, 0.999, 0.976, 0.998965, 0.992],
            0.990973,
        ),
        (
            [1, 0],
            [0.986, 0.982, 0.976, 0.45, 0.999, 0.970, 0.998440, 0.990],
            0.984462,
        ),
    ];
    let names = ["WAIT", "RIGHT", "INTERACT", "REST", "MEDITATE"];
    for (i, (line, (pos, meters, reward))) in lines.iter().zip(want).enumerate() {
        let what = format!("G1 step {}", i + 1);
        assert_eq!(line["step"], i as u64 + 1);
        assert_eq!(line["action"], names[i]);
        assert_eq!(line["position"], serde_json::json!(pos), "{what}");
        assert_close(&meters_of(line), &meters, 1e-6, &what);
        assert_near(f(&line["reward"]), reward, &what);
        assert_eq!(line["done"], false);
        assert!(line["end_reason"].is_null());
        assert_eq!(line["time_of_day"], i as u64 + 1);
        assert_eq!(line["interaction_ticks"], 0);
        assert_eq!(line["observation"].as_array().unwrap().len(), 93);
    }
    assert_eq!(mask_of(&lines[1]), [0, 1, 1, 1, 1, 1, 1, 1]);
    let obs: Vec<f32> = lines[4]["observation"]
        .as_array()
        .unwrap()
        .iter()
        .map(f)
        .collect();
    assert_close(&obs[89..], &[0.0, 1.0, 0.0, 0.005], 1e-6, "G1 tail");
    // The meters object lists the meters in index order.
    let keys: Vec<&String> = lines[0]["meters"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 8);
}

#[test]
fn g3_from_json_output() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = write_layout(tmp.path(), &layout_r());
    let actions = tmp.path().join("actions.txt");
    std::fs::write(
        &actions,
        "# six INTERACTs\nINTERACT\n4\n\ninteract\nINTERACT\nINTERACT\nINTERACT\n",
    )
    .unwrap();
    let lines = run_ok(
        bin()
            .arg("--pack")
            .arg(pack_dir(L3))
            .arg("--layout")
            .arg(&layout)
            .args([
                "--start",
                "0,7",
                "--meters",
                "energy=0.3",
                "--time-of-day",
                "0",
            ])
            .arg("--actions-file")
            .arg(&actions)
            .arg("--json"),
    );
    assert_eq!(lines.len(), 6);
    let want: [(u64, f32, f32, f32, u64, f32); 6] = [
        (1, 0.370, 0.49, 0.999495, 1, 0.369813),
        (2, 0.440, 0.48, 0.998985, 2, 0.439553),
        (3, 0.510, 0.47, 0.998470, 3, 0.509220),
        (4, 0.580, 0.46, 0.997950, 4, 0.578811),
        (0, 0.775, 0.45, 0.999475, 5, 0.774593),
        (1, 0.845, 0.44, 0.998945, 6, 0.844109),
    ];
    for (i, (line, (ticks, energy, money, health, tod, reward))) in
        lines.iter().zip(want).enumerate()
    {
        let what = format!("G3 step {}", i + 1);
        let m = meters_of(line);
        assert_eq!(line["interaction_ticks"], ticks, "{what}");
        assert!(
            line["interaction_ticks"].is_u64(),
            "ticks are a whole number"
        );
        assert_near(m[0], energy, &what);
        assert_near(m[3], money, &what);
        assert_near(m[6], health, &what);
        assert_eq!(line["time_of_day"], tod, "{what}");
        assert_near(f(&line["reward"]), reward, &what);
    }
    assert_close(
        &meters_of(&lines[5]),
        &[0.845, 0.982, 0.976, 0.44, 0.994, 0.964, 0.998945, 0.988],
        1e-6,
        "G3 step 6 meters",
    );
}

#[test]
fn stops_printing_after_done() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = write_layout(tmp.path(), &layout_r());
    let lines = run_ok(
        bin()
            .arg("--pack")
            .arg(pack_dir(L1))
            .arg("--layout")
            .arg(&layout)
            .args(["--start", "3,3", "--meters", "energy=0.004"])
            .args(["--actions", "WAIT,WAIT,WAIT", "--json"]),
    );
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["done"], true);
    assert_eq!(lines[0]["end_reason"], "died");
    assert_eq!(f(&lines[0]["reward"]), 0.0);
    assert_eq!(mask_of(&lines[0]), [0; 8]);
}

#[test]
fn max_steps_truncates() {
    let lines = run_ok(
        bin()
            .arg("--pack")
            .arg(pack_dir(L2))
            .args([
                "--seed",
                "3",
                "--actions",
                "WAIT,WAIT,WAIT,WAIT",
                "--max-steps",
                "2",
            ])
            .arg("--json"),
    );
    assert_eq!(lines.len(), 2);
    assert!(lines[0]["end_reason"].is_null());
    assert_eq!(lines[1]["end_reason"], "truncated");
    assert_eq!(lines[1]["done"], false);
    assert_eq!(lines[1]["observation"].as_array().unwrap().len(), 54);
}

#[test]
fn same_seed_same_output_and_table_mode() {
    let args = ["--seed", "11", "--actions", "WAIT,UP,LEFT,INTERACT,REST"];
    let run = |json: bool| {
        let mut c = bin();
        c.arg("--pack").arg(pack_dir(L0_5)).args(args);
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let a = run(true);
    let b = run(true);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let table = run(false);
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("layout: Bed@"), "{text}");
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("5 REST")),
        "{text}"
    );
}

fn run_bad(args: &[&str]) -> (Output, String) {
    let out = bin().args(args).output().expect("runs");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    (out, err)
}

#[test]
fn bad_flags_exit_2_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let l1 = pack_dir(L1).display().to_string();
    let bad_json = tmp.path().join("bad.json");
    std::fs::write(&bad_json, "{not json").unwrap();
    let bad_json = bad_json.display().to_string();
    let partial = tmp.path().join("partial.json");
    std::fs::write(&partial, r#"{"Bed":[0,0]}"#).unwrap();
    let partial = partial.display().to_string();
    let missing = tmp.path().join("nope").display().to_string();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--pack", &l1, "--actions", "FLY"],
            vec!["--actions", "FLY"],
        ),
        (
            vec!["--pack", &l1, "--actions", "9"],
            vec!["--actions", "9"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT,,UP"],
            vec!["--actions"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--multiplier", "-1"],
            vec!["--multiplier", "-1"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--multiplier", "x"],
            vec!["--multiplier", "x"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--start", "a,b"],
            vec!["--start", "a,b"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--start", "9,0"],
            vec!["--start", "9,0"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--meters", "hunger=0.5"],
            vec!["--meters", "hunger"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--meters", "energy=2"],
            vec!["--meters", "energy"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--meters", "energy"],
            vec!["--meters", "energy"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--time-of-day", "30"],
            vec!["--time-of-day", "30"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--max-steps", "0"],
            vec!["--max-steps", "0"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--layout", &bad_json],
            vec!["--layout", "bad.json"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--layout", &partial],
            vec!["--layout", "missing"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--layout", &missing],
            vec!["--layout", "nope"],
        ),
        (
            vec!["--pack", &l1, "--actions-file", &missing],
            vec!["--actions-file", "nope"],
        ),
        (
            vec!["--pack", &missing, "--actions", "WAIT"],
            vec!["--pack", "nope"],
        ),
        (vec!["--pack", &l1], vec!["--actions"]),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--bogus"],
            vec!["--bogus"],
        ),
        (
            vec!["--pack", &l1, "--actions", "WAIT", "--seed", "-3"],
            vec!["--seed", "-3"],
        ),
    ];
    for (args, needles) in cases {
        let (out, err) = run_bad(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: stderr {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: stderr lacks '{n}': {err}");
        }
    }
}

#[test]
fn a_missing_pack_is_said_once() {
    let (out, err) = run_bad(&["--pack", "/nonexistent", "--actions", "WAIT"]);
    assert_eq!(out.status.code(), Some(2), "stderr {err}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        err,
        "error: --pack '/nonexistent': the pack does not load\n  \
         caused by: /nonexistent: pack folder not found\n"
    );
}
