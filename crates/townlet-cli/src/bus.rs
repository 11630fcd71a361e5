//! `--publish`: starts a trainer's NATS publisher once its run folder and pack are known
//! (`townlet-train`), or one per run through the unified server's tap (`townlet-demo`,
//! also with `--lab`).

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use townlet_nats::{BusQueue, NatsOptions, Publisher, RunDescriptor, bus_run_id};
use townlet_recording::LiveStreamCallback;
use townlet_runner::DemoRunner;
use townlet_unified_server::tap::{EpisodeTap, TapRun};

/// The run's id on the bus: `--bus-run-id`, else `<pack>-<run folder name>`.
pub fn run_id(given: Option<&str>, runner: &DemoRunner) -> Result<String> {
    match given {
        Some(id) if townlet_nats::valid_bus_run_id(id) => Ok(id.to_owned()),
        Some(id) => Err(townlet_nats::NatsError::RunId(id.to_owned()))
            .context("--bus-run-id is not a valid run id"),
        None => {
            let folder = runner
                .run_dir()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(bus_run_id(&format!("{}-{folder}", runner.pack().name)))
        }
    }
}

/// `--publish URL [--nats-creds FILE]`, checked before anything starts.
pub fn options(url: &str, creds: Option<PathBuf>) -> Result<NatsOptions> {
    let opts = NatsOptions {
        url: url.to_owned(),
        creds,
    };
    opts.check().context("--publish")?;
    Ok(opts)
}

/// Starts publishing `runner`'s episodes (offered to `queue` by its callback).
pub fn start_publisher(
    opts: &NatsOptions,
    given_id: Option<&str>,
    runner: &DemoRunner,
    queue: BusQueue,
) -> Result<Publisher> {
    let id = run_id(given_id, runner)?;
    let world = townlet_inference::WorldInfo::new(runner.pack(), runner.env());
    let name = runner
        .run_dir()
        .file_name()
        .map_or_else(|| id.clone(), |n| n.to_string_lossy().into_owned());
    start(opts, &id, &name, runner.pack(), world, queue)
}

fn start(
    opts: &NatsOptions,
    id: &str,
    name: &str,
    pack: &townlet_config::Pack,
    world: townlet_inference::WorldInfo,
    queue: BusQueue,
) -> Result<Publisher> {
    let run = RunDescriptor::for_pack(id, name, pack, world);
    let publisher = Publisher::start(opts, queue, run).context("--publish")?;
    tracing::info!(
        "publishing run {id} to {} (docs/deployment.md)",
        townlet_nats::redact(&opts.url)
    );
    Ok(publisher)
}

/// `townlet-demo --publish` (one run or a lab): every run's episodes also go to NATS,
/// each run under its own bus id, through its own bounded drop-and-count queue.
pub struct BusTap {
    opts: NatsOptions,
    /// `--bus-run-id`, for a single run only.
    given_id: Option<String>,
    queues: Mutex<HashMap<String, BusQueue>>,
    publishers: Mutex<Vec<(String, Publisher)>>,
}

impl BusTap {
    pub fn new(opts: NatsOptions, given_id: Option<String>) -> Self {
        Self {
            opts,
            given_id,
            queues: Mutex::default(),
            publishers: Mutex::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl EpisodeTap for BusTap {
    fn callback(&self, key: &str) -> Option<LiveStreamCallback> {
        let (sender, queue) = townlet_nats::publish_queue(townlet_nats::PUBLISH_QUEUE_CAPACITY);
        lock(&self.queues).insert(key.to_owned(), queue);
        Some(sender.into_callback())
    }

    fn started(&self, run: TapRun<'_>) {
        let Some(queue) = lock(&self.queues).remove(run.key) else {
            return;
        };
        let id = match &self.given_id {
            Some(id) => id.clone(),
            None => bus_run_id(run.suggested_id),
        };
        let name = run
            .run_dir
            .file_name()
            .map_or_else(|| id.clone(), |n| n.to_string_lossy().into_owned());
        match start(&self.opts, &id, &name, run.pack, run.world.clone(), queue) {
            Ok(p) => lock(&self.publishers).push((id, p)),
            // Checked before training started; training goes on unpublished.
            Err(e) => tracing::error!("run {}: not published: {e:#}", run.key),
        }
    }

    fn finish(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        for (id, p) in lock(&self.publishers).drain(..) {
            let left = deadline.saturating_duration_since(Instant::now());
            tracing::info!("run {id}: {}", p.finish(left));
        }
    }
}
