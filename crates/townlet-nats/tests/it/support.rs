//! A nats-server of the test's own, trainers on the tiny pack, viewer servers, and small
//! HTTP / WebSocket clients.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use townlet_nats::{NatsOptions, PublishReport, Publisher, RunDescriptor, publish_queue};
use townlet_runner::{DemoRunner, RunnerOptions};

/// Generous: tests wait for events, never assert timings.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The nats-server binary: `TOWNLET_NATS_SERVER`, else `nats-server` on PATH or in
/// /usr/sbin (Debian's package). None (with a message) when absent and not required.
fn nats_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TOWNLET_NATS_SERVER") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file());
    if found.is_none() {
        let msg = "nats-server not found (PATH, /usr/sbin, TOWNLET_NATS_SERVER): the NATS tests \
                   need it. Install it with `apt-get install nats-server`, or run \
                   `cargo xtask test`, which installs it.";
        if std::env::var_os("TOWNLET_REQUIRE_NATS").is_some() {
            panic!("{msg}");
        }
        eprintln!("\n*** SKIPPED: {msg}\n");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A nats-server with JetStream on a free port and a temporary store.
pub struct Nats {
    bin: PathBuf,
    pub port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl Nats {
    /// None: no nats-server here (the test is skipped; see `nats_binary`).
    pub fn start() -> Option<Nats> {
        let mut nats = Nats {
            bin: nats_binary()?,
            port: free_port(),
            store: tempfile::tempdir().unwrap(),
            child: None,
        };
        nats.spawn();
        Some(nats)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.bin)
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + DEADLINE;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server listens");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (its store stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The tiny pack (short episodes, every 2nd recorded).
pub fn tiny_pack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../xtask/fixtures/packs/e2e_tiny")
}

/// A trainer publishing to the bus on its own thread.
pub struct Trainer {
    pub run_dir: PathBuf,
    pub stop: Arc<AtomicBool>,
    pub counters: Arc<townlet_nats::PublishCounters>,
    thread: std::thread::JoinHandle<PublishReport>,
}

impl Trainer {
    /// Trains `episodes` episodes of the tiny pack as `id`, publishing to `url`.
    pub fn start(url: &str, id: &str, dir: &Path, seed: u64, episodes: u64) -> Trainer {
        townlet_runner::threads::set_compute_threads(1);
        let run_dir = dir.join(id);
        let stop = Arc::new(AtomicBool::new(false));
        let opts = RunnerOptions {
            pack_dir: Some(tiny_pack()),
            run_dir: Some(run_dir.clone()),
            episodes: Some(episodes),
            seed: Some(seed),
            ..Default::default()
        };
        // A queue deep enough that nothing is dropped while the bus is up.
        let (sender, queue) = publish_queue(1024);
        let mut runner =
            DemoRunner::new(&opts, Some(sender.into_callback()), Arc::clone(&stop)).unwrap();
        let world = townlet_inference::WorldInfo::new(runner.pack(), runner.env());
        let run = RunDescriptor::for_pack(id, id, runner.pack(), world);
        let publisher = Publisher::start(&NatsOptions::new(url), queue, run).unwrap();
        let counters = Arc::clone(publisher.counters());
        let thread = std::thread::spawn(move || {
            runner.run(&mut |_| {}).unwrap();
            runner.shutdown().unwrap();
            publisher.finish(Duration::from_secs(10))
        });
        Trainer {
            run_dir,
            stop,
            counters,
            thread,
        }
    }

    pub fn join(self) -> PublishReport {
        self.thread.join().unwrap()
    }
}

/// A viewer server subscribed to the bus (`serve_bus`, as `townlet-inference --subscribe`)
/// on its own thread.
pub struct Viewer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Viewer {
    pub fn start(url: &str, stale_after: Option<Duration>) -> Viewer {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let nats = NatsOptions::new(url);
        let thread = std::thread::spawn(move || {
            let server = townlet_inference::ServerOptions {
                port: 0,
                ..Default::default()
            };
            townlet_nats::serve_bus(
                &nats,
                server,
                stale_after,
                async {
                    let _ = stop_rx.await;
                },
                |addr| {
                    let _ = addr_tx.send(addr);
                },
            )
            .unwrap();
        });
        let addr = addr_rx.recv_timeout(DEADLINE).expect("viewer listening");
        Viewer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }

    pub fn get(&self, path: &str) -> String {
        http_get(self.addr, path)
    }

    pub fn runs(&self) -> Vec<Value> {
        serde_json::from_str::<Value>(&self.get("/api/runs"))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// The run with `id` in `/api/runs`, once `pred` holds for it.
    pub fn wait_run(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(r) = self.runs().into_iter().find(|r| r["id"] == id)
                && pred(&r)
            {
                return r;
            }
            assert!(Instant::now() < deadline, "run {id}: {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A counter of `/metrics`.
    pub fn metric(&self, name: &str) -> f64 {
        self.get("/metrics")
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    }
}

/// Waits until `pred` holds (polling), or fails naming `what`.
pub fn wait_for(what: &str, pred: impl Fn() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !pred() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A minimal HTTP/1.1 GET; the body.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_owned()
    }
}

/// Asks a viewer for episodes of one run over WebSocket (`/ws?run=`, `get_episode`).
pub async fn fetch_episodes(addr: SocketAddr, run: &str, ids: &[u64]) -> Vec<Value> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?run={run}"))
        .await
        .unwrap();
    let mut out = Vec::new();
    for id in ids {
        ws.send(Message::text(format!(
            r#"{{"type":"get_episode","id":{id}}}"#
        )))
        .await
        .unwrap();
        loop {
            let msg = tokio::time::timeout(DEADLINE, ws.next())
                .await
                .expect("a message in time")
                .expect("open")
                .unwrap();
            let Message::Text(t) = msg else { continue };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "episode" && v["episode_id"] == *id {
                assert_eq!(v["run_id"], run);
                out.push(v);
                break;
            }
            assert_ne!(v["type"], "error", "get_episode {id}: {v}");
        }
    }
    let _ = ws.close(None).await;
    out
}
