//! Many viewers on loopback (issue 5 item 8, D22): an in-process live server fed with
//! synthetic episodes, and N WebSocket clients in a child process (so the server's RSS is
//! measured alone). Every client receives every `episode_summary` and pulls a full
//! episode every 5 s. Reports summary latency p50/p99 (`finished_at` → received), pulls
//! served, disconnections and the server's RSS.
//!
//! cargo run --release -p townlet-inference --example many_clients -- [clients] [seconds] [episodes_per_s]
//!
//! Bounded: loopback only, a fixed number of clients, stops by itself.

use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use townlet_inference::{LiveSource, Mode, ServerOptions, WorldInfo, bind, serve};
use townlet_recording::*;

fn episode(id: u64, n: u32) -> LiveEpisode {
    let mut steps = StepColumns::with_capacity(8, 8, n as usize);
    for i in 0..n {
        let f = |k: u32| ((i * 31 + k * 7 + id as u32) % 1000) as f32 / 1000.0;
        let _ = steps.push(&RecordedStep {
            step: i + 1,
            position: ((i % 8) as i32, ((i / 8) % 8) as i32),
            meters: (0..8).map(f).collect(),
            action: (i % 8) as u8,
            reward: f(3),
            intrinsic_reward: f(5),
            done: i + 1 == n,
            q_values: Some((0..8).map(|k| f(k + 10)).collect()),
            epsilon: Some(0.25),
            action_mask: Some(vec![true; 8]),
            explored: false,
            time_of_day: None,
            interaction_progress: None,
        });
    }
    LiveEpisode {
        episode_id: id,
        agent_id: 0,
        metadata: EpisodeMetadata {
            survival_steps: n,
            end_reason: if id.is_multiple_of(3) {
                EndReason::Died
            } else {
                EndReason::Truncated
            },
            affordance_visits: BTreeMap::new(),
            ..Default::default()
        },
        layout: vec![],
        start: StartState {
            position: (0, 0),
            meters: vec![1.0; 8],
            time_of_day: None,
        },
        steps,
        finished_at: townlet_protocol::unix_ms_now(),
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Child process: N clients against `addr` for `secs` seconds; prints one JSON line.
fn clients(addr: String, n: usize, secs: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let latencies = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
        let pulls = Arc::new(AtomicU64::new(0));
        let summaries = Arc::new(AtomicU64::new(0));
        let disconnected = Arc::new(AtomicU64::new(0));
        let missing = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for i in 0..n {
            let url = format!("ws://{addr}/ws");
            let (lat, pulls, summaries, disc, missing, stop) = (
                latencies.clone(), pulls.clone(), summaries.clone(), disconnected.clone(), missing.clone(), stop.clone(),
            );
            handles.push(tokio::spawn(async move {
                let Ok((ws, _)) = tokio_tungstenite::connect_async(&url).await else {
                    disc.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let (mut tx, mut rx) = ws.split();
                // Stagger the pulls over the 5 s period.
                let mut pull = tokio::time::interval_at(
                    tokio::time::Instant::now() + Duration::from_millis((i as u64 * 5000) / n as u64),
                    Duration::from_secs(5),
                );
                let mut last_id: Option<u64> = None;
                let mut mine = Vec::new();
                loop {
                    tokio::select! {
                        m = rx.next() => match m {
                            Some(Ok(Message::Text(t))) => {
                                let now = townlet_protocol::unix_ms_now();
                                let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                                match v["type"].as_str() {
                                    Some("episode_summary") => {
                                        summaries.fetch_add(1, Ordering::Relaxed);
                                        let id = v["episode_id"].as_u64().unwrap_or(0);
                                        if let Some(prev) = last_id && id != prev + 1 {
                                            missing.fetch_add(id.saturating_sub(prev + 1), Ordering::Relaxed);
                                        }
                                        last_id = Some(id);
                                        let fin = v["finished_at"].as_u64().unwrap_or(now);
                                        mine.push(now.saturating_sub(fin));
                                    }
                                    Some("episode") => { pulls.fetch_add(1, Ordering::Relaxed); }
                                    _ => {}
                                }
                            }
                            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                                if !stop.load(Ordering::Relaxed) {
                                    disc.fetch_add(1, Ordering::Relaxed);
                                }
                                break;
                            }
                            Some(Ok(_)) => {}
                        },
                        _ = pull.tick() => {
                            if stop.load(Ordering::Relaxed) { break; }
                            let next = serde_json::json!({"type": "next", "after": last_id.map(|x| x.saturating_sub(1))});
                            if tx.send(Message::text(next.to_string())).await.is_err() {
                                disc.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                }
                lat.lock().map(|mut l| l.extend(mine)).ok();
            }));
        }
        tokio::time::sleep(Duration::from_secs(secs)).await;
        stop.store(true, Ordering::Relaxed);
        // The server closes every client on shutdown; give the tasks a moment.
        for h in handles {
            let _ = tokio::time::timeout(Duration::from_secs(30), h).await;
        }
        let mut l = latencies.lock().map(|l| l.clone()).unwrap_or_default();
        l.sort_unstable();
        println!(
            "{}",
            serde_json::json!({
                "clients": n,
                "summaries_received": summaries.load(Ordering::Relaxed),
                "summaries_missing": missing.load(Ordering::Relaxed),
                "latency_ms_p50": percentile(&l, 0.5),
                "latency_ms_p99": percentile(&l, 0.99),
                "latency_ms_max": l.last().copied().unwrap_or(0),
                "pulls_served": pulls.load(Ordering::Relaxed),
                "disconnected": disconnected.load(Ordering::Relaxed),
                "client_rss_kib": rss_kib(),
            })
        );
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--clients") {
        let addr = args[2].clone();
        let n = args[3].parse().unwrap_or(500);
        let secs = args[4].parse().unwrap_or(30);
        return clients(addr, n, secs);
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(500);
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(30);
    let rate: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(20);
    let pack_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../configs/L1_full_observability");
    let pack = townlet_config::load_pack(&pack_dir).expect("pack");
    let world = WorldInfo::from_pack(&pack).expect("world");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let opts = ServerOptions {
            port: 0,
            max_clients: n + 10,
            ..ServerOptions::default()
        };
        let listener = bind(&opts).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (sender, source) = LiveSource::channel(10);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Mode::Live(source), world, None, opts, async {
            let _ = stop_rx.await;
        }));
        let rss_idle = rss_kib();
        let child = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args(["--clients", &addr.to_string(), &n.to_string(), &(secs + 3).to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("client process");
        // Let the clients connect, then feed episodes at `rate` per second (200 steps).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let feeder = std::thread::spawn(move || {
            let start = Instant::now();
            let mut id = 0u64;
            let mut peak = 0;
            while start.elapsed() < Duration::from_secs(secs) {
                sender.offer(Arc::new(episode(id, 200)));
                id += 1;
                let due = start + Duration::from_micros(id * 1_000_000 / rate);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                peak = peak.max(rss_kib());
            }
            (id, sender.counters().dropped(), peak)
        });
        let (offered, dropped, rss_peak) = tokio::task::spawn_blocking(move || feeder.join().expect("feeder"))
            .await
            .expect("join");
        let rss_clients = rss_kib();
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("child"))
            .await
            .expect("join");
        let _ = stop_tx.send(());
        let _ = server.await;
        println!(
            "server: episodes offered {offered}, dropped by the live queue {dropped}, RSS idle {} MiB, with {n} clients {} MiB (peak {} MiB)",
            rss_idle / 1024,
            rss_clients / 1024,
            rss_peak / 1024
        );
        println!("clients: {}", String::from_utf8_lossy(&out.stdout).trim());
    });
}
