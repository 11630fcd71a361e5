//! Live mode with real WebSocket clients: fan-out, filters, speeds, late joiners, slow
//! clients, bad input, limits, shutdown and the HTTP endpoints.

use crate::common::*;
use futures_util::SinkExt;
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn handshake<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> (Value, Value)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let hello = recv(ws).await;
    assert_eq!(hello["type"], "hello");
    let stats = recv(ws).await;
    assert_eq!(stats["type"], "stats");
    (hello, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_with_filters_and_speeds() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tx) = start_live(dir.path(), test_opts()).await;

    let mut all = Inbox::new(connect(&server).await);
    let mut failures = Inbox::new(connect(&server).await);
    let mut stepper = Inbox::new(connect(&server).await);
    for ws in [&mut all, &mut failures, &mut stepper] {
        let (hello, stats) = handshake(&mut ws.ws).await;
        assert_eq!(hello["mode"], "live");
        assert_eq!(hello["pack"], "L0_0_minimal");
        assert_eq!(stats["history"].as_array().unwrap().len(), 0);
    }
    failures
        .send(r#"{"type":"subscribe","filter":{"kind":"failures"}}"#)
        .await;
    failures.send(r#"{"type":"next"}"#).await;
    stepper
        .send(r#"{"type":"subscribe","delivery":"steps","speed":"instant"}"#)
        .await;
    // The server handles a client's messages in order: an error reply to a later bad
    // message proves the subscriptions were applied before the episodes arrive.
    for ws in [&mut failures, &mut stepper] {
        ws.send(r#"{"type":"bogus"}"#).await;
        ws.recv_type("error").await;
    }

    for id in 0..10u64 {
        tx.offer(episode(id, 5, id % 3 == 1));
    }

    // Everyone gets every summary, in order.
    for ws in [&mut all, &mut failures, &mut stepper] {
        let mut seen = Vec::new();
        while seen.len() < 10 {
            let v = ws.recv_type("episode_summary").await;
            seen.push(v["episode_id"].as_u64().unwrap());
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    // The default viewer was waiting for its first episode: it gets one.
    let ep = all.recv_type("episode").await;
    assert_eq!(ep["source"], "training");
    assert_eq!(ep["steps"]["step"].as_array().unwrap().len(), 5);
    all.send(r#"{"type":"next","after":8,"order":"sequential"}"#)
        .await;
    assert_eq!(all.recv_type("episode").await["episode_id"], 9);

    // The failures viewer only ever gets died episodes (1, 4, 7).
    let first = failures.recv_type("episode").await;
    assert_eq!(first["metadata"]["end_reason"], "died");
    failures
        .send(r#"{"type":"next","after":1,"order":"sequential"}"#)
        .await;
    assert_eq!(failures.recv_type("episode").await["episode_id"], 4);
    failures.send(r#"{"type":"next","after":4}"#).await;
    assert_eq!(failures.recv_type("episode").await["episode_id"], 7);
    failures
        .send(r#"{"type":"set_filter","filter":{"kind":"every_nth","n":5}}"#)
        .await;
    failures
        .send(r#"{"type":"next","after":0,"order":"sequential"}"#)
        .await;
    assert_eq!(failures.recv_type("episode").await["episode_id"], 5);

    // The server-paced viewer gets start, 5 steps with indices 0..5, end.
    let start = stepper.recv_type("episode_start").await;
    let id = start["episode_id"].as_u64().unwrap();
    assert_eq!(start["total_steps"], 5);
    for i in 0..5 {
        let s = stepper
            .recv_where(|v| v["type"] == "step" || v["type"] == "episode_end")
            .await;
        assert_eq!(s["type"], "step");
        assert_eq!(s["index"], i);
        assert_eq!(s["episode_id"].as_u64().unwrap(), id);
    }
    let end = stepper
        .recv_where(|v| v["type"] != "episode_summary" && v["type"] != "stats")
        .await;
    assert_eq!(end["type"], "episode_end");
    assert_eq!(end["episode_id"].as_u64().unwrap(), id);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiner_gets_hello_history_and_latest_episode() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tx) = start_live(dir.path(), test_opts()).await;
    for id in 0..5u64 {
        tx.offer(episode(id, 3, false));
    }
    wait_status(server.addr, |v| v["episodes_streamed"] == 5).await;

    let mut ws = connect(&server).await;
    let (hello, stats) = handshake(&mut ws).await;
    assert_eq!(hello["totals"]["episodes_streamed"], 5);
    assert_eq!(hello["totals"]["episodes_trained"], 5);
    assert_eq!(hello["meters"].as_array().unwrap().len(), 8);
    let history = stats["history"].as_array().unwrap();
    assert_eq!(history.len(), 5);
    assert_eq!(history[4]["episode_id"], 4);
    let ep = recv(&mut ws).await;
    assert_eq!(ep["type"], "episode");
    assert_eq!(ep["episode_id"], 4);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_client_skips_and_is_dropped_without_slowing_others() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ServerOptionsExt::slow();
    let (server, tx) = start_live(dir.path(), opts).await;
    let mut fast = connect(&server).await;
    handshake(&mut fast).await;
    // Never reads: its queue overflows (skips), then its writes time out.
    let _slow = connect_small(&server, 4096).await;
    wait_status(server.addr, |v| v["clients"] == 2).await;

    // Lockstep: the next episode is offered once the fast client has the previous one's
    // summary, so the fast client is never more than one episode behind and must see
    // every summary, whatever the machine's load; the slow one falls behind at once.
    let n = 300u64;
    let (seen_tx, mut seen_rx) = tokio::sync::watch::channel(None::<u64>);
    let feeder = tokio::spawn(async move {
        let mut refused = 0;
        for id in 0..n {
            // Big episodes fill the slow client's socket quickly.
            if !tx.offer(episode(id, 200, false)) {
                refused += 1;
            }
            let _ = seen_rx.wait_for(|s| *s == Some(id)).await;
        }
        (tx, refused)
    });
    for expected in 0..n {
        let v = recv_type(&mut fast, "episode_summary").await;
        assert_eq!(
            v["episode_id"].as_u64().unwrap(),
            expected,
            "in order, none skipped"
        );
        seen_tx.send_replace(Some(expected));
        if expected % 50 == 0 {
            // Keep pulling full episodes, like a viewer does.
            send(&mut fast, r#"{"type":"next"}"#).await;
        }
    }
    let (_tx, refused) = feeder.await.unwrap();
    assert_eq!(refused, 0, "the source never had to drop an episode");
    let status = wait_status(server.addr, |v| v["clients_timed_out"].as_u64() >= Some(1)).await;
    assert!(status["skipped"].as_u64().unwrap() > 0, "{status}");
    assert_eq!(status["clients"], 1);
    // The fast client is still served.
    tx_alive(&mut fast).await;
    server.stop().await;
}

/// A client that is still connected answers a request.
async fn tx_alive<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    send(ws, r#"{"type":"dance"}"#).await;
    assert_eq!(recv_type(ws, "error").await["code"], "unknown_type");
}

struct ServerOptionsExt;
impl ServerOptionsExt {
    fn slow() -> townlet_inference::ServerOptions {
        townlet_inference::ServerOptions {
            port: 0,
            client_queue: 8,
            client_timeout: Duration::from_secs(2),
            ping_interval: Duration::from_millis(300),
            socket_send_buffer: Some(4096),
            ..townlet_inference::ServerOptions::default()
        }
    }
}

async fn expect_error<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, frame: &str, code: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    send(ws, frame).await;
    let e = recv_type(ws, "error").await;
    assert_eq!(e["code"], code, "reply to {frame}: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_errors_and_the_connection_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tx) = start_live(dir.path(), test_opts()).await;
    tx.offer(episode(0, 40, false));
    wait_status(server.addr, |v| v["episodes_streamed"] == 1).await;
    let mut ws = connect(&server).await;
    handshake(&mut ws).await;
    recv_type(&mut ws, "episode").await;

    let cases = [
        ("not json", "invalid_json"),
        ("{\"type\":\"set_speed\",\"speed\":NaN}", "invalid_json"),
        ("[1,2]", "not_an_object"),
        ("{}", "missing_type"),
        ("{\"type\":\"dance\"}", "unknown_type"),
        ("{\"type\":\"pause\",\"v\":1}", "unsupported_version"),
        ("{\"type\":\"watch\",\"run_id\":\"nope\"}", "unknown_run"),
        ("{\"type\":\"set_speed\",\"speed\":0}", "invalid_speed"),
        ("{\"type\":\"set_speed\",\"speed\":-1}", "invalid_speed"),
        ("{\"type\":\"set_speed\",\"speed\":1e9}", "invalid_speed"),
        (
            "{\"type\":\"set_speed\",\"speed\":\"fast\"}",
            "invalid_speed",
        ),
        ("{\"type\":\"set_speed\",\"speed\":null}", "invalid_speed"),
        (
            "{\"type\":\"set_filter\",\"filter\":{\"kind\":\"every_nth\",\"n\":0}}",
            "invalid_filter",
        ),
        (
            "{\"type\":\"set_filter\",\"filter\":{\"kind\":\"nope\"}}",
            "invalid_filter",
        ),
        ("{\"type\":\"get_episode\",\"id\":\"x\"}", "invalid_field"),
        ("{\"type\":\"get_episode\",\"id\":999}", "unknown_episode"),
        (
            "{\"type\":\"load_replay\",\"episode_id\":3}",
            "unknown_episode",
        ),
        (
            "{\"type\":\"list_recordings\",\"filters\":{\"limit\":0}}",
            "invalid_value",
        ),
        ("{\"type\":\"list_recordings\"}", "not_available"),
        ("{\"type\":\"set_policy\",\"greedy\":true}", "not_available"),
        ("{\"type\":\"seek\",\"index\":1}", "not_available"),
        ("{\"type\":\"step\"}", "not_available"),
    ];
    for (frame, code) in cases {
        expect_error(&mut ws, frame, code).await;
    }
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(recv_type(&mut ws, "error").await["code"], "invalid_json");

    // Server-paced, paused: seek within range works, past the end is refused.
    send(
        &mut ws,
        r#"{"type":"subscribe","delivery":"steps","speed":0.25}"#,
    )
    .await;
    send(&mut ws, r#"{"type":"pause"}"#).await;
    recv_type(&mut ws, "episode_start").await;
    send(&mut ws, r#"{"type":"seek","index":30}"#).await;
    send(&mut ws, r#"{"type":"step"}"#).await;
    let s = recv_type(&mut ws, "step").await;
    assert_eq!(s["index"], 30);
    expect_error(
        &mut ws,
        r#"{"type":"seek","index":40}"#,
        "seek_out_of_range",
    )
    .await;

    // Still connected: a good command is answered.
    send(&mut ws, r#"{"type":"subscribe"}"#).await;
    send(&mut ws, r#"{"type":"get_episode","id":0}"#).await;
    assert_eq!(recv_type(&mut ws, "episode").await["episode_id"], 0);

    // Oversized: error, then close 1009.
    let big = format!(
        "{{\"type\":\"pause\",\"pad\":\"{}\"}}",
        "x".repeat(100 * 1024)
    );
    send(&mut ws, &big).await;
    assert_eq!(recv_type(&mut ws, "error").await["code"], "frame_too_large");
    assert_eq!(recv_close(&mut ws).await, Some(1009));
    let status = wait_status(server.addr, |v| v["clients"] == 0).await;
    assert!(status["clients_refused"] == 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_clients_refused_clearly_and_shutdown_closes_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let opts = townlet_inference::ServerOptions {
        max_clients: 2,
        ..test_opts()
    };
    let (server, _tx) = start_live(dir.path(), opts).await;
    let mut a = connect(&server).await;
    let mut b = connect(&server).await;
    handshake(&mut a).await;
    handshake(&mut b).await;
    let mut c = connect(&server).await;
    let e = recv(&mut c).await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["code"], "too_many_clients");
    assert_eq!(recv_close(&mut c).await, Some(1013));

    let addr = server.addr;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(recv_close(&mut a).await, Some(1001));
    assert_eq!(recv_close(&mut b).await, Some(1001));
    stopping.await.unwrap();
    // The port is released.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tx) = start_live(dir.path(), test_opts()).await;
    tx.offer(episode(0, 3, true));
    let (status, body) = http_get(server.addr, "/healthz").await;
    assert_eq!((status, body.trim()), (200, "ok"));
    let v = wait_status(server.addr, |v| v["episodes_streamed"] == 1).await;
    assert_eq!(v["mode"], "live");
    assert_eq!(v["config"], "L0_0_minimal");
    assert_eq!(v["dropped"], 0);
    let (status, metrics) = http_get(server.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("# TYPE townlet_clients gauge"),
        "{metrics}"
    );
    assert!(
        metrics.contains("townlet_episodes_streamed_total 1"),
        "{metrics}"
    );
    let (status, page) = http_get(server.addr, "/").await;
    assert_eq!(status, 503);
    assert!(page.contains("npm ci"), "{page}");
    let (status, err) = http_json(server.addr, "/api/recordings").await;
    assert_eq!((status, err["code"].as_str()), (404, Some("not_available")));
    let (status, err) = http_json(server.addr, "/api/recordings?limit=0").await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_value")));
    let (status, _) = http_get(server.addr, "/nope").await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_dir_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<html>townlet viewer</html>").unwrap();
    std::fs::write(dist.join("app.js"), "console.log(1)").unwrap();
    let opts = townlet_inference::ServerOptions {
        static_dir: Some(dist),
        ..test_opts()
    };
    let (server, _tx) = start_live(dir.path(), opts).await;
    let (status, body) = http_get(server.addr, "/").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "<html>townlet viewer</html>")
    );
    let (status, body) = http_get(server.addr, "/app.js").await;
    assert_eq!((status, body.as_str()), (200, "console.log(1)"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taken_port_is_a_clear_error() {
    let first = townlet_inference::bind(&test_opts()).await.unwrap();
    let port = first.local_addr().unwrap().port();
    let err = townlet_inference::bind(&townlet_inference::ServerOptions {
        port,
        ..test_opts()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("cannot listen"), "{err}");
}
