//! Presenter lag (docs/benchmarks.md#presenter-lag): a teacher presenting to N following
//! viewers on loopback. The teacher sends `presenter_state` at 20 Hz (what the viewer's
//! throttle sends while playing); the lag of one move for one follower is the time from
//! the teacher's send to that follower receiving the `presenting` that carries it. The
//! server runs on its own one-worker runtime (as on a two-core machine); teacher and
//! followers share another.

use crate::stats::Latency;
use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use townlet_inference::{Mode, ServerOptions, WorldInfo};
use townlet_protocol::{ServerMessage, parse_server_message};

const TOKEN: &str = "bench-teacher-token";
/// Time between two teacher moves (the viewer sends at most one per 50 ms).
const MOVE_EVERY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Serialize)]
pub struct PresenterReport {
    pub followers: usize,
    pub moves: usize,
    /// Teacher send → follower received, over every (move, follower) pair received.
    pub lag: Latency,
    /// (move, follower) pairs never received (a slow follower gets the newest position
    /// only; counted, not waited for).
    pub missed: usize,
}

pub fn run(pack: &Path, followers: usize, moves: usize) -> Result<PresenterReport> {
    let pack = townlet_config::load_pack(pack)?;
    let world = WorldInfo::from_pack(&pack)?;
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let opts = ServerOptions {
        port: 0,
        teacher_token: Some(TOKEN.into()),
        ..ServerOptions::default()
    };
    let listener = server_rt.block_on(townlet_inference::bind(&opts))?;
    let port = listener.local_addr()?.port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = server_rt.spawn(townlet_inference::serve(
        listener,
        Mode::Recorded,
        world,
        None,
        opts,
        async move {
            let _ = stop_rx.await;
        },
    ));
    let t0 = Instant::now();
    let sent: Arc<Mutex<Vec<f64>>> = Arc::new(Mutex::new(vec![f64::NAN; moves + 1]));
    let report = client_rt.block_on(async {
        let url = format!("ws://127.0.0.1:{port}/ws");
        let mut readers = Vec::new();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(followers.max(1));
        for _ in 0..followers {
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .context("connect a follower")?;
            let ready = ready_tx.clone();
            readers.push(tokio::spawn(async move {
                let mut got = vec![f64::NAN; moves + 1];
                let mut greeted = false;
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(text) = msg else { continue };
                    let at = t0.elapsed().as_secs_f64() * 1e3;
                    match parse_server_message(&text) {
                        Ok(ServerMessage::Hello(_)) if !greeted => {
                            greeted = true;
                            let _ = ready.send(()).await;
                        }
                        Ok(ServerMessage::Presenting(p)) => {
                            if !p.active {
                                break;
                            }
                            if let Some(s) = p.state
                                && (s.step as usize) <= moves
                            {
                                got[s.step as usize] = at;
                            }
                        }
                        _ => {}
                    }
                }
                got
            }));
        }
        drop(ready_tx);
        for _ in 0..followers {
            ready_rx.recv().await.context("a follower never got hello")?;
        }
        let (mut teacher, _) = tokio_tungstenite::connect_async(format!("{url}?token={TOKEN}"))
            .await
            .context("connect the teacher")?;
        let send = |t: String| Message::Text(t.into());
        teacher
            .send(send(r#"{"type":"present","on":true}"#.into()))
            .await?;
        let mut tick = tokio::time::interval(MOVE_EVERY);
        for k in 1..=moves {
            tick.tick().await;
            let state = format!(
                r#"{{"type":"presenter_state","state":{{"run_id":"main","episode_id":1,"step":{k},"playing":true,"speed":1,"overlays":[]}}}}"#
            );
            sent.lock().map_err(|_| anyhow::anyhow!("lock"))?[k] =
                t0.elapsed().as_secs_f64() * 1e3;
            teacher.send(send(state)).await?;
        }
        tick.tick().await;
        teacher
            .send(send(r#"{"type":"present","on":false}"#.into()))
            .await?;
        let sent = sent.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
        let mut lags = Vec::new();
        let mut missed = 0;
        for r in readers {
            let got = tokio::time::timeout(Duration::from_secs(30), r)
                .await
                .context("a follower did not finish")??;
            for k in 1..=moves {
                if got[k].is_nan() {
                    missed += 1;
                } else {
                    lags.push(got[k] - sent[k]);
                }
            }
        }
        anyhow::Ok(PresenterReport {
            followers,
            moves,
            lag: Latency::of(&lags),
            missed,
        })
    })?;
    let _ = stop_tx.send(());
    let _ = server_rt.block_on(server);
    Ok(report)
}

pub fn print(r: &PresenterReport) {
    println!(
        "presenter lag, {} followers, {} moves at 20 Hz: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target < 200 ms); {} of {} (move, follower) pairs coalesced away",
        r.followers,
        r.moves,
        r.lag.p50_ms,
        r.lag.p99_ms,
        r.lag.max_ms,
        r.missed,
        r.followers * r.moves
    );
}
