//! End-to-end (no browser): the unified server trains a tiny pack while a WebSocket client
//! watches. What the client receives is what training wrote: streamed metadata equals
//! the SQLite row, streamed steps equal the recording file, field by field (as f32,
//! docs/decisions.md#comparing-streamed-with-stored-values).

use futures_util::{SinkExt, StreamExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use townlet_inference::{LiveSource, ServerOptions};
use townlet_protocol::{ServerMessage, Source, parse_server_message};
use townlet_recording::Database;
use townlet_runner::{DemoRunner, RunnerOptions};
use townlet_unified_server::{DemoOptions, ShutdownHandle, Started, run_demo};

pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A copy of L0_0 that records every episode, in its own configs root
/// (docs/decisions.md#browser-tests-as-root).
pub(crate) fn tiny_pack(dir: &Path) -> PathBuf {
    let pack = dir.join("configs/tiny");
    std::fs::create_dir_all(&pack).unwrap();
    for f in [
        "substrate.yaml",
        "bars.yaml",
        "cascades.yaml",
        "affordances.yaml",
        "training.yaml",
    ] {
        let text = std::fs::read_to_string(repo().join("configs/L0_0_minimal").join(f)).unwrap();
        let text = text.replace(
            "periodic: {enabled: true, interval: 100}",
            "periodic: {enabled: true, interval: 1}",
        );
        std::fs::write(pack.join(f), text).unwrap();
    }
    std::fs::copy(
        repo().join("configs/global_actions.yaml"),
        dir.join("configs/global_actions.yaml"),
    )
    .unwrap();
    pack
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

type DemoThread = std::thread::JoinHandle<
    Result<townlet_unified_server::DemoOutcome, townlet_unified_server::DemoError>,
>;

/// `run_demo` on a thread: `(episodes, seed, max_steps)` of `pack` into `run`, on a free
/// port, training once `wait_for_viewers` viewers are connected.
fn start_demo(
    pack: &Path,
    run: &Path,
    (episodes, seed, max_steps): (u64, u64, u32),
    wait_for_viewers: u64,
) -> (ShutdownHandle, DemoThread, Started) {
    let shutdown = ShutdownHandle::new();
    let (tx, rx) = std::sync::mpsc::channel::<Started>();
    let opts = DemoOptions {
        runner: RunnerOptions {
            pack_dir: Some(pack.to_path_buf()),
            run_dir: Some(run.to_path_buf()),
            episodes: Some(episodes),
            seed: Some(seed),
            max_steps: Some(max_steps),
            ..Default::default()
        },
        server: ServerOptions {
            port: free_port(),
            ..ServerOptions::default()
        },
        wait_for_viewers,
        ..DemoOptions::default()
    };
    let sd = shutdown.clone();
    let server =
        std::thread::spawn(move || run_demo(opts, sd, move |s| tx.send(s.clone()).unwrap()));
    let started = rx.recv_timeout(DEADLINE).expect("server started");
    (shutdown, server, started)
}

fn same_f32(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// What a viewer received: its `hello`, every training `episode_summary` with the
/// latency finished_at → received (ms), and the full episodes it asked for.
pub(crate) struct Watched {
    pub hello: Option<townlet_protocol::Hello>,
    pub summaries: Vec<(townlet_protocol::EpisodeSummary, u64)>,
    pub episodes: Vec<townlet_protocol::Episode>,
}

/// Read `ws` until `want` training episodes (and their summaries) have arrived, asking
/// for each summarised episode in full with `get_episode`, or until the deadline.
pub(crate) async fn watch_episodes<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    want: usize,
) -> Watched
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut hello = None;
    let mut summaries = vec![];
    let mut episodes: Vec<townlet_protocol::Episode> = vec![];
    // Ask for one full episode at a time (a newer episode replaces an unsent one in a
    // client's queue, so a burst of requests would not all be answered).
    let mut pending: std::collections::VecDeque<u64> = Default::default();
    let mut in_flight: Option<u64> = None;
    let t0 = Instant::now();
    while !(episodes.len() >= want
        && summaries.len() >= want
        && pending.is_empty()
        && in_flight.is_none())
        && t0.elapsed() < DEADLINE
    {
        let msg = match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(msg))) => msg,
            other => {
                eprintln!("the viewer's stream ended: {other:?}");
                break;
            }
        };
        let Message::Text(text) = msg else { continue };
        let received_at = townlet_protocol::unix_ms_now();
        match parse_server_message(&text).expect("valid server message") {
            ServerMessage::Hello(h) => {
                assert!(hello.is_none(), "hello once");
                assert_eq!(h.meters.len(), 8);
                assert_eq!(h.actions.len(), 8);
                hello = Some(h);
            }
            ServerMessage::EpisodeSummary(s) => {
                assert!(hello.is_some(), "hello comes first");
                assert_eq!(s.source, Source::Training);
                pending.push_back(s.episode_id);
                let latency = received_at.saturating_sub(s.finished_at);
                summaries.push((s, latency));
            }
            ServerMessage::Episode(e) => {
                assert!(hello.is_some());
                if in_flight == Some(e.episode_id) {
                    in_flight = None;
                }
                if e.source == Source::Training
                    && !episodes.iter().any(|x| x.episode_id == e.episode_id)
                {
                    episodes.push(e);
                }
            }
            _ => {}
        }
        if in_flight.is_none() {
            while let Some(id) = pending.pop_front() {
                if episodes.iter().any(|x| x.episode_id == id) {
                    continue;
                }
                let ask = format!(r#"{{"type":"get_episode","id":{id}}}"#);
                ws.send(Message::Text(ask.into())).await.unwrap();
                in_flight = Some(id);
                break;
            }
        }
    }
    let _ = ws.close(None).await;
    Watched {
        hello,
        summaries,
        episodes,
    }
}

/// Each streamed episode equals what training wrote to `run`: metadata the SQLite row,
/// steps the recording file, field by field.
pub(crate) fn assert_streamed_equal_recorded(run: &Path, episodes: &[townlet_protocol::Episode]) {
    let db = Database::open_read(&run.join("metrics.db")).unwrap();
    for ep in episodes {
        let row = db
            .episode_row(ep.episode_id)
            .unwrap()
            .expect("row in the DB");
        let m = &row.metadata;
        assert_eq!(ep.metadata.survival_steps, m.survival_steps);
        assert!(same_f32(ep.metadata.total_reward, m.total_reward));
        assert!(same_f32(ep.metadata.extrinsic_reward, m.extrinsic_reward));
        assert!(same_f32(ep.metadata.intrinsic_reward, m.intrinsic_reward));
        assert!(same_f32(ep.metadata.epsilon, m.epsilon));
        assert!(same_f32(ep.metadata.intrinsic_weight, m.intrinsic_weight));
        assert_eq!(ep.metadata.curriculum_stage, m.curriculum_stage);
        assert_eq!(
            format!("{:?}", ep.metadata.end_reason),
            format!("{:?}", m.end_reason)
        );
        let file = run.join(format!("recordings/episode_{:06}.twrec", ep.episode_id));
        let rec = townlet_recording::read_recording(&file).expect("recording file");
        let steps = rec.episode.recorded_steps();
        assert_eq!(steps.len(), ep.steps.len());
        for (i, s) in steps.iter().enumerate() {
            assert_eq!(ep.steps.step[i], s.step);
            assert_eq!(ep.steps.position[i], [s.position.0, s.position.1]);
            assert_eq!(ep.steps.action[i], s.action);
            assert_eq!(ep.steps.done[i], s.done);
            assert_eq!(ep.steps.explored[i], s.explored);
            assert!(same_f32(ep.steps.reward[i], s.reward));
            assert!(same_f32(ep.steps.intrinsic_reward[i], s.intrinsic_reward));
            for (a, b) in ep.steps.meters[i].iter().zip(&s.meters) {
                assert!(same_f32(*a, *b), "meters differ at step {i}");
            }
            let (qa, qb) = (
                ep.steps.q_values[i].as_ref().unwrap(),
                s.q_values.as_ref().unwrap(),
            );
            assert!(qa.iter().zip(qb).all(|(a, b)| same_f32(*a, *b)));
            assert_eq!(ep.steps.action_mask[i], s.action_mask);
        }
    }
}

#[test]
fn streamed_episodes_are_the_training_episodes() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = tiny_pack(tmp.path());
    let run = tmp.path().join("run");
    // Both viewers below are connected before episode 0 starts.
    let (shutdown, server, started) = start_demo(&pack, &run, (12, 4, 30), 2);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let received = rt.block_on(async {
        let url = format!("ws://127.0.0.1:{}/ws", started.port);
        // A viewer that never reads (tiny receive buffer): it must not hold back the
        // reader below or training (its own queue skips, and it is dropped on timeout).
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket
            .connect(([127, 0, 0, 1], started.port).into())
            .await
            .expect("connect the silent viewer");
        let (_silent, _) = tokio_tungstenite::client_async(url.clone(), stream)
            .await
            .expect("silent viewer handshake");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        watch_episodes(ws, 3).await
    });
    let Watched {
        hello,
        summaries,
        episodes,
    } = received;
    assert!(hello.is_some());
    assert!(summaries.len() >= 3, "got {} summaries", summaries.len());
    assert!(episodes.len() >= 3, "got {} episodes", episodes.len());
    let lat: Vec<u64> = summaries.iter().map(|s| s.1).collect();
    eprintln!("finished_at → summary received (ms): {lat:?}");

    // Stop (training may still be running): everything finished is drained to disk first.
    shutdown.request_stop();
    let outcome = server.join().unwrap().expect("clean stop");
    assert!(outcome.summary.next_episode as usize >= episodes.len());

    assert_streamed_equal_recorded(&run, &episodes);
}

#[test]
fn a_full_live_queue_drops_from_the_view_and_training_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = tiny_pack(tmp.path());
    // Nobody consumes: the channel fills after 2 episodes, the rest are dropped and counted.
    let (sender, source) = LiveSource::channel(2);
    let counters = Arc::clone(&source.counters);
    let mut runner = DemoRunner::new(
        &RunnerOptions {
            pack_dir: Some(pack),
            run_dir: Some(tmp.path().join("run")),
            episodes: Some(8),
            max_steps: Some(20),
            ..Default::default()
        },
        Some(sender.into_callback()),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    let summary = runner.run(&mut |_| {}).unwrap();
    runner.shutdown().unwrap();
    assert_eq!(summary.next_episode, 8, "training was never held back");
    assert_eq!(source.rx.len(), 2);
    assert_eq!(counters.dropped(), 6);
    let db = Database::open_read(&tmp.path().join("run/metrics.db")).unwrap();
    assert_eq!(
        db.list_episodes(100, None).unwrap().len(),
        8,
        "nothing finished is lost"
    );
}

#[test]
fn ctrl_c_stops_training_checkpoints_and_exits_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = tiny_pack(tmp.path());
    let run = tmp.path().join("run");
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_townlet-demo"))
        .args([
            "--pack",
            pack.to_str().unwrap(),
            "--run",
            run.to_str().unwrap(),
        ])
        .args(["--episodes", "100000", "--max-steps", "30", "--no-open"])
        .args(["--port", &port.to_string()])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_episodes(&run, 3);
    assert_eq!(interrupt(&mut child).code(), Some(0));
    assert_stopped_with_final_checkpoint(&run);
}

/// Wait until `run`'s database holds at least `n` episodes.
pub(crate) fn wait_for_episodes(run: &Path, n: u64) {
    let t0 = Instant::now();
    loop {
        let have = Database::open_read(&run.join("metrics.db"))
            .ok()
            .and_then(|db| db.episode_count().ok())
            .unwrap_or(0);
        if have >= n {
            return;
        }
        assert!(t0.elapsed() < DEADLINE, "training never produced episodes");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGINT (Ctrl+C) to `child`; its exit status once it has exited.
pub(crate) fn interrupt(child: &mut std::process::Child) -> std::process::ExitStatus {
    let st = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(t0.elapsed() < DEADLINE, "did not exit after Ctrl+C");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `run` stopped cleanly: episodes without gaps, status `stopped`, and a final checkpoint
/// that resumes right after the last row (whose id is returned).
pub(crate) fn assert_stopped_with_final_checkpoint(run: &Path) -> u64 {
    let db = Database::open_read(&run.join("metrics.db")).unwrap();
    let rows = db.list_episodes(100_000, None).unwrap();
    let ids: Vec<u64> = rows.iter().map(|r| r.episode_id).collect();
    assert_eq!(ids, (0..ids.len() as u64).collect::<Vec<_>>(), "no gaps");
    let last = rows.last().unwrap();
    // The signal lands either inside an episode (closed as `interrupted`) or in the
    // short gap between two episodes (nothing to close: the last row ended normally).
    // Which one is a matter of timing; the runner's own tests pin this deterministically
    // with `stop_after_steps`. Either way nothing finished is lost and the checkpoint
    // resumes right after the last row.
    eprintln!(
        "stopped after episode {} ({:?})",
        last.episode_id, last.metadata.end_reason
    );
    assert_eq!(
        db.run_state().unwrap().get("status").map(String::as_str),
        Some("stopped")
    );
    let (_, ck) = townlet_agent::checkpoint::list_checkpoints(&run.join("checkpoints"))
        .pop()
        .unwrap();
    let c = townlet_agent::Checkpoint::read(&ck).expect("final checkpoint valid");
    assert_eq!(c.header.next_episode, last.episode_id + 1);
    last.episode_id
}

#[test]
fn training_waits_for_the_first_viewer_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = tiny_pack(tmp.path());
    let run = tmp.path().join("run");
    let (shutdown, server, started) = start_demo(&pack, &run, (3, 2, 20), 1);
    let episodes = || {
        Database::open_read(&run.join("metrics.db"))
            .ok()
            .and_then(|db| db.episode_count().ok())
            .unwrap_or(0)
    };
    // Nobody is watching: nothing trains (a few episodes of 20 steps would take well under
    // this long if it did).
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(episodes(), 0, "training started without a viewer");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("ws://127.0.0.1:{}/ws", started.port);
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        // The viewer sees every episode go by, from episode 0.
        let t0 = Instant::now();
        let mut seen = vec![];
        while seen.last() != Some(&2) && t0.elapsed() < DEADLINE {
            let Ok(Some(Ok(Message::Text(text)))) =
                tokio::time::timeout(Duration::from_secs(30), ws.next()).await
            else {
                break;
            };
            if let Ok(ServerMessage::EpisodeSummary(s)) = parse_server_message(&text) {
                seen.push(s.episode_id);
            }
        }
        assert_eq!(seen, vec![0, 1, 2], "the first viewer sees episode 0 on");
        let _ = ws.close(None).await;
    });
    shutdown.request_stop();
    let outcome = server.join().unwrap().expect("clean exit");
    assert_eq!(outcome.summary.next_episode, 3);
}
