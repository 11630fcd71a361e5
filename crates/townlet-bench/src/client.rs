//! WebSocket viewers for the benchmarks, written against the public protocol only
//! (docs/protocol.md): each receives every `episode_summary` and measures
//! `finished_at → received`; a *follower* plays each full episode at 1× (the `hello`'s
//! `steps_per_second_at_1x`) and then asks `next {after, order: "latest"}` like the
//! browser does; a *puller* asks for the newest full episode every `pull_every`.

use crate::stats::Latency;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// How a viewer asks for full episodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    /// Play each episode at 1× and ask for the next (the browser's "follow live").
    FollowAt1x,
    /// Ask for the newest full episode every period (the many-viewers load of
    /// docs/decisions.md#acceptance-figures).
    PullEvery(Duration),
}

/// What a set of viewers saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ViewersReport {
    pub clients: usize,
    /// Clients that got their `hello`.
    pub connected: u64,
    /// Clients whose connection ended before they were told to stop (or never opened).
    pub disconnected: u64,
    pub summaries: u64,
    /// Summary ids a client never saw between two it did see (dropped upstream or skipped).
    pub summaries_missing: u64,
    /// `finished_at → received` for every summary of every client (ms).
    #[serde(skip)]
    pub latencies_ms: Vec<f64>,
    /// Full-episode requests sent and full episodes received (the one on connect
    /// included).
    pub requests: u64,
    pub episodes: u64,
    pub errors: u64,
    /// Summary of `latencies_ms`.
    pub latency: Latency,
}

#[derive(Default)]
struct Shared {
    connected: AtomicU64,
    disconnected: AtomicU64,
    summaries: AtomicU64,
    missing: AtomicU64,
    requests: AtomicU64,
    episodes: AtomicU64,
    errors: AtomicU64,
    latencies: Mutex<Vec<f64>>,
}

/// A running group of viewers; `stop` closes them and returns the report.
pub struct Viewers {
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    clients: usize,
}

impl Viewers {
    /// Connect `n` viewers to `url` (`ws://host:port/ws`), spreading pulls over the period.
    pub fn spawn(rt: &tokio::runtime::Handle, url: &str, n: usize, behaviour: Behaviour) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared::default());
        let tasks = (0..n)
            .map(|i| {
                let offset = match behaviour {
                    Behaviour::PullEvery(p) => p.mul_f64(i as f64 / n.max(1) as f64),
                    Behaviour::FollowAt1x => Duration::ZERO,
                };
                rt.spawn(viewer(
                    url.to_string(),
                    behaviour,
                    offset,
                    Arc::clone(&stop),
                    Arc::clone(&shared),
                ))
            })
            .collect();
        Viewers {
            stop,
            shared,
            tasks,
            clients: n,
        }
    }

    /// Viewers that have their `hello` so far.
    pub fn connected(&self) -> u64 {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// Summaries received so far (all viewers).
    pub fn summaries(&self) -> u64 {
        self.shared.summaries.load(Ordering::Relaxed)
    }

    /// Tell every viewer to close, wait for them (at most `grace`), and report.
    pub async fn stop(self, grace: Duration) -> ViewersReport {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            let _ = tokio::time::timeout(grace, t).await;
        }
        let s = &self.shared;
        let latencies_ms = s.latencies.lock().map(|l| l.clone()).unwrap_or_default();
        ViewersReport {
            latency: Latency::of(&latencies_ms),
            latencies_ms,
            clients: self.clients,
            connected: s.connected.load(Ordering::Relaxed),
            disconnected: s.disconnected.load(Ordering::Relaxed),
            summaries: s.summaries.load(Ordering::Relaxed),
            summaries_missing: s.missing.load(Ordering::Relaxed),
            requests: s.requests.load(Ordering::Relaxed),
            episodes: s.episodes.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
        }
    }
}

async fn viewer(
    url: String,
    behaviour: Behaviour,
    offset: Duration,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
) {
    let Ok((ws, _)) = tokio_tungstenite::connect_async(&url).await else {
        shared.disconnected.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let (mut tx, mut rx) = ws.split();
    let mut rate = 5.0f64;
    let mut last_summary: Option<u64> = None;
    let mut lat = Vec::new();
    // When to send the next request (None: not scheduled).
    let far = tokio::time::Instant::now() + Duration::from_secs(1_000_000);
    let mut due = match behaviour {
        Behaviour::PullEvery(p) => tokio::time::Instant::now() + offset + p,
        // Nothing may have finished yet: ask at once; the server answers when one does.
        Behaviour::FollowAt1x => tokio::time::Instant::now() + Duration::from_millis(50),
    };
    let mut pending_after: Option<u64> = None;
    let mut ended_by_stop = false;
    let mut stop_check = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            m = rx.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let now = townlet_protocol::unix_ms_now();
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                    match v["type"].as_str() {
                        Some("hello") => {
                            shared.connected.fetch_add(1, Ordering::Relaxed);
                            if let Some(r) = v["limits"]["steps_per_second_at_1x"].as_f64() && r > 0.0 {
                                rate = r;
                            }
                        }
                        Some("episode_summary") => {
                            shared.summaries.fetch_add(1, Ordering::Relaxed);
                            let id = v["episode_id"].as_u64().unwrap_or(0);
                            if let Some(prev) = last_summary && id > prev + 1 {
                                shared.missing.fetch_add(id - prev - 1, Ordering::Relaxed);
                            }
                            last_summary = Some(id);
                            if let Some(fin) = v["finished_at"].as_u64() {
                                lat.push(now.saturating_sub(fin) as f64);
                            }
                        }
                        Some("episode") => {
                            shared.episodes.fetch_add(1, Ordering::Relaxed);
                            if behaviour == Behaviour::FollowAt1x {
                                let id = v["episode_id"].as_u64();
                                let steps = v["metadata"]["survival_steps"].as_u64().unwrap_or(1);
                                pending_after = id;
                                due = tokio::time::Instant::now()
                                    + Duration::from_secs_f64(steps as f64 / rate);
                            }
                        }
                        Some("error") => {
                            shared.errors.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    if !stop.load(Ordering::SeqCst) {
                        shared.disconnected.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
                Some(Ok(_)) => {}
            },
            _ = tokio::time::sleep_until(due) => {
                let msg = match behaviour {
                    Behaviour::FollowAt1x => {
                        due = far;
                        serde_json::json!({"type": "next", "after": pending_after, "order": "latest"})
                    }
                    Behaviour::PullEvery(p) => {
                        due += p;
                        // The newest episode: anything after the one before the last summary.
                        let after = last_summary.map(|s| s.saturating_sub(1));
                        serde_json::json!({"type": "next", "after": after, "order": "latest"})
                    }
                };
                shared.requests.fetch_add(1, Ordering::Relaxed);
                if tx.send(Message::text(msg.to_string())).await.is_err() {
                    if !stop.load(Ordering::SeqCst) {
                        shared.disconnected.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
            }
            _ = stop_check.tick() => {
                if stop.load(Ordering::SeqCst) {
                    ended_by_stop = true;
                    break;
                }
            }
        }
    }
    if ended_by_stop {
        let _ = tx.send(Message::Close(None)).await;
    }
    if let Ok(mut l) = shared.latencies.lock() {
        l.extend(lat);
    }
}
