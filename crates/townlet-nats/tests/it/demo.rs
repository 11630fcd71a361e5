//! `townlet-demo --publish` with `--lab`: every run of a lab is published under its own
//! bus id (`<lab folder>-<run id>`) through the unified server's tap, while the lab's own
//! viewer still serves it; a viewer server on the bus lists every run with its episodes.

use crate::support::{Nats, Viewer, tiny_pack, wait_for};
use std::sync::Arc;
use townlet_cli::bus::BusTap;
use townlet_nats::NatsOptions;
use townlet_unified_server::tap::Tap;
use townlet_unified_server::{LabOptions, LabStarted, ShutdownHandle, run_lab};

const EPISODES: u64 = 4;

#[test]
fn a_lab_publishes_every_run_under_its_own_id() {
    let Some(nats) = Nats::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let viewer = Viewer::start(&nats.url(), None);
    let pack = tiny_pack().canonicalize().unwrap();
    let pack = pack.display().to_string().replace('\'', "''");
    let lab = tmp.path().join("bus-lab.yaml");
    std::fs::write(
        &lab,
        format!(
            "title: Bus lab\nruns:\n  \
             - {{name: one, pack: '{pack}', seed: 1, episodes: {EPISODES}}}\n  \
             - {{name: two, pack: '{pack}', seed: 2, episodes: {EPISODES}}}\n"
        ),
    )
    .unwrap();
    let tap = Tap(Some(Arc::new(BusTap::new(
        NatsOptions::new(nats.url()),
        None,
    ))));
    let opts = LabOptions {
        server: townlet_inference::ServerOptions {
            port: 0,
            ..Default::default()
        },
        tap,
        ..LabOptions::new(lab, tmp.path().to_path_buf(), tmp.path().join("runs"))
    };
    let shutdown = ShutdownHandle::new();
    let (tx, rx) = std::sync::mpsc::channel::<LabStarted>();
    let sd = shutdown.clone();
    let thread =
        std::thread::spawn(move || run_lab(opts, sd, move |s| tx.send(s.clone()).unwrap()));
    let started = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("lab started");
    let folder = started
        .lab_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let ids: Vec<String> = ["one", "two"]
        .iter()
        .map(|r| townlet_nats::bus_run_id(&format!("{folder}-{r}")))
        .collect();
    for id in &ids {
        let run = viewer.wait_run(id, "every episode on the bus", |r| {
            r["episodes"] == EPISODES
        });
        assert_eq!(run["pack"], "e2e_tiny");
    }
    // The lab's runs finished training; the lab serves until it is stopped, and then the
    // publishers flush and mark the runs finished.
    shutdown.request_stop();
    let outcome = thread.join().unwrap().expect("lab ran");
    assert_eq!(outcome.runs.len(), 2);
    for id in &ids {
        viewer.wait_run(id, "finished", |r| r["status"] == "finished");
    }
    wait_for("two runs on the bus", || viewer.runs().len() == 2);
    viewer.stop();
}
