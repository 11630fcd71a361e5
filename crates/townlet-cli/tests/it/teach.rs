//! The teacher's seat end to end (docs/security.md): a teacher's controls change the
//! trainer (ε recorded in the following episodes, the optimizer's learning rate) and
//! survive a stop + resume; the same control from a viewer is refused; a forged token and
//! a foreign `Origin` on a non-loopback bind are refused; presenting moves followers,
//! not detached viewers.

use super::demo::{DEADLINE, free_port, tiny_pack};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use townlet_inference::{Mode, ServerOptions, WorldInfo};
use townlet_protocol::{ErrorCode, Role, ServerMessage, parse_server_message};
use townlet_recording::Database;
use townlet_runner::{DemoRunner, RunnerOptions};
use townlet_unified_server::{DemoOptions, ShutdownHandle, run_demo};

const TOKEN: &str = "teacher-secret-17";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(port: u16, token: Option<&str>) -> Result<Ws, String> {
    let url = match token {
        Some(t) => format!("ws://127.0.0.1:{port}/ws?token={t}"),
        None => format!("ws://127.0.0.1:{port}/ws"),
    };
    tokio_tungstenite::connect_async(url)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

async fn send(ws: &mut Ws, json: &str) {
    ws.send(Message::Text(json.to_owned().into()))
        .await
        .unwrap();
}

/// The next message `pick` accepts (others are skipped), within the deadline.
async fn next_where<T>(ws: &mut Ws, mut pick: impl FnMut(ServerMessage) -> Option<T>) -> T {
    let t0 = Instant::now();
    while t0.elapsed() < DEADLINE {
        let msg = match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => parse_server_message(&t).expect("server message"),
            Ok(Some(Ok(_))) => continue,
            other => panic!("stream ended: {other:?}"),
        };
        if let Some(v) = pick(msg) {
            return v;
        }
    }
    panic!("nothing matched before the deadline");
}

async fn role_of(ws: &mut Ws) -> Role {
    next_where(ws, |m| match m {
        ServerMessage::Hello(h) => Some(h.role),
        _ => None,
    })
    .await
}

async fn error_of(ws: &mut Ws) -> (ErrorCode, String) {
    next_where(ws, |m| match m {
        ServerMessage::Error(e) => Some((e.code, e.message)),
        _ => None,
    })
    .await
}

#[test]
fn teacher_controls_change_training_and_survive_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let pack = tiny_pack(tmp.path());
    let run = tmp.path().join("run");
    let shutdown = ShutdownHandle::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let opts = DemoOptions {
        runner: RunnerOptions {
            pack_dir: Some(pack),
            run_dir: Some(run.clone()),
            episodes: Some(100_000),
            seed: Some(3),
            max_steps: Some(20),
            ..Default::default()
        },
        server: ServerOptions {
            port: free_port(),
            teacher_token: Some(TOKEN.into()),
            ..ServerOptions::default()
        },
        // Training starts once the viewer and the teacher below are connected.
        wait_for_viewers: 2,
        ..DemoOptions::default()
    };
    let sd = shutdown.clone();
    let server =
        std::thread::spawn(move || run_demo(opts, sd, move |s| tx.send(s.clone()).unwrap()));
    let started = rx.recv_timeout(DEADLINE).expect("server started");
    assert_eq!(
        started.teacher_url.as_deref(),
        Some(format!("{}?token={TOKEN}", started.url).as_str())
    );
    let port = started.port;

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (event_episode, events_seen) = rt.block_on(async {
        // A forged token is refused before the upgrade.
        let forged = connect(port, Some("teacher-secret-18")).await;
        assert!(forged.unwrap_err().contains("403"), "forged token refused");

        let mut viewer = connect(port, None).await.unwrap();
        assert_eq!(role_of(&mut viewer).await, Role::Viewer);
        let mut teacher = connect(port, Some(TOKEN)).await.unwrap();
        assert_eq!(role_of(&mut teacher).await, Role::Teacher);

        // The viewer may not control training.
        send(
            &mut viewer,
            r#"{"type":"training_control","control":{"kind":"set_epsilon","value":0.9}}"#,
        )
        .await;
        let (code, message) = error_of(&mut viewer).await;
        assert_eq!(code, ErrorCode::Forbidden, "{message}");
        send(&mut viewer, r#"{"type":"present","on":true}"#).await;
        assert_eq!(error_of(&mut viewer).await.0, ErrorCode::Forbidden);

        // Out-of-range values name their field, and change nothing.
        for (bad, field) in [
            (r#"{"kind":"set_epsilon","value":1.5}"#, "epsilon"),
            (r#"{"kind":"set_learning_rate","value":0}"#, "learning_rate"),
            (r#"{"kind":"set_learning_rate","value":2}"#, "learning_rate"),
            (r#"{"kind":"lock_stage","stage":9}"#, "stage"),
        ] {
            send(
                &mut teacher,
                &format!(r#"{{"type":"training_control","control":{bad}}}"#),
            )
            .await;
            let (code, message) = error_of(&mut teacher).await;
            assert_eq!(code, ErrorCode::InvalidValue, "{message}");
            assert!(message.contains(field), "{message} names {field}");
        }

        send(
            &mut teacher,
            r#"{"type":"training_control","control":{"kind":"set_epsilon","value":0.05}}"#,
        )
        .await;
        send(
            &mut teacher,
            r#"{"type":"training_control","control":{"kind":"set_learning_rate","value":0.0005}}"#,
        )
        .await;
        // Both connections see both events (chart markers).
        let mut seen = Vec::new();
        for ws in [&mut viewer, &mut teacher] {
            let mut got: Vec<townlet_protocol::TrainingEventInfo> = Vec::new();
            while got.len() < 2 {
                let mut batch = next_where(ws, |m| match m {
                    ServerMessage::TrainingEvents(e) => Some(e.events),
                    _ => None,
                })
                .await;
                got.append(&mut batch);
            }
            seen.push(got);
        }
        let eps = seen[0].iter().find(|e| e.control == "epsilon").unwrap();
        assert_eq!((eps.new.as_str(), eps.who.as_str()), ("0.05", "teacher"));
        let lr = seen[0]
            .iter()
            .find(|e| e.control == "learning_rate")
            .unwrap();
        assert_eq!(lr.new, "0.0005");
        assert_eq!(seen[0], seen[1]);
        // Episodes from the event's episode on are played with ε = 0.05.
        let from = eps.episode;
        next_where(&mut viewer, |m| match m {
            ServerMessage::EpisodeSummary(s) if s.episode_id >= from + 2 => Some(()),
            _ => None,
        })
        .await;
        (from, seen.remove(0))
    });
    shutdown.request_stop();
    let outcome = server.join().unwrap().expect("demo ran");
    assert!(outcome.summary.interrupted);

    let db = Database::open_read(&run.join("metrics.db")).unwrap();
    let rows = db.list_episodes(1_000_000, None).unwrap();
    assert!(rows.iter().any(|r| r.episode_id >= event_episode + 2));
    for r in &rows {
        let expect_fixed = r.episode_id >= event_episode;
        assert_eq!(
            r.metadata.epsilon == 0.05f32,
            expect_fixed,
            "episode {} ε {} (event at {event_episode})",
            r.episode_id,
            r.metadata.epsilon
        );
    }
    let stored: Vec<_> = db
        .training_events()
        .unwrap()
        .into_iter()
        .map(townlet_inference::teacher::event_info)
        .collect();
    assert_eq!(stored, events_seen);

    // Ctrl+C + resume: the trainer continues with the teacher's values.
    let resumed = DemoRunner::new(
        &RunnerOptions {
            run_dir: Some(run.clone()),
            ..Default::default()
        },
        None,
        Default::default(),
    )
    .unwrap();
    assert_eq!(resumed.agent().epsilon(), 0.05);
    assert_eq!(resumed.agent().learning_rate(), 0.0005);
    assert_eq!(resumed.agent().overrides().epsilon, Some(0.05));
}

/// A one-run server with nobody training, for the connection-level checks.
fn recorded_server(
    host: &str,
) -> (
    tokio::runtime::Runtime,
    u16,
    tokio::sync::oneshot::Sender<()>,
) {
    let tmp = tempfile::tempdir().unwrap();
    let pack = townlet_config::load_pack(&tiny_pack(tmp.path())).unwrap();
    let world = WorldInfo::from_pack(&pack).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = ServerOptions {
        host: host.into(),
        port: 0,
        teacher_token: Some(TOKEN.into()),
        ..ServerOptions::default()
    };
    let listener = rt.block_on(townlet_inference::bind(&opts)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    rt.spawn(townlet_inference::serve(
        listener,
        Mode::Recorded,
        world,
        None,
        opts,
        async move {
            let _ = stop_rx.await;
        },
    ));
    (rt, port, stop_tx)
}

#[test]
fn foreign_origin_is_refused_on_a_non_loopback_bind() {
    let (rt, port, stop) = recorded_server("0.0.0.0");
    rt.block_on(async {
        let with_origin = |origin: &str| {
            let mut req = format!("ws://127.0.0.1:{port}/ws")
                .into_client_request()
                .unwrap();
            req.headers_mut().insert("origin", origin.parse().unwrap());
            req
        };
        let foreign = tokio_tungstenite::connect_async(with_origin("http://evil.example")).await;
        assert!(foreign.unwrap_err().to_string().contains("403"));
        let own = with_origin(&format!("http://127.0.0.1:{port}"));
        let (mut ws, _) = tokio_tungstenite::connect_async(own)
            .await
            .expect("own origin");
        assert_eq!(role_of(&mut ws).await, Role::Viewer);
        let metrics = reqwest_metrics(port).await;
        assert!(
            metrics.contains("townlet_origin_refused_total 1"),
            "{metrics}"
        );
    });
    let _ = stop.send(());
}

/// `/metrics` over a plain TCP request (no HTTP client dependency).
async fn reqwest_metrics(port: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

fn presenting_of(m: ServerMessage) -> Option<townlet_protocol::Presenting> {
    match m {
        ServerMessage::Presenting(p) => Some(p),
        _ => None,
    }
}

#[test]
fn presenting_moves_followers_and_late_joiners_not_detached_viewers() {
    let (rt, port, stop) = recorded_server("127.0.0.1");
    rt.block_on(async {
        let mut teacher = connect(port, Some(TOKEN)).await.unwrap();
        assert_eq!(role_of(&mut teacher).await, Role::Teacher);
        let mut a = connect(port, None).await.unwrap();
        role_of(&mut a).await;
        let state = |episode: u64, step: u32| {
            format!(
                r#"{{"type":"presenter_state","state":{{"run_id":"main","episode_id":{episode},"step":{step},"playing":false,"speed":2,"overlays":["q_values"]}}}}"#
            )
        };
        send(&mut teacher, &state(3, 1)).await;
        assert_eq!(error_of(&mut teacher).await.0, ErrorCode::NotAvailable);
        send(&mut teacher, r#"{"type":"present","on":true}"#).await;
        send(&mut teacher, &state(7, 42)).await;
        let got = next_where(&mut a, |m| {
            presenting_of(m).filter(|p| p.state.as_ref().is_some_and(|s| s.step == 42))
        })
        .await;
        let s = got.state.unwrap();
        assert!(got.active);
        assert_eq!((s.episode_id, s.playing, s.overlays), (Some(7), false, vec!["q_values".to_string()]));

        // A viewer connecting now joins at the teacher's position.
        let mut b = connect(port, None).await.unwrap();
        role_of(&mut b).await;
        let joined = next_where(&mut b, presenting_of).await;
        assert_eq!(joined.state.unwrap().step, 42);

        // A detaches; the teacher moves on, then stops presenting.
        send(&mut a, r#"{"type":"follow","on":false}"#).await;
        wait_detached(&mut a).await;
        send(&mut teacher, &state(8, 5)).await;
        let moved = next_where(&mut b, |m| {
            presenting_of(m).filter(|p| p.state.as_ref().is_some_and(|s| s.step == 5))
        })
        .await;
        assert_eq!(moved.state.unwrap().episode_id, Some(8));
        send(&mut teacher, r#"{"type":"present","on":false}"#).await;
        // The detached viewer's next `presenting` is the end, never the move.
        let next = next_where(&mut a, presenting_of).await;
        assert!(!next.active, "detached viewer got {next:?}");
        let end = next_where(&mut b, presenting_of).await;
        assert!(!end.active);
        // Re-following answers with the current state at once.
        send(&mut a, r#"{"type":"follow","on":true}"#).await;
        assert!(!next_where(&mut a, presenting_of).await.active);
    });
    let _ = stop.send(());
}

/// `follow {on:false}` is handled before a later command on the same connection: a
/// `list_recordings` round trip (answered with an error here: no run folder) proves it.
async fn wait_detached(ws: &mut Ws) {
    send(ws, r#"{"type":"list_recordings"}"#).await;
    next_where(ws, |m| match m {
        ServerMessage::Error(_) | ServerMessage::Recordings(_) => Some(()),
        _ => None,
    })
    .await;
}
