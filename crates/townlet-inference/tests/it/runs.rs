//! Several runs on one server (docs/protocol.md#runs): each client gets only its run's
//! messages, `watch` and `?run=` choose the run, unknown runs are refused, a finished run
//! is announced, and `--runs-root` picks up run folders created after start.

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tokio::sync::oneshot;
use townlet_inference::{LiveSender, LiveSource, Mode, Runs, ServedRun, bind, serve_runs};

/// A server with two live runs `a` and `b` of a lab.
async fn two_runs(dir: &Path) -> (Server, LiveSender, LiveSender) {
    let world = world(dir);
    let runs = Runs::new(Some("Two runs".into()));
    let mut senders = Vec::new();
    for id in ["a", "b"] {
        let (tx, source) = LiveSource::channel(64);
        senders.push(tx);
        runs.add(ServedRun {
            id: id.into(),
            name: format!("run {id}"),
            seed: 1,
            overrides: Default::default(),
            mode: Mode::Live(source),
            world: world.clone(),
            run_dir: None,
        })
        .unwrap();
    }
    // A duplicate id is refused.
    let (_, source) = LiveSource::channel(1);
    assert!(
        runs.add(ServedRun {
            id: "a".into(),
            name: "again".into(),
            seed: 1,
            overrides: Default::default(),
            mode: Mode::Live(source),
            world: world.clone(),
            run_dir: None,
        })
        .is_err()
    );
    let server = start_runs(runs, test_opts()).await;
    let b = senders.pop().unwrap();
    let a = senders.pop().unwrap();
    (server, a, b)
}

async fn start_runs(runs: Runs, opts: townlet_inference::ServerOptions) -> Server {
    let listener = bind(&opts).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve_runs(listener, runs, opts, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Server::new(addr, tx, task)
}

async fn connect_to(server: &Server, query: &str) -> Ws {
    let url = format!("{}{query}", server.ws_url());
    let (ws, _) = tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect in time")
        .expect("connect");
    ws
}

/// Reads until the summary of episode `id`; every run-specific message on the way must
/// belong to run `run`.
async fn summary_of(ws: &mut Ws, run: &str, id: u64) -> Value {
    recv_where(ws, |v| {
        if let Some(r) = v.get("run_id").and_then(Value::as_str) {
            assert_eq!(r, run, "a message of another run arrived: {v}");
        }
        v["type"] == "episode_summary" && v["episode_id"] == id
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_each_client_gets_only_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let (server, a, b) = two_runs(dir.path()).await;
    a.offer(episode(0, 10, false));
    b.offer(episode(100, 12, true));

    // Default: the first run. `?run=b`: run b.
    let mut wa = connect(&server).await;
    let hello = recv(&mut wa).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["v"], 2);
    assert_eq!(hello["run_id"], "a");
    assert_eq!(hello["lab_title"], "Two runs");
    let ids: Vec<&str> = hello["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(hello["runs"][0]["status"], "live");
    let mut wb = connect_to(&server, "?run=b").await;
    let hello_b = recv(&mut wb).await;
    assert_eq!(hello_b["run_id"], "b");

    // Each gets its own run's episodes, and nothing of the other's.
    let ep = recv_where(&mut wb, |v| v["type"] == "episode").await;
    assert_eq!(
        (ep["run_id"].clone(), ep["episode_id"].clone()),
        ("b".into(), 100.into())
    );
    let stats = recv_type(&mut wa, "stats").await;
    assert_eq!(stats["run_id"], "a");
    b.offer(episode(101, 5, false));
    summary_of(&mut wb, "b", 101).await;
    a.offer(episode(1, 5, false));
    let s = summary_of(&mut wa, "a", 1).await;
    assert_eq!(s["run_id"], "a");

    // The runs' figures.
    let (status, runs) = http_json(server.addr, "/api/runs").await;
    assert_eq!(status, 200);
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(runs[1]["episodes"], 102);
    assert_eq!(runs[1]["best_survival"], 12);
    assert_eq!(runs[1]["mean_survival_100"], 8.5);
    assert_eq!(runs[1]["sparkline"].as_array().unwrap().len(), 2);
    let (_, status) = http_json(server.addr, "/api/status").await;
    assert_eq!(status["runs"], 2);
    assert_eq!(status["run_id"], "a");
    let (code, _) = http_json(server.addr, "/api/episodes?run=nope").await;
    assert_eq!(code, 404);

    // `watch` switches: a fresh hello, stats with history, the run's latest episode.
    send(&mut wa, r#"{"type":"watch","run_id":"b"}"#).await;
    let hello = recv_type(&mut wa, "hello").await;
    assert_eq!(hello["run_id"], "b");
    let stats = recv_type(&mut wa, "stats").await;
    assert_eq!(stats["run_id"], "b");
    assert_eq!(stats["history"].as_array().unwrap().len(), 2);
    let ep = recv_type(&mut wa, "episode").await;
    assert_eq!(
        (ep["run_id"].clone(), ep["episode_id"].clone()),
        ("b".into(), 101.into())
    );
    // An unknown run changes nothing.
    send(&mut wa, r#"{"type":"watch","run_id":"zzz"}"#).await;
    let err = recv_type(&mut wa, "error").await;
    assert_eq!(err["code"], "unknown_run");
    assert_eq!(err["request"], "watch");
    a.offer(episode(2, 5, false));
    b.offer(episode(102, 5, false));
    summary_of(&mut wa, "b", 102).await;

    // Run b's trainer stops: everyone hears that it finished.
    drop(b);
    for ws in [&mut wa, &mut wb] {
        let runs = recv_where(ws, |v| {
            v["type"] == "runs" && v["runs"][1]["status"] == "finished"
        })
        .await;
        assert_eq!(runs["runs"][0]["status"], "live");
        assert_eq!(runs["lab_title"], "Two runs");
    }
    drop(a);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_run_on_connect_gets_an_error_then_the_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _a, _b) = two_runs(dir.path()).await;
    let mut ws = connect_to(&server, "?run=missing").await;
    let err = recv(&mut ws).await;
    assert_eq!(err["type"], "error");
    assert_eq!(err["code"], "unknown_run");
    assert!(err["message"].as_str().unwrap().contains("a, b"), "{err}");
    let hello = recv(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["run_id"], "a");
    server.stop().await;
}

/// A run folder as `townlet-train` leaves it (recordings only: no checkpoints).
fn run_folder(root: &Path, rel: &str, scratch: &Path) {
    let pack = load(&tiny_pack(scratch));
    townlet_config::write_snapshot(&pack, &root.join(rel).join("config_snapshot")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_root_serves_every_run_folder_and_finds_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("runs");
    run_folder(&root, "L0_0_minimal/2026-01-01_000000", dir.path());
    let opts = test_opts();
    let listener = bind(&opts).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let served_root = root.clone();
    let task = tokio::spawn(async move {
        townlet_inference::serve_runs_root(
            listener,
            served_root,
            false,
            Duration::from_millis(100),
            opts,
            async {
                let _ = rx.await;
            },
        )
        .await
        .unwrap();
    });
    let server = Server::new(addr, tx, task);
    let mut ws = connect(&server).await;
    let hello = recv(&mut ws).await;
    assert_eq!(hello["run_id"], "L0_0_minimal~2026-01-01_000000");
    assert_eq!(hello["runs"][0]["status"], "recorded");
    assert_eq!(hello["runs"][0]["name"], "2026-01-01_000000");
    assert_eq!(hello["lab_title"], Value::Null);

    // A run folder created after start appears, newest first.
    std::thread::sleep(Duration::from_millis(20));
    run_folder(&root, "L0_0_minimal/2026-01-02_000000", dir.path());
    let runs = recv_where(&mut ws, |v| {
        v["type"] == "runs" && v["runs"].as_array().is_some_and(|r| r.len() == 2)
    })
    .await;
    assert_eq!(runs["runs"][0]["id"], "L0_0_minimal~2026-01-02_000000");
    send(
        &mut ws,
        r#"{"type":"watch","run_id":"L0_0_minimal~2026-01-02_000000"}"#,
    )
    .await;
    let hello = recv_type(&mut ws, "hello").await;
    assert_eq!(hello["run_id"], "L0_0_minimal~2026-01-02_000000");
    server.stop().await;
}
