//! Trainers and viewer servers joined by NATS JetStream (docs/deployment.md), against a
//! `nats-server -js` of the benchmark's own (Debian's package; `TOWNLET_NATS_SERVER` or
//! PATH): (a) training with `--publish` vs without, interleaved pairs; (b) `finished_at →
//! episode_summary` through NATS and a subscribed viewer server, p50/p99; (c) many
//! trainers and two viewer servers with many WebSocket clients each: summary latency,
//! messages and bytes per second through the bus (the server's own `/varz`), clients
//! disconnected.

use crate::client::{Behaviour, Viewers, ViewersReport};
use crate::procfs;
use crate::stats::{Latency, Spread};
use crate::streaming::{RunCost, ViewerGroup, cost, run_off};
use crate::viewers::ChildViewers;
use serde::Serialize;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use townlet_inference::{ServerOptions, WorldInfo};
use townlet_nats::{NatsOptions, PublishReport, Publisher, RunDescriptor, publish_queue};
use townlet_runner::threads::COMPUTE_THREAD_PREFIX;
use townlet_runner::{DemoRunner, PhaseTimes, RunnerOptions};

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A nats-server with JetStream, a temporary store and its monitoring port.
pub struct NatsServer {
    child: Child,
    pub port: u16,
    pub monitor: u16,
    _store: tempfile::TempDir,
}

impl NatsServer {
    pub fn start() -> anyhow::Result<NatsServer> {
        let bin = std::env::var_os("TOWNLET_NATS_SERVER")
            .map(PathBuf::from)
            .or_else(|| {
                let path = std::env::var_os("PATH").unwrap_or_default();
                std::env::split_paths(&path)
                    .chain([PathBuf::from("/usr/sbin")])
                    .map(|d| d.join("nats-server"))
                    .find(|p| p.is_file())
            })
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "nats-server not found (apt-get install nats-server, or TOWNLET_NATS_SERVER=PATH)"
                )
            })?;
        let store = tempfile::tempdir()?;
        let (port, monitor) = (free_port()?, free_port()?);
        let child = Command::new(bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &monitor.to_string(), "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(10),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(NatsServer {
            child,
            port,
            monitor,
            _store: store,
        })
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `in_msgs, in_bytes, out_msgs, out_bytes` from `/varz`.
    pub fn varz(&self) -> [u64; 4] {
        let body = http_get(SocketAddr::from(([127, 0, 0, 1], self.monitor)), "/varz");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        ["in_msgs", "in_bytes", "out_msgs", "out_bytes"].map(|k| v[k].as_u64().unwrap_or(0))
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

/// A trainer publishing to `url` as `id` on a thread named like the unified server's.
fn spawn_trainer(
    pack: &Path,
    run_dir: PathBuf,
    episodes: u64,
    seed: u64,
    url: String,
    id: String,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<(PhaseTimes, PublishReport)>>> {
    let opts = RunnerOptions {
        pack_dir: Some(pack.to_path_buf()),
        run_dir: Some(run_dir),
        episodes: Some(episodes),
        seed: Some(seed),
        ..Default::default()
    };
    Ok(std::thread::Builder::new()
        .name("townlet-trainer".into())
        .spawn(move || {
            let (sender, queue) = publish_queue(townlet_nats::PUBLISH_QUEUE_CAPACITY);
            let mut runner = DemoRunner::new(
                &opts,
                Some(sender.into_callback()),
                Arc::new(AtomicBool::new(false)),
            )?;
            let world = WorldInfo::new(runner.pack(), runner.env());
            let run = RunDescriptor::for_pack(&id, &id, runner.pack(), world);
            let publisher = Publisher::start(&NatsOptions::new(url), queue, run)?;
            runner.run(&mut |_| {})?;
            runner.shutdown()?;
            let report = publisher.finish(Duration::from_secs(10));
            Ok((runner.phase_times(), report))
        })?)
}

/// One training run publishing to `url` (nobody subscribed).
pub fn run_publish(
    pack: &Path,
    episodes: u64,
    seed: u64,
    url: &str,
    id: &str,
) -> anyhow::Result<(RunCost, PublishReport)> {
    let tmp = tempfile::tempdir()?;
    let pool0 = procfs::threads_cpu_ns(COMPUTE_THREAD_PREFIX);
    let (phase, report) = spawn_trainer(
        pack,
        tmp.path().join("run"),
        episodes,
        seed,
        url.to_owned(),
        id.to_owned(),
    )?
    .join()
    .map_err(|_| anyhow::anyhow!("the training thread panicked"))??;
    let pool = procfs::threads_cpu_ns(COMPUTE_THREAD_PREFIX).saturating_sub(pool0);
    Ok((cost(&phase, pool), report))
}

/// A viewer server subscribed to the bus, on its own thread and runtime.
struct BusViewer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BusViewer {
    fn start(url: &str, max_clients: usize) -> anyhow::Result<BusViewer> {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let nats = NatsOptions::new(url);
        let thread = std::thread::Builder::new()
            .name("bench-viewer-server".into())
            .spawn(move || {
                let server = ServerOptions {
                    port: 0,
                    max_clients,
                    static_dir: None,
                    ..ServerOptions::default()
                };
                let served = townlet_nats::serve_bus(
                    &nats,
                    server,
                    None,
                    async {
                        let _ = stop_rx.await;
                    },
                    |a| {
                        let _ = addr_tx.send(a);
                    },
                );
                if let Err(e) = served {
                    eprintln!("viewer server: {e}");
                }
            })?;
        let addr = addr_rx.recv_timeout(Duration::from_secs(30))?;
        Ok(BusViewer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Waits until `/api/runs` lists every run of `ids`.
    fn wait_runs(&self, ids: &[String]) -> anyhow::Result<()> {
        let t0 = Instant::now();
        loop {
            let body = http_get(self.addr, "/api/runs");
            let listed: Vec<String> = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect();
            let missing = ids.iter().filter(|id| !listed.contains(id)).count();
            if missing == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(60),
                "the viewer server lacks {missing} of {} runs after 60 s",
                ids.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    pub trainers: usize,
    pub viewer_servers: usize,
    pub clients_per_server: usize,
    pub episodes_per_trainer: u64,
    pub wall_s: f64,
    pub published: u64,
    pub unpublished: u64,
    /// Through the NATS server while training (its `/varz`), per second.
    pub in_msgs_per_s: f64,
    pub in_bytes_per_s: f64,
    pub out_msgs_per_s: f64,
    pub out_bytes_per_s: f64,
    pub clients: Vec<ViewersReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NatsReport {
    pub pairs: usize,
    pub episodes_per_run: u64,
    pub off: Vec<RunCost>,
    pub on: Vec<RunCost>,
    pub unpublished: u64,
    /// Per pair: (on − off) / off of CPU per env step, percent.
    pub cpu_overhead_pct: Spread,
    /// Per pair: (off − on) / off of wall-clock env steps/s, percent.
    pub wall_slowdown_pct: Spread,
    /// `finished_at → episode_summary` through NATS and a subscribed viewer server.
    pub latency: Latency,
    pub latency_summaries_missing: u64,
    pub scale: ScaleReport,
}

/// (b): one trainer publishing, one viewer server subscribed, one client following the
/// run at 1× (connected once the run appears, so the first episodes are not counted).
fn latency(pack: &Path, episodes: u64, seed: u64, url: &str) -> anyhow::Result<ViewersReport> {
    let viewer = BusViewer::start(url, 64)?;
    let tmp = tempfile::tempdir()?;
    let trainer = spawn_trainer(
        pack,
        tmp.path().join("run"),
        episodes,
        seed,
        url.to_owned(),
        "latency".into(),
    )?;
    viewer.wait_runs(&["latency".to_owned()])?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let clients = Viewers::spawn(
        rt.handle(),
        &format!("ws://{}/ws?run=latency", viewer.addr),
        1,
        Behaviour::FollowAt1x,
    );
    trainer
        .join()
        .map_err(|_| anyhow::anyhow!("the training thread panicked"))??;
    std::thread::sleep(Duration::from_millis(500));
    let report = rt.block_on(clients.stop(Duration::from_secs(10)));
    viewer.stop();
    Ok(report)
}

/// (c): `trainers` trainers on `pack`, two viewer servers with `clients` WebSocket
/// clients each (in child processes, a full episode pulled every 5 s).
pub fn scale(
    pack: &Path,
    trainers: usize,
    clients: usize,
    episodes: u64,
    seed: u64,
) -> anyhow::Result<ScaleReport> {
    let nats = NatsServer::start()?;
    let url = nats.url();
    let servers = [
        BusViewer::start(&url, clients + 16)?,
        BusViewer::start(&url, clients + 16)?,
    ];
    let tmp = tempfile::tempdir()?;
    let ids: Vec<String> = (0..trainers).map(|i| format!("scale-{i}")).collect();
    let mut groups: Vec<Box<dyn ViewerGroup>> = Vec::new();
    let before = nats.varz();
    let t0 = Instant::now();
    let handles = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            spawn_trainer(
                pack,
                tmp.path().join(id),
                episodes,
                seed + i as u64,
                url.clone(),
                id.clone(),
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for s in &servers {
        s.wait_runs(&ids)?;
        let mut g = ChildViewers::start(s.addr.port(), clients, Duration::from_secs(5))?;
        let c0 = Instant::now();
        while !g.all_connected()? {
            anyhow::ensure!(
                c0.elapsed() < Duration::from_secs(120),
                "clients did not connect"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        groups.push(g);
    }
    let mut published = 0;
    let mut unpublished = 0;
    for h in handles {
        let (_, r) = h
            .join()
            .map_err(|_| anyhow::anyhow!("a training thread panicked"))??;
        published += r.published;
        unpublished += r.unpublished;
    }
    let wall = t0.elapsed().as_secs_f64();
    let after = nats.varz();
    std::thread::sleep(Duration::from_millis(500));
    let reports = groups
        .into_iter()
        .map(|g| g.finish())
        .collect::<anyhow::Result<Vec<_>>>()?;
    for s in servers {
        s.stop();
    }
    let rate = |i: usize| after[i].saturating_sub(before[i]) as f64 / wall.max(1e-9);
    Ok(ScaleReport {
        trainers,
        viewer_servers: 2,
        clients_per_server: clients,
        episodes_per_trainer: episodes,
        wall_s: wall,
        published,
        unpublished,
        in_msgs_per_s: rate(0),
        in_bytes_per_s: rate(1),
        out_msgs_per_s: rate(2),
        out_bytes_per_s: rate(3),
        clients: reports,
    })
}

/// Everything: `pairs` off/publish pairs on `pack`, the latency run, the scale run on
/// `scale_pack`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    pack: &Path,
    pairs: usize,
    episodes: u64,
    seed: u64,
    scale_pack: &Path,
    trainers: usize,
    clients: usize,
    scale_episodes: u64,
) -> anyhow::Result<NatsReport> {
    let nats = NatsServer::start()?;
    let url = nats.url();
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let mut unpublished = 0;
    for i in 0..pairs {
        let order = if i % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for publish in order {
            if publish {
                let (c, r) = run_publish(pack, episodes, seed, &url, &format!("pair-{i}"))?;
                println!(
                    "  pair {}: publish {:.1} µs/step, {:.0} steps/s; {r}",
                    i + 1,
                    c.cpu_us_per_step,
                    c.steps_per_s
                );
                unpublished += r.unpublished;
                on.push(c);
            } else {
                let c = run_off(pack, episodes, seed)?;
                println!(
                    "  pair {}: off     {:.1} µs/step, {:.0} steps/s",
                    i + 1,
                    c.cpu_us_per_step,
                    c.steps_per_s
                );
                off.push(c);
            }
        }
    }
    let cpu: Vec<f64> = off
        .iter()
        .zip(&on)
        .map(|(a, b)| 100.0 * (b.cpu_us_per_step - a.cpu_us_per_step) / a.cpu_us_per_step)
        .collect();
    let wall: Vec<f64> = off
        .iter()
        .zip(&on)
        .map(|(a, b)| 100.0 * (a.steps_per_s - b.steps_per_s) / a.steps_per_s)
        .collect();
    let lat = latency(pack, episodes, seed, &url)?;
    println!(
        "  latency run: {} summaries, p50 {:.1} ms, p99 {:.1} ms",
        lat.summaries, lat.latency.p50_ms, lat.latency.p99_ms
    );
    drop(nats);
    let scale = scale(scale_pack, trainers, clients, scale_episodes, seed)?;
    Ok(NatsReport {
        pairs,
        episodes_per_run: episodes,
        off,
        on,
        unpublished,
        cpu_overhead_pct: Spread::of(&cpu),
        wall_slowdown_pct: Spread::of(&wall),
        latency: lat.latency,
        latency_summaries_missing: lat.summaries_missing,
        scale,
    })
}

pub fn print(r: &NatsReport) {
    println!(
        "(a) training with --publish vs without ({} interleaved pairs, {} episodes each, nobody subscribed):",
        r.pairs, r.episodes_per_run
    );
    println!("    CPU per env step overhead {} %", r.cpu_overhead_pct);
    println!(
        "    wall-clock throughput slowdown {} % (target < 1 %); {} episodes not published",
        r.wall_slowdown_pct, r.unpublished
    );
    println!(
        "(b) finished_at → episode_summary through NATS and a subscribed viewer server: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} summaries (target p99 < 100 ms); {} missing",
        r.latency.p50_ms,
        r.latency.p99_ms,
        r.latency.max_ms,
        r.latency.n,
        r.latency_summaries_missing
    );
    let s = &r.scale;
    println!(
        "(c) {} trainers, {} viewer servers × {} clients, {} episodes each, {:.1} s: {} published, {} not",
        s.trainers,
        s.viewer_servers,
        s.clients_per_server,
        s.episodes_per_trainer,
        s.wall_s,
        s.published,
        s.unpublished
    );
    println!(
        "    through the bus: in {:.0} msg/s ({:.1} KiB/s), out {:.0} msg/s ({:.1} KiB/s)",
        s.in_msgs_per_s,
        s.in_bytes_per_s / 1024.0,
        s.out_msgs_per_s,
        s.out_bytes_per_s / 1024.0
    );
    for (i, c) in s.clients.iter().enumerate() {
        println!(
            "    viewer server {}: {} of {} clients connected, {} disconnected; {} summaries, p50 {:.1} ms, p99 {:.1} ms; {} full episodes",
            i + 1,
            c.connected,
            c.clients,
            c.disconnected,
            c.summaries,
            c.latency.p50_ms,
            c.latency.p99_ms,
            c.episodes
        );
    }
}
