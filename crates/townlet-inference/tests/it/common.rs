//! Helpers for the integration tests: a tiny pack, synthetic episodes, a server on an
//! ephemeral port, and real WebSocket / HTTP clients. Deadlines are generous
//! (docs/decisions.md#tests-never-assert-timings).
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use townlet_config::Pack;
use townlet_inference::{LiveSender, LiveSource, Mode, ServerOptions, WorldInfo, bind, serve};
use townlet_recording::*;

pub const DEADLINE: Duration = Duration::from_secs(30);
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type PlainWs = WebSocketStream<TcpStream>;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// `configs/L0_0_minimal` + `global_actions.yaml` copied into `dir/configs/`.
pub fn tiny_pack(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let configs = dir.join("configs");
    copy_dir(&root.join("L0_0_minimal"), &configs.join("L0_0_minimal"));
    std::fs::copy(
        root.join("global_actions.yaml"),
        configs.join("global_actions.yaml"),
    )
    .unwrap();
    configs.join("L0_0_minimal")
}

pub fn load(dir: &Path) -> Pack {
    townlet_config::load_pack(dir).unwrap()
}

pub fn world(dir: &Path) -> WorldInfo {
    WorldInfo::from_pack(&load(&tiny_pack(dir))).unwrap()
}

pub const METERS: usize = 8;
pub const ACTIONS: usize = 6;

pub fn step(i: u32, done: bool) -> RecordedStep {
    RecordedStep {
        step: i + 1,
        position: ((i % 3) as i32, 1),
        meters: (0..METERS)
            .map(|k| 1.0 - 0.01 * (i as f32 + k as f32))
            .collect(),
        action: (i % ACTIONS as u32) as u8,
        reward: 0.5,
        intrinsic_reward: 0.125,
        done,
        q_values: Some((0..ACTIONS).map(|a| a as f32 * 0.25).collect()),
        epsilon: Some(0.5),
        action_mask: Some((0..ACTIONS).map(|a| a != 4).collect()),
        explored: i.is_multiple_of(2),
        time_of_day: None,
        interaction_progress: None,
    }
}

pub fn metadata(stage: u32, reward: f32, n: u32, died: bool) -> EpisodeMetadata {
    let mut visits = BTreeMap::new();
    visits.insert("Bed".to_string(), 1);
    EpisodeMetadata {
        survival_steps: n,
        total_reward: reward,
        extrinsic_reward: reward,
        intrinsic_reward: 0.0,
        curriculum_stage: stage,
        depletion_multiplier: 0.2,
        epsilon: 0.5,
        intrinsic_weight: 0.1,
        affordance_visits: visits,
        end_reason: if died {
            EndReason::Died
        } else {
            EndReason::Truncated
        },
        timestamp: 1_700_000_000.0,
        loss_mean: Some(0.25),
        td_error_mean: None,
        q_mean: None,
        updates: 1,
    }
}

pub fn episode(id: u64, n: u32, died: bool) -> Arc<LiveEpisode> {
    let mut steps = StepColumns::new(METERS, ACTIONS);
    for i in 0..n {
        steps.push(&step(i, died && i + 1 == n)).unwrap();
    }
    Arc::new(LiveEpisode {
        episode_id: id,
        agent_id: 0,
        metadata: metadata(1, id as f32, n, died),
        layout: vec![AffordancePosition {
            name: "Bed".into(),
            x: 2,
            y: 2,
        }],
        start: StartState {
            position: (0, 0),
            meters: vec![1.0; METERS],
            time_of_day: None,
        },
        steps,
        finished_at: townlet_protocol::unix_ms_now(),
    })
}

pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn new(
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        task: tokio::task::JoinHandle<()>,
    ) -> Server {
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("server stops")
            .unwrap();
    }
}

pub fn test_opts() -> ServerOptions {
    ServerOptions {
        port: 0,
        ..ServerOptions::default()
    }
}

pub async fn start(
    mode: Mode,
    world: WorldInfo,
    run_dir: Option<PathBuf>,
    opts: ServerOptions,
) -> Server {
    let listener = bind(&opts).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(listener, mode, world, run_dir, opts, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Server {
        addr,
        stop: Some(tx),
        task,
    }
}

pub async fn start_live(dir: &Path, opts: ServerOptions) -> (Server, LiveSender) {
    let (tx, source) = LiveSource::channel(64);
    (start(Mode::Live(source), world(dir), None, opts).await, tx)
}

pub async fn connect(server: &Server) -> Ws {
    let (ws, _) = tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(server.ws_url()))
        .await
        .expect("connect in time")
        .expect("connect");
    ws
}

/// A client with a tiny receive buffer (for slow-client tests).
pub async fn connect_small(server: &Server, recv_buffer: u32) -> PlainWs {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(recv_buffer).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(server.ws_url(), stream)
        .await
        .unwrap();
    ws
}

/// The next text frame as JSON (pings are answered by the library while reading).
pub async fn recv<S>(ws: &mut WebSocketStream<S>) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let msg = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a message within the deadline")
            .expect("stream open")
            .expect("no error");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
    }
}

/// Reads until a message of type `ty` arrives and returns it.
pub async fn recv_type<S>(ws: &mut WebSocketStream<S>, ty: &str) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let what = format!("a `{ty}` message");
    recv_matching(ws, &what, |v| v["type"] == ty).await
}

/// Reads until a message satisfies `pred`.
pub async fn recv_where<S>(ws: &mut WebSocketStream<S>, pred: impl Fn(&Value) -> bool) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    recv_matching(ws, "the expected message", pred).await
}

/// Reads until `pred` holds, within one overall deadline: `stats` arrive every second, so
/// a per-message timeout alone would wait forever for a message that never comes. The
/// panic lists the types seen meanwhile.
async fn recv_matching<S>(
    ws: &mut WebSocketStream<S>,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut seen: Vec<String> = Vec::new();
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            let v = recv(ws).await;
            if pred(&v) {
                return v;
            }
            let t = v["type"].as_str().unwrap_or("?").to_string();
            if seen.last() != Some(&t) {
                seen.push(t);
            }
        }
    })
    .await;
    match found {
        Ok(v) => v,
        Err(_) => panic!("no {what} within {DEADLINE:?}; saw meanwhile: {seen:?}"),
    }
}

pub async fn send<S>(ws: &mut WebSocketStream<S>, json: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.send(Message::text(json.to_owned())).await.unwrap();
}

/// Waits for the close frame and returns its code.
pub async fn recv_close<S>(ws: &mut WebSocketStream<S>) -> Option<u16>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("close within the deadline")
        {
            Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

/// A minimal HTTP/1.1 GET: (status, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = http_get_head(addr, path).await;
    (status, body)
}

/// [`http_get`] with the response's head (status line and headers) too.
pub async fn http_get_head(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut buf))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, head.to_owned(), body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub async fn http_json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let (status, body) = http_get(addr, path).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Polls `/api/status` until `pred` holds.
pub async fn wait_status(addr: SocketAddr, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (_, v) = http_json(addr, "/api/status").await;
        if pred(&v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status never matched: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client that never loses a message: what a `recv_*` call skips over is kept, in order,
/// for the next call. Several kinds of message interleave on one connection (summaries,
/// episodes, steps, stats), so tests that wait for one kind must not discard the others.
pub struct Inbox {
    pub ws: Ws,
    kept: std::collections::VecDeque<Value>,
}

impl Inbox {
    pub fn new(ws: Ws) -> Self {
        Inbox {
            ws,
            kept: Default::default(),
        }
    }

    pub async fn send(&mut self, json: &str) {
        send(&mut self.ws, json).await;
    }

    /// The first message (kept or new) of type `ty`.
    pub async fn recv_type(&mut self, ty: &str) -> Value {
        let what = format!("a `{ty}` message");
        self.recv_matching(&what, |v| v["type"] == ty).await
    }

    /// The first message (kept or new) that satisfies `pred`.
    pub async fn recv_where(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        self.recv_matching("the expected message", pred).await
    }

    async fn recv_matching(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.kept.iter().position(&pred) {
            return self.kept.remove(i).unwrap();
        }
        let kept = &mut self.kept;
        let ws = &mut self.ws;
        let found = tokio::time::timeout(DEADLINE, async {
            loop {
                let v = recv(ws).await;
                if pred(&v) {
                    return v;
                }
                if v["type"] != "stats" {
                    kept.push_back(v);
                }
            }
        })
        .await;
        match found {
            Ok(v) => v,
            Err(_) => {
                let types: Vec<&str> = self
                    .kept
                    .iter()
                    .map(|v| v["type"].as_str().unwrap_or("?"))
                    .collect();
                panic!("no {what} within {DEADLINE:?}; kept meanwhile: {types:?}")
            }
        }
    }
}
