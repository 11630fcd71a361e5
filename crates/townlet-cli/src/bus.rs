//! `--publish`: starts a trainer's NATS publisher once its run folder and pack are known.

use anyhow::{Context, Result};
use std::path::PathBuf;
use townlet_nats::{BusQueue, NatsOptions, Publisher, RunDescriptor, bus_run_id};
use townlet_runner::DemoRunner;

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
    let run = RunDescriptor::for_pack(&id, &name, runner.pack(), world);
    let publisher = Publisher::start(opts, queue, run).context("--publish")?;
    tracing::info!(
        "publishing run {id} to {} (docs/deployment.md)",
        townlet_nats::redact(&opts.url)
    );
    Ok(publisher)
}
