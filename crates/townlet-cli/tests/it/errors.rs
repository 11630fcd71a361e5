//! Errors a user causes, as the binaries print them: `error: <what failed>` then each
//! cause once (`  caused by: …`), nothing said twice, exit code 1 (2 for bad flags).

use crate::demo::{repo, tiny_pack};
use std::path::Path;
use std::process::{Command, Output};

pub(crate) fn train(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_townlet-train"))
        .args(args)
        .args(["--quiet", "--runs-root"])
        .arg(cwd.join("runs"))
        .current_dir(cwd)
        .output()
        .expect("run townlet-train")
}

/// The error report on stderr (log lines from tracing are left out), checked to say
/// nothing twice.
fn report(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.starts_with("error: "))
        .collect();
    assert!(!lines.is_empty(), "no `error:` line in {stderr}");
    for (i, a) in lines.iter().enumerate() {
        let a = a
            .trim_start_matches("error: ")
            .trim_start_matches("  caused by: ");
        for b in &lines[i + 1..] {
            let b = b.trim_start_matches("  caused by: ");
            assert!(!a.contains(b) && !b.contains(a), "said twice:\n{stderr}");
        }
    }
    lines.join("\n")
}

fn copy_pack(tmp: &Path, edit: impl Fn(&str, String) -> String) -> std::path::PathBuf {
    let pack = tiny_pack(tmp);
    for entry in std::fs::read_dir(&pack).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        std::fs::write(entry.path(), edit(&name, text)).unwrap();
    }
    pack
}

#[test]
fn missing_pack_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = train(&["--pack", "/nonexistent"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report(&out), "error: /nonexistent: pack folder not found");
}

#[test]
fn yaml_syntax_error() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = copy_pack(tmp.path(), |name, text| {
        if name == "bars.yaml" {
            text.replacen("bars:", "bars: [", 1)
        } else {
            text
        }
    });
    let out = train(&["--pack", pack.to_str().unwrap()], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        report(&out),
        "error: tiny/bars.yaml: line 14, column 3: did not find expected node content"
    );
}

#[test]
fn invalid_value_names_file_key_and_value() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = copy_pack(tmp.path(), |name, text| {
        if name == "training.yaml" {
            let at = text
                .find("learning_rate:")
                .expect("learning_rate in training.yaml");
            let end = at + text[at..].find('\n').unwrap();
            format!("{}learning_rate: -0.5{}", &text[..at], &text[end..])
        } else {
            text
        }
    });
    let out = train(&["--pack", pack.to_str().unwrap()], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        report(&out),
        "error: tiny/training.yaml: population.learning_rate: -0.5 must be > 0"
    );
}

#[test]
fn taken_port() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let pack = tiny_pack(tmp.path());
    let out = Command::new(env!("CARGO_BIN_EXE_townlet-demo"))
        .args(["--pack", pack.to_str().unwrap(), "--no-open", "--port"])
        .arg(port.to_string())
        .arg("--runs-root")
        .arg(tmp.path().join("runs"))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        report(&out),
        format!(
            "error: cannot listen on 127.0.0.1:{port} (is another server already using the port? choose one with --port)\n  caused by: Address already in use (os error 98)"
        )
    );
    assert!(
        !tmp.path().join("runs").exists(),
        "nothing is trained or written before the port is bound"
    );
}

#[test]
fn bad_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("not-a-run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("notes.txt"), "hello").unwrap();
    let out = train(&["--run", run.to_str().unwrap()], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        report(&out),
        format!(
            "error: {} is not a Townlet run folder (it has no config_snapshot/); pass --pack to start a new run in it",
            run.display()
        )
    );
}

#[test]
fn checkpoint_from_another_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let l0 = repo().join("configs/L0_0_minimal");
    let l05 = repo().join("configs/L0_5_dual_resource");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (pack, run) in [(&l0, &a), (&l05, &b)] {
        let out = train(
            &[
                "--pack",
                pack.to_str().unwrap(),
                "--run",
                run.to_str().unwrap(),
                "--episodes",
                "1",
            ],
            tmp.path(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // B's newest checkpoint is replaced by A's (another pack, another config hash).
    let newest = |run: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v.pop().unwrap()
    };
    std::fs::copy(newest(&a), newest(&b)).unwrap();
    let out = train(&["--run", b.to_str().unwrap()], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        report(&out),
        format!(
            "error: cannot resume run folder {b}\n  caused by: its newest checkpoint {b}/checkpoints/checkpoint_ep000000.ckpt was made for pack 'L0_0_minimal', but the run's config snapshot is pack 'L0_5_dual_resource'",
            b = b.display()
        )
    );
}

#[test]
fn bad_bus_flags_are_errors_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = tiny_pack(tmp.path());
    let pack = pack.to_str().unwrap();
    let out = train(
        &["--pack", pack, "--publish", "http://bus.example:4222"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        report(&out),
        "error: --publish\n  caused by: \"http://bus.example:4222\" is not a NATS server address (nats://HOST:PORT, nats://USER:PASS@HOST:PORT or tls://HOST:PORT)\n  caused by: invalid scheme for NATS server URL: http"
    );
    let out = train(
        &[
            "--pack",
            pack,
            "--publish",
            "nats://user:secret@127.0.0.1:4222",
            "--nats-creds",
            "/nonexistent.creds",
        ],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    assert!(
        r.starts_with("error: --publish\n  caused by: cannot read the NATS credentials file /nonexistent.creds\n  caused by: No such file"),
        "{r}"
    );
    assert!(!r.contains("secret"));
    let out = train(
        &[
            "--pack",
            pack,
            "--publish",
            "nats://127.0.0.1:4222",
            "--bus-run-id",
            "a.b",
        ],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        report(&out),
        "error: run id \"a.b\" cannot name a run on the bus: 1 to 64 characters from A-Z a-z 0-9 _ -"
    );
    // Nothing was started: no run folder.
    assert!(!tmp.path().join("runs").exists());
}
