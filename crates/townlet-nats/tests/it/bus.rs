//! Trainers → NATS → viewer servers → WebSocket clients, and the faults: the bus down for
//! a while, a viewer server restarted, a trainer gone silent, garbage on the subjects.

use crate::support::{Nats, Trainer, Viewer, fetch_episodes, wait_for};
use std::sync::atomic::Ordering;
use std::time::Duration;
use townlet_nats::{RunDescriptor, episode_subject, summary_subject};
use townlet_protocol::Source;

const EPISODES: u64 = 6;

/// The recorded episodes of a run folder (every 2nd episode in the tiny pack).
fn recordings(run_dir: &std::path::Path) -> Vec<townlet_recording::LiveEpisode> {
    let mut out: Vec<_> = std::fs::read_dir(run_dir.join("recordings"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "twrec"))
        .map(|e| {
            townlet_recording::read_recording(&e.path())
                .unwrap()
                .episode
        })
        .collect();
    out.sort_by_key(|e| e.episode_id);
    out
}

#[test]
fn three_trainers_two_viewers_serve_the_trainers_episodes() {
    let Some(nats) = Nats::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let viewers = [
        Viewer::start(&nats.url(), None),
        Viewer::start(&nats.url(), None),
    ];
    let ids = ["t0", "t1", "t2"];
    let trainers: Vec<Trainer> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Trainer::start(&nats.url(), id, tmp.path(), i as u64, EPISODES))
        .collect();
    let dirs: Vec<_> = trainers.iter().map(|t| t.run_dir.clone()).collect();
    for t in trainers {
        let report = t.join();
        assert_eq!(report.published, EPISODES, "{report}");
        assert_eq!(report.unpublished, 0);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    for v in &viewers {
        for id in ids {
            let run = v.wait_run(id, "all episodes and finished", |r| {
                r["episodes"] == EPISODES && r["status"] == "finished"
            });
            assert_eq!(run["pack"], "e2e_tiny");
        }
        assert_eq!(v.runs().len(), 3);
        // Every episode a client gets equals the trainer's own recording, field by field
        // (compared as the wire text parses: docs/decisions.md#comparing-streamed-with-stored-values).
        for (id, dir) in ids.iter().zip(&dirs) {
            let recorded = recordings(dir);
            assert!(!recorded.is_empty());
            let want: Vec<u64> = recorded.iter().map(|e| e.episode_id).collect();
            let got = rt.block_on(fetch_episodes(v.addr, id, &want));
            for (ep, rec) in got.iter().zip(&recorded) {
                let expected: serde_json::Value = serde_json::from_str(
                    &townlet_inference::encode::episode_json(rec, Source::Training, None),
                )
                .unwrap();
                for key in [
                    "episode_id",
                    "agent_id",
                    "metadata",
                    "layout",
                    "start",
                    "steps",
                ] {
                    assert_eq!(
                        ep[key], expected[key],
                        "run {id} episode {}: {key}",
                        rec.episode_id
                    );
                }
            }
        }
        assert_eq!(v.metric("townlet_bus_malformed_total"), 0.0);
    }
    for v in viewers {
        v.stop();
    }
}

#[test]
fn faults_bus_down_viewer_restart_silent_trainer_and_garbage() {
    let Some(mut nats) = Nats::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let url = nats.url();
    let viewer = Viewer::start(&url, Some(Duration::from_millis(1500)));
    let trainer = Trainer::start(&url, "long", tmp.path(), 1, 1_000_000);
    viewer.wait_run("long", "a few episodes", |r| {
        r["episodes"].as_u64() >= Some(3)
    });

    // The bus goes down: training goes on, episodes are counted as not published.
    nats.stop();
    let db = trainer.run_dir.join("metrics.db");
    let rows = || {
        townlet_recording::Database::open_read(&db)
            .and_then(|d| d.episode_count())
            .unwrap_or(0)
    };
    let rows_at_stop = rows();
    wait_for("episodes counted as not published", || {
        trainer.counters.unpublished() >= 3
    });
    wait_for("training goes on while the bus is down", || {
        rows() >= rows_at_stop + 3
    });
    // Back up: publishing resumes by itself, the viewer follows again.
    let published_at_restart = trainer.counters.published();
    nats.restart();
    wait_for("publishing resumes", || {
        trainer.counters.published() >= published_at_restart + 3
    });
    // What was not published shows in the viewer's /metrics (from the heartbeats).
    wait_for("unpublished episodes in the viewer's /metrics", || {
        viewer.metric("townlet_bus_trainers_unpublished_total") >= 3.0
    });
    let seen = viewer.runs()[0]["episodes"].as_u64().unwrap();
    viewer.wait_run("long", "new episodes after the restart", |r| {
        r["episodes"].as_u64() > Some(seen)
    });

    // A viewer server started later shows the run's history.
    viewer.stop();
    let viewer = Viewer::start(&url, Some(Duration::from_millis(1500)));
    let run = viewer.wait_run("long", "history after a viewer restart", |r| {
        r["episodes"].as_u64() >= Some(seen) && r["status"] == "live"
    });
    assert!(run["sparkline"].as_array().is_some_and(|s| !s.is_empty()));

    // A trainer that goes silent (as after SIGKILL): its descriptor stops changing.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url.as_str()).await.unwrap();
        let layout = townlet_nats::Layout::ensure(&client).await.unwrap();
        let mut silent = RunDescriptor::live(
            "silent",
            "silent",
            3,
            Default::default(),
            townlet_inference::WorldInfo::from_pack(
                &townlet_config::load_pack(&crate::support::tiny_pack()).unwrap(),
            )
            .unwrap(),
        );
        silent.heartbeat_interval_ms = 200;
        layout
            .runs
            .put("silent", serde_json::to_vec(&silent).unwrap().into())
            .await
            .unwrap();
        // Garbage: on the run's subjects, in the bucket, under a foreign key.
        for subject in [episode_subject("long"), summary_subject("long")] {
            layout
                .js
                .publish(subject, "garbage".into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        layout.runs.put("junk", "{not json".into()).await.unwrap();
        silent.run_id = "other".into();
        layout
            .runs
            .put("mismatch", serde_json::to_vec(&silent).unwrap().into())
            .await
            .unwrap();
        client.flush().await.unwrap();
    });
    viewer.wait_run("silent", "stale once its heartbeat stopped", |r| {
        r["status"] == "stale"
    });
    wait_for("garbage counted", || {
        viewer.metric("townlet_bus_malformed_total") >= 3.0
    });
    assert!(
        viewer
            .runs()
            .iter()
            .all(|r| r["id"] != "junk" && r["id"] != "other")
    );
    // The live run is still served and still live.
    viewer.wait_run("long", "live after the garbage", |r| r["status"] == "live");

    trainer.stop.store(true, Ordering::SeqCst);
    let report = trainer.join();
    assert!(report.unpublished >= 3, "{report}");
    viewer.wait_run("long", "finished", |r| r["status"] == "finished");
    assert!(viewer.metric("townlet_bus_runs_stale") >= 1.0);
    viewer.stop();
}
