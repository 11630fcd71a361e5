//! `serve`: runs the sources, the stats ticker and the HTTP/WebSocket server until the
//! shutdown future resolves, then sends every client a close frame.

use crate::checkpoint::{self, CheckpointSource};
use crate::convert;
use crate::error::ServerError;
use crate::hub::{Entry, Hub};
use crate::live::LiveSource;
use crate::options::ServerOptions;
use crate::world::WorldInfo;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use townlet_protocol::{self as proto, Source};

/// Where episodes come from.
// Built once per server; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Mode {
    /// A trainer in the same process (the unified server).
    Live(LiveSource),
    /// A saved model playing (standalone inference).
    Checkpoint(CheckpointSource),
}

/// Serves until `shutdown` resolves. `listener` comes from [`crate::bind`]; `run_dir` (the
/// run folder holding `metrics.db` and `recordings/`) enables replay, `/api/episodes`
/// and `/api/recordings`. On shutdown every WebSocket client gets a close frame (1001)
/// and the checkpoint thread is stopped before this returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    mode: Mode,
    world: WorldInfo,
    run_dir: Option<PathBuf>,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (proto_mode, live, ckpt) = match mode {
        Mode::Live(src) => (
            proto::Mode::Live,
            Some((src.counters.clone(), src.rx.clone())),
            None,
        ),
        Mode::Checkpoint(src) => (proto::Mode::Checkpoint, None, Some(src)),
    };
    let greedy = ckpt.as_ref().is_some_and(|c| c.greedy);
    let grace = opts.shutdown_grace;
    let stats_interval = opts.stats_interval;
    let hub = Arc::new(Hub::new(
        proto_mode,
        world,
        opts,
        run_dir,
        greedy,
        live.clone(),
        stop_rx.clone(),
    ));

    let mut tasks = Vec::new();
    if let Some((_, rx)) = live {
        // Charts of a resumed run start full: the newest rows of the run's database.
        if let Ok(rows) =
            crate::replay::episodes(hub.run_dir.as_deref(), proto::HISTORY_LEN as usize).await
        {
            hub.preload_history(
                rows.iter()
                    .map(|r| convert::history_point(r.episode_id, &r.metadata))
                    .collect(),
            );
        }
        let hub = Arc::clone(&hub);
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    received = rx.recv_async() => match received {
                        Ok(ep) => hub.ingest(Entry::new(ep, Source::Training, None, false)),
                        // The trainer finished: keep serving what we have.
                        Err(_) => break,
                    },
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    let worker = match ckpt {
        Some(src) => Some(checkpoint::start(Arc::clone(&hub), src)?),
        None => None,
    };

    {
        let hub = Arc::clone(&hub);
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(stats_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut rate = RateWindow::new(STEPS_RATE_WINDOW);
            rate.sample(Instant::now(), hub.trained().1);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => break,
                }
                if let Some(r) = rate.sample(Instant::now(), hub.trained().1) {
                    hub.set_steps_rate(r);
                }
                hub.push_stats();
            }
        }));
    }

    let routes = crate::http::routes(Arc::clone(&hub));
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(
        warp::serve(routes)
            .incoming(listener)
            .graceful(async move {
                let _ = http_stop.changed().await;
            })
            .run(),
    );
    if let Ok(addr) = hub.opts.addr() {
        tracing::debug!(%addr, "serving");
    }

    shutdown.await;
    tracing::info!("shutting down: closing client connections");
    stop_tx.send_replace(true);
    hub.close_all(1001, "server shutting down");
    // Sessions send their close frame and end; wait for them (bounded).
    let deadline = Instant::now() + grace + Duration::from_secs(1);
    while hub.client_count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for t in tasks {
        let _ = t.await;
    }
    if let Some(w) = worker {
        let _ = tokio::task::spawn_blocking(move || w.stop()).await;
    }
    if tokio::time::timeout(grace, http).await.is_err() {
        tracing::debug!("HTTP connections still open at shutdown");
    }
    Ok(())
}

/// Steps are counted when an episode finishes, so a one-second rate flickers to 0 whenever
/// no episode ends within that second (every few seconds for the recurrent packs). The
/// rate shown is over the last 10 seconds instead.
const STEPS_RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// Rate of a growing counter over a sliding time window.
struct RateWindow {
    window: std::time::Duration,
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl RateWindow {
    fn new(window: std::time::Duration) -> Self {
        RateWindow {
            window,
            samples: Default::default(),
        }
    }

    /// Adds a sample; returns the rate per second since the oldest sample in the window
    /// (None until two samples exist).
    fn sample(&mut self, at: Instant, count: u64) -> Option<f64> {
        self.samples.push_back((at, count));
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|(t, _)| at.duration_since(*t) >= self.window)
        {
            self.samples.pop_front();
        }
        let (t0, c0) = *self.samples.front()?;
        let dt = at.duration_since(t0).as_secs_f64();
        (dt > 0.0).then(|| count.saturating_sub(c0) as f64 / dt)
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rate_is_smoothed_over_the_window() {
        let t = Instant::now();
        let mut r = RateWindow::new(Duration::from_secs(10));
        assert_eq!(r.sample(t, 0), None);
        // 1000 steps land at second 3, nothing else for 8 s: the rate stays positive.
        let mut last = None;
        for s in 1..=8u64 {
            let count = if s >= 3 { 1000 } else { 0 };
            last = r.sample(t + Duration::from_secs(s), count);
        }
        assert_eq!(last, Some(1000.0 / 8.0));
        // Old samples leave the window: after 20 quiet seconds the rate is 0.
        for s in 9..=25u64 {
            last = r.sample(t + Duration::from_secs(s), 1000);
        }
        assert_eq!(last, Some(0.0));
    }
}
