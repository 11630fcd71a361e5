//! The publisher (`townlet-train --publish`): the recorder's live-stream callback offers
//! each finished episode to a bounded queue (try_send: full → dropped and counted, the
//! training thread never waits); a task on the publisher's own thread and tokio runtime
//! publishes the summary and the full episode, puts the run descriptor every heartbeat,
//! and reconnects by itself. While the bus is unreachable episodes are counted as not
//! published and training goes on.

use crate::error::{NatsError, redact};
use crate::layout::{
    BusRunStatus, BusSummary, Layout, RunDescriptor, encode_episode, episode_subject,
    summary_subject, unix_ms, valid_bus_run_id,
};
use async_nats::connection::State;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use townlet_recording::{LiveEpisode, LiveStreamCallback};

/// Episodes waiting for the publisher at most (like the live view's queue).
pub const PUBLISH_QUEUE_CAPACITY: usize = 10;
/// How often the run descriptor is put again (the heartbeat).
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long [`Publisher::start`] waits for the server before training starts anyway.
const CONNECT_WAIT: Duration = Duration::from_secs(2);
/// How long one publish may wait for the stream's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(2);

/// Where and how to publish.
#[derive(Debug, Clone)]
pub struct NatsOptions {
    /// `nats://HOST:PORT`, `nats://USER:PASS@HOST:PORT` or `tls://HOST:PORT`.
    pub url: String,
    /// A NATS credentials file (`--nats-creds`).
    pub creds: Option<PathBuf>,
}

impl NatsOptions {
    pub fn new(url: impl Into<String>) -> NatsOptions {
        NatsOptions {
            url: url.into(),
            creds: None,
        }
    }

    /// The parsed server address, or an error naming the (redacted) URL.
    fn server_addr(&self) -> Result<async_nats::ServerAddr, NatsError> {
        self.url
            .parse::<async_nats::ServerAddr>()
            .map_err(|source| NatsError::Url {
                url: redact(&self.url),
                source,
            })
    }

    /// Checks the address and that the credentials file can be read, without
    /// connecting (binaries call it before anything starts).
    pub fn check(&self) -> Result<(), NatsError> {
        self.server_addr()?;
        if let Some(path) = &self.creds {
            std::fs::read(path).map_err(|source| NatsError::Creds {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Checks the address (and reads the credentials file) without connecting.
    pub(crate) async fn connect_options(&self) -> Result<async_nats::ConnectOptions, NatsError> {
        self.server_addr()?;
        let opts = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2));
        match &self.creds {
            Some(path) => opts
                .credentials_file(path)
                .await
                .map_err(|source| NatsError::Creds {
                    path: path.clone(),
                    source,
                }),
            None => Ok(opts),
        }
    }

    /// Connects; with `retry_on_initial_connect` this returns at once and the client
    /// keeps trying in the background.
    pub(crate) async fn connect(
        &self,
        name: &str,
        reconnected: Option<tokio::sync::watch::Sender<u64>>,
    ) -> Result<async_nats::Client, NatsError> {
        let mut opts = self.connect_options().await?.name(name);
        if let Some(tx) = reconnected {
            let tx = Arc::new(tx);
            opts = opts.event_callback(move |event| {
                let tx = Arc::clone(&tx);
                async move {
                    if matches!(event, async_nats::Event::Connected) {
                        tx.send_modify(|n| *n += 1);
                    }
                }
            });
        }
        opts.connect(self.url.as_str())
            .await
            .map_err(|source| NatsError::Connect {
                url: redact(&self.url),
                source,
            })
    }
}

/// The publisher's counters (relaxed atomics): the trainer's log and final report, and
/// the run descriptor (so every viewer's `/metrics` shows them).
#[derive(Debug, Default)]
pub struct PublishCounters {
    /// Episodes offered by the training thread.
    pub offered: AtomicU64,
    /// Episodes whose summary and episode the stream acknowledged.
    pub published: AtomicU64,
    /// Episodes dropped because the queue was full (training never waits).
    pub dropped: AtomicU64,
    /// Episodes taken from the queue but not published (bus unreachable, no
    /// acknowledgement, publish error).
    pub failed: AtomicU64,
    /// Descriptor puts (heartbeats) that failed.
    pub heartbeats_failed: AtomicU64,
    /// Whether the client is connected right now.
    pub connected: AtomicBool,
}

impl PublishCounters {
    /// Episodes not published, for whatever reason.
    pub fn unpublished(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }

    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    pub fn offered(&self) -> u64 {
        self.offered.load(Ordering::Relaxed)
    }
}

/// The training side: offers episodes, never waits.
#[derive(Debug, Clone)]
pub struct BusSender {
    tx: flume::Sender<Arc<LiveEpisode>>,
    counters: Arc<PublishCounters>,
}

impl BusSender {
    /// `try_send`; a full (or closed) queue drops the episode and counts it.
    pub fn offer(&self, episode: Arc<LiveEpisode>) -> bool {
        self.counters.offered.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(episode).is_ok() {
            true
        } else {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    /// The recorder's live-stream callback.
    pub fn into_callback(self) -> LiveStreamCallback {
        Box::new(move |episode| {
            self.offer(episode);
        })
    }

    pub fn counters(&self) -> &Arc<PublishCounters> {
        &self.counters
    }
}

/// The queue's other end, handed to [`Publisher::start`] once the run is known.
#[derive(Debug)]
pub struct BusQueue {
    rx: flume::Receiver<Arc<LiveEpisode>>,
    counters: Arc<PublishCounters>,
}

/// The bounded publish queue: the sender goes into the recorder (via a callback), the
/// queue to the publisher.
pub fn publish_queue(capacity: usize) -> (BusSender, BusQueue) {
    let (tx, rx) = flume::bounded(capacity.max(1));
    let counters = Arc::new(PublishCounters::default());
    (
        BusSender {
            tx,
            counters: Arc::clone(&counters),
        },
        BusQueue { rx, counters },
    )
}

/// Both callbacks in one: the live view's and the publisher's (each never waits).
pub fn both(first: LiveStreamCallback, second: LiveStreamCallback) -> LiveStreamCallback {
    Box::new(move |episode| {
        first(Arc::clone(&episode));
        second(episode);
    })
}

/// What the publisher did, for the trainer's final report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishReport {
    pub offered: u64,
    pub published: u64,
    pub unpublished: u64,
}

impl std::fmt::Display for PublishReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} episodes published to NATS, {} not published",
            self.published, self.offered, self.unpublished
        )
    }
}

/// The running publisher (its own OS thread with a current-thread tokio runtime).
#[derive(Debug)]
pub struct Publisher {
    counters: Arc<PublishCounters>,
    stop: tokio::sync::watch::Sender<bool>,
    done: flume::Receiver<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Publisher {
    /// Checks the address and credentials, then publishes `run` and every episode of
    /// `queue` until [`Publisher::finish`] (or until the queue's sender is dropped).
    /// Returns at once even when the server is down (the client keeps trying).
    pub fn start(
        opts: &NatsOptions,
        queue: BusQueue,
        run: RunDescriptor,
    ) -> Result<Publisher, NatsError> {
        if !valid_bus_run_id(&run.run_id) {
            return Err(NatsError::RunId(run.run_id));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(NatsError::Runtime)?;
        let client =
            runtime.block_on(opts.connect(&format!("townlet-train {}", run.run_id), None))?;
        let counters = Arc::clone(&queue.counters);
        // Give the server a moment so the first episodes find it (training starts anyway).
        let mut conn = Conn {
            client,
            layout: None,
            layout_warned: false,
            was_connected: true,
            url: redact(&opts.url),
        };
        runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + CONNECT_WAIT;
            while conn.client.connection_state() != State::Connected
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            conn.layout(&counters).await;
        });
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let (done_tx, done) = flume::bounded(1);
        let thread = std::thread::Builder::new()
            .name("townlet-publish".into())
            .spawn(move || {
                runtime.block_on(publish_loop(conn, queue, run, stop_rx));
                let _ = done_tx.send(());
            })
            .map_err(NatsError::Runtime)?;
        Ok(Publisher {
            counters,
            stop,
            done,
            thread: Some(thread),
        })
    }

    pub fn counters(&self) -> &Arc<PublishCounters> {
        &self.counters
    }

    /// Publishes what is still queued (when connected), puts the descriptor as
    /// `finished`, and stops; waits at most `timeout`.
    pub fn finish(mut self, timeout: Duration) -> PublishReport {
        let _ = self.stop.send(true);
        if self.done.recv_timeout(timeout).is_ok()
            && let Some(t) = self.thread.take()
        {
            let _ = t.join();
        }
        self.report()
    }

    pub fn report(&self) -> PublishReport {
        PublishReport {
            offered: self.counters.offered(),
            published: self.counters.published(),
            unpublished: self.counters.unpublished(),
        }
    }
}

struct Conn {
    client: async_nats::Client,
    layout: Option<Layout>,
    layout_warned: bool,
    was_connected: bool,
    url: String,
}

impl Conn {
    fn connected(&mut self, counters: &PublishCounters) -> bool {
        let now = self.client.connection_state() == State::Connected;
        counters.connected.store(now, Ordering::Relaxed);
        if now != self.was_connected {
            if now {
                tracing::info!(url = %self.url, "connected to NATS: publishing");
            } else {
                tracing::warn!(
                    url = %self.url,
                    "NATS unreachable: training goes on, episodes are counted as not published"
                );
            }
            self.was_connected = now;
        }
        now
    }

    /// The streams and bucket, created on first use after (re)connecting.
    async fn layout(&mut self, counters: &PublishCounters) -> Option<Layout> {
        if !self.connected(counters) {
            return None;
        }
        if self.layout.is_none() {
            match tokio::time::timeout(ACK_TIMEOUT * 2, Layout::ensure(&self.client)).await {
                Ok(Ok(l)) => {
                    self.layout = Some(l);
                    self.layout_warned = false;
                }
                // Said once until it works (it is retried for every episode).
                Ok(Err(e)) if !self.layout_warned => {
                    self.layout_warned = true;
                    tracing::warn!(
                        "{}; episodes are counted as not published",
                        crate::error_chain(&e)
                    );
                }
                Ok(Err(_)) => {}
                Err(_) => tracing::debug!("NATS: creating the streams timed out"),
            }
        }
        self.layout.clone()
    }
}

async fn publish_one(layout: &Layout, run_id: &str, ep: &LiveEpisode) -> Result<(), String> {
    let summary = serde_json::to_vec(&BusSummary::of(run_id, ep)).map_err(|e| e.to_string())?;
    let payload = encode_episode(ep).map_err(|e| e.to_string())?;
    let s = layout
        .js
        .publish(summary_subject(run_id), summary.into())
        .await
        .map_err(|e| e.to_string())?;
    let e = layout
        .js
        .publish(episode_subject(run_id), payload.into())
        .await
        .map_err(|e| e.to_string())?;
    let acks = async {
        s.await.map_err(|e| e.to_string())?;
        e.await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(ACK_TIMEOUT, acks).await {
        Ok(r) => r.map(|_| ()),
        Err(_) => Err("no acknowledgement".to_owned()),
    }
}

async fn put_descriptor(
    conn: &mut Conn,
    run: &mut RunDescriptor,
    counters: &PublishCounters,
) -> bool {
    run.heartbeat_ms = unix_ms();
    run.episodes_offered = counters.offered();
    run.episodes_published = counters.published();
    run.episodes_unpublished = counters.unpublished();
    let Some(layout) = conn.layout(counters).await else {
        counters.heartbeats_failed.fetch_add(1, Ordering::Relaxed);
        return false;
    };
    let Ok(json) = serde_json::to_vec(&*run) else {
        return false;
    };
    match tokio::time::timeout(ACK_TIMEOUT, layout.runs.put(&run.run_id, json.into())).await {
        Ok(Ok(_)) => true,
        _ => {
            counters.heartbeats_failed.fetch_add(1, Ordering::Relaxed);
            conn.layout = None;
            false
        }
    }
}

async fn handle(conn: &mut Conn, run_id: &str, ep: &LiveEpisode, counters: &PublishCounters) {
    let Some(layout) = conn.layout(counters).await else {
        counters.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    match publish_one(&layout, run_id, ep).await {
        Ok(()) => {
            counters.published.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(episode = ep.episode_id, "not published: {e}");
        }
    }
}

async fn publish_loop(
    mut conn: Conn,
    queue: BusQueue,
    mut run: RunDescriptor,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let counters = Arc::clone(&queue.counters);
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            received = queue.rx.recv_async() => match received {
                Ok(ep) => handle(&mut conn, &run.run_id, &ep, &counters).await,
                Err(_) => break,
            },
            _ = beat.tick() => {
                put_descriptor(&mut conn, &mut run, &counters).await;
            }
        }
    }
    // Whatever is still queued, then the final descriptor.
    while let Ok(ep) = queue.rx.try_recv() {
        handle(&mut conn, &run.run_id, &ep, &counters).await;
    }
    run.status = BusRunStatus::Finished;
    put_descriptor(&mut conn, &mut run, &counters).await;
    let _ = tokio::time::timeout(ACK_TIMEOUT, conn.client.flush()).await;
}
