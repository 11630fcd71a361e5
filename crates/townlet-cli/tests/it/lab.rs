//! Labs end to end (no browser): two runs of a tiny pack train in one process and are
//! served on one port. Each viewer watches one run (`/ws?run=<id>`) and receives that
//! run's episodes, equal to what that run recorded; a stop writes both final
//! checkpoints and `--resume` continues both runs where they stopped.

use crate::demo::{
    DEADLINE, Watched, assert_stopped_with_final_checkpoint, assert_streamed_equal_recorded,
    free_port, interrupt, tiny_pack, wait_for_episodes, watch_episodes,
};
use std::path::{Path, PathBuf};
use std::time::Instant;
use townlet_inference::ServerOptions;
use townlet_unified_server::{
    LabError, LabOptions, LabOutcome, LabStarted, ShutdownHandle, run_lab,
};

const RUN_IDS: [&str; 2] = ["seed-one", "seed-two"];

/// A two-run lab of the tiny pack (`configs/tiny` under `dir`) in `dir/configs/<name>`;
/// `extra` is appended to the second run's `set:`.
fn write_lab(dir: &Path, name: &str, extra: &str) -> PathBuf {
    tiny_pack(dir);
    let file = dir.join("configs").join(name);
    let run = |name: &str, seed: u64, extra: &str| {
        format!(
            "  - {{name: {name}, pack: tiny, seed: {seed}, episodes: 100000, \
             set: {{curriculum.max_steps_per_episode: 30{extra}}}}}\n"
        )
    };
    let text = format!(
        "title: Two seeds\nruns:\n{}{}",
        run("seed one", 1, ""),
        run("seed two", 2, extra)
    );
    std::fs::write(&file, text).unwrap();
    file
}

fn lab_options(dir: &Path, lab: &Path, resume: bool) -> LabOptions {
    LabOptions {
        resume,
        server: ServerOptions {
            port: free_port(),
            ..ServerOptions::default()
        },
        ..LabOptions::new(lab.to_path_buf(), dir.join("configs"), dir.join("runs"))
    }
}

/// `run_lab` on `lab`, which must fail before anything starts.
fn refused(dir: &Path, lab: &Path, resume: bool) -> LabError {
    run_lab(lab_options(dir, lab, resume), ShutdownHandle::new(), |_| {
        panic!("must not start")
    })
    .unwrap_err()
}

type LabThread = std::thread::JoinHandle<Result<LabOutcome, LabError>>;

fn start_lab(opts: LabOptions) -> (ShutdownHandle, LabThread, LabStarted) {
    let shutdown = ShutdownHandle::new();
    let (tx, rx) = std::sync::mpsc::channel::<LabStarted>();
    let sd = shutdown.clone();
    let lab = std::thread::spawn(move || run_lab(opts, sd, move |s| tx.send(s.clone()).unwrap()));
    let started = rx.recv_timeout(DEADLINE).expect("lab started");
    (shutdown, lab, started)
}

/// One viewer per run, at the same time, each watching `want` episodes of its run.
fn watch_each_run(port: u16, want: usize) -> Vec<Watched> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let viewers = RUN_IDS.map(|id| async move {
            let url = format!("ws://127.0.0.1:{port}/ws?run={id}");
            let (ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("connect");
            watch_episodes(ws, want).await
        });
        let [a, b] = viewers;
        let (a, b) = tokio::join!(a, b);
        vec![a, b]
    })
}

#[test]
fn each_run_streams_its_own_episodes_stops_with_checkpoints_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = write_lab(tmp.path(), "two.yaml", "");
    let (shutdown, thread, started) = start_lab(lab_options(tmp.path(), &lab, false));
    let ids: Vec<&str> = started.runs.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, RUN_IDS);
    assert_eq!(started.title, "Two seeds");
    for (id, dir) in &started.runs {
        assert_eq!(dir, &started.lab_dir.join(id));
        assert_eq!(
            started.lab_dir.parent().unwrap(),
            tmp.path().join("runs/labs/two")
        );
    }

    let watched = watch_each_run(started.port, 3);
    for (id, w) in RUN_IDS.iter().zip(&watched) {
        let hello = w.hello.as_ref().expect("hello");
        assert_eq!(hello.run_id, *id);
        let listed: Vec<&str> = hello.runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(listed, RUN_IDS, "hello lists both runs in lab order");
        assert_eq!(hello.lab_title.as_deref(), Some("Two seeds"));
        assert!(
            w.summaries.len() >= 3,
            "{id}: {} summaries",
            w.summaries.len()
        );
        assert!(w.episodes.len() >= 3, "{id}: {} episodes", w.episodes.len());
        assert!(w.summaries.iter().all(|(s, _)| s.run_id == *id));
        assert!(w.episodes.iter().all(|e| e.run_id == *id));
    }

    shutdown.request_stop();
    let first = thread.join().unwrap().expect("clean stop");
    assert_eq!(first.lab_dir, started.lab_dir);
    let mut stopped_at = vec![];
    for ((id, dir), w) in started.runs.iter().zip(&watched) {
        // What each viewer saw is what its own run recorded.
        assert_streamed_equal_recorded(dir, &w.episodes);
        let last = assert_stopped_with_final_checkpoint(dir);
        eprintln!("{id} stopped after episode {last}");
        stopped_at.push(last);
    }

    // A lab file whose runs changed does not resume (and starts nothing).
    let changed = write_lab(tmp.path(), "two.yaml", ", training.epsilon_decay: 0.9");
    let err = refused(tmp.path(), &changed, true);
    assert!(matches!(err, LabError::RunChanged { .. }), "{err}");
    assert!(err.to_string().contains("seed two"), "{err}");

    // --resume: the same folders, each run right after its final checkpoint.
    let lab = write_lab(tmp.path(), "two.yaml", "");
    let (shutdown, thread, resumed) = start_lab(lab_options(tmp.path(), &lab, true));
    assert_eq!(resumed.lab_dir, started.lab_dir);
    assert_eq!(resumed.runs, started.runs);
    for ((_, dir), last) in resumed.runs.iter().zip(&stopped_at) {
        wait_for_episodes(dir, last + 3);
    }
    shutdown.request_stop();
    let second = thread.join().unwrap().expect("clean stop");
    for ((run, dir), last) in second.runs.iter().zip(&resumed.runs).zip(&stopped_at) {
        assert_eq!(
            run.summary.next_episode - run.summary.episodes_run,
            last + 1,
            "{} resumed right after its last episode",
            run.id
        );
        // No gap and no repeat across the two sessions.
        assert!(assert_stopped_with_final_checkpoint(&dir.1) > *last);
    }
}

#[test]
fn a_bad_lab_starts_nothing_and_creates_no_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let runs_root = tmp.path().join("runs");
    let cases = [
        (", training.no_such_key: 1", "no_such_key"),
        (", training.epsilon_decay: lots", "lots"),
    ];
    for (extra, named) in cases {
        let lab = write_lab(tmp.path(), "bad.yaml", extra);
        let err = refused(tmp.path(), &lab, false);
        let text = err.to_string();
        assert!(matches!(err, LabError::Config(_)), "{text}");
        assert!(text.contains(named) && text.contains("bad.yaml"), "{text}");
        assert!(!runs_root.exists(), "{extra}: a folder was created");
    }
    let missing = tmp.path().join("configs/missing.yaml");
    std::fs::write(
        &missing,
        "title: t\nruns:\n  - {name: a, pack: no_such_pack}\n",
    )
    .unwrap();
    let err = refused(tmp.path(), &missing, false);
    assert!(err.to_string().contains("no_such_pack"), "{err}");
    // Nothing to resume yet.
    let lab = write_lab(tmp.path(), "fresh.yaml", "");
    let err = refused(tmp.path(), &lab, true);
    assert!(matches!(err, LabError::NothingToResume { .. }), "{err}");
    assert!(!runs_root.exists());
}

#[test]
fn ctrl_c_stops_every_run_of_the_binary_with_its_final_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = write_lab(tmp.path(), "two.yaml", "");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_townlet-demo"))
        .arg("--lab")
        .arg(&lab)
        .arg("--runs-root")
        .arg(tmp.path().join("runs"))
        .args(["--no-open", "--port", &free_port().to_string()])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let root = tmp.path().join("runs/labs/two");
    let t0 = Instant::now();
    let lab_dir = loop {
        if let Some(d) = std::fs::read_dir(&root)
            .ok()
            .and_then(|mut it| it.next())
            .and_then(Result::ok)
        {
            break d.path();
        }
        assert!(t0.elapsed() < DEADLINE, "no lab folder appeared");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    for id in RUN_IDS {
        wait_for_episodes(&lab_dir.join(id), 2);
    }
    assert_eq!(interrupt(&mut child).code(), Some(0));
    for id in RUN_IDS {
        assert_stopped_with_final_checkpoint(&lab_dir.join(id));
    }
}
