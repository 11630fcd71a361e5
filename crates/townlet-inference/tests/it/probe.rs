//! "Ask the agent" (docs/usage.md#asking-the-agent): probes reproduce the played Q-values
//! where the network is the one that played (MLP and recurrent, through the real runner,
//! its recordings and snapshots), the snapshot queue drops when full while training goes
//! on, and bad probe requests get clear errors.

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use townlet_agent::{DqnAgent, NetworkSnapshot};
use townlet_config::{DeviceKind, Overrides};
use townlet_env::Env;
use townlet_inference::{LiveSource, Memories, Question, probe_episode};
use townlet_protocol::{ProbeNetwork, Source};
use townlet_recording::LiveEpisode;
use townlet_runner::{DemoRunner, RunnerOptions};

type Played = (
    townlet_config::Pack,
    Vec<Arc<LiveEpisode>>,
    Vec<NetworkSnapshot>,
);

/// Trains `episodes` short episodes of a shipped pack with a replay batch larger than all
/// the steps, so the network never changes: the snapshot after episode e is exactly the
/// network that plays episode e + 1.
fn play(pack: &str, episodes: u64, dir: &Path) -> Played {
    play_with(pack, episodes, dir, &[])
}

/// [`play`] with more `key=value` overrides.
fn play_with(pack: &str, episodes: u64, dir: &Path, more: &[&str]) -> Played {
    let eps: Arc<Mutex<Vec<Arc<LiveEpisode>>>> = Arc::default();
    let snaps: Arc<Mutex<Vec<NetworkSnapshot>>> = Arc::default();
    let opts = RunnerOptions {
        pack_dir: Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../configs")
                .join(pack),
        ),
        run_dir: Some(dir.join("run")),
        episodes: Some(episodes),
        max_steps: Some(30),
        overrides: Overrides::from_flags(
            &[
                "training.batch_size=100000",
                "population.replay_buffer_capacity=100000",
                "training.snapshot_interval=1",
            ]
            .iter()
            .chain(more)
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        )
        .expect("overrides"),
        ..RunnerOptions::default()
    };
    let sink = Arc::clone(&eps);
    let mut runner = DemoRunner::new(
        &opts,
        Some(Box::new(move |ep| sink.lock().unwrap().push(ep))),
        Arc::new(AtomicBool::new(false)),
    )
    .expect("runner");
    let keep = Arc::clone(&snaps);
    runner.set_snapshot_callback(Box::new(move |s| keep.lock().unwrap().push(s)));
    runner.run(&mut |_| {}).expect("run");
    runner.shutdown().expect("shutdown");
    let pack = runner.pack().clone();
    let eps = eps.lock().unwrap().clone();
    let snaps = std::mem::take(&mut *snaps.lock().unwrap());
    (pack, eps, snaps)
}

fn network(s: &NetworkSnapshot) -> ProbeNetwork {
    ProbeNetwork {
        after_episode: s.after_episode,
        source: Source::Training,
        network_type: s.network_type().into(),
        exact: true,
    }
}

/// Every step of episode 1, probed with the snapshot taken after episode 0: at the agent's
/// real cell the Q-values equal the stored ones.
fn check_exact(pack: &str, recurrent: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (pack, eps, snaps) = play(pack, 2, dir.path());
    assert_eq!(snaps.len(), 2, "one snapshot per episode");
    assert_eq!(snaps[0].after_episode, 0);
    assert_eq!(snaps[0].is_recurrent(), recurrent);
    let ep = eps.iter().find(|e| e.episode_id == 1).expect("episode 1");
    let env = Env::new(&pack, 1, pack.training.seed).unwrap();
    let ask = |q: &Question, memories: &mut Memories| {
        probe_episode(&env, &snaps[0], network(&snaps[0]), "main", ep, q, memories).unwrap()
    };
    let mut worst = 0.0f32;
    for k in 1..=ep.len() as u32 {
        let q = Question {
            step: k,
            ..Question::default()
        };
        let r = ask(&q, &mut Memories::default());
        let [x, y] = r.state.position;
        let cell = (y as u32 * r.grid.width + x as u32) as usize;
        let stored = ep.step(k as usize - 1).unwrap().q_values.unwrap();
        for (a, b) in r.q_values[cell].iter().zip(&stored) {
            worst = worst.max((a - b).abs());
        }
        let mask = ep.step(k as usize - 1).unwrap().action_mask.unwrap();
        assert_eq!(
            r.masks[cell], mask,
            "step {k}: the mask at the agent's cell"
        );
        assert_eq!(r.q_values.len(), (r.grid.width * r.grid.height) as usize);
    }
    assert!(worst < 1e-4, "probe vs stored Q-values: max diff {worst}");
    // A kept recurrent memory answers exactly as replaying the episode again, also for a
    // what-if of the same step (which reuses it).
    let mut memories = Memories::default();
    let last = ep.len() as u32;
    for meters in [None, Some(vec![0.2; env.num_meters()])] {
        let q = Question {
            step: last,
            meters,
            ..Question::default()
        };
        let fresh = ask(&q, &mut Memories::default());
        for _ in 0..2 {
            let kept = ask(&q, &mut memories);
            assert_eq!(kept.q_values, fresh.q_values, "step {last}, kept memory");
        }
    }
}

#[test]
fn the_mlp_probe_reproduces_the_stored_q_values() {
    check_exact("L1_full_observability", false);
}

#[test]
fn the_recurrent_probe_rebuilds_the_memory_and_reproduces_the_stored_q_values() {
    check_exact("L2_partial_observability", true);
}

#[test]
fn a_full_snapshot_queue_drops_and_counts_while_training_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // Nobody takes snapshots off this queue (capacity 2).
    let (sender, source) = LiveSource::channel(64);
    let opts = RunnerOptions {
        pack_dir: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/L0_0_minimal")),
        run_dir: Some(dir.path().join("run")),
        episodes: Some(5),
        max_steps: Some(10),
        overrides: Overrides::from_flags(&["training.snapshot_interval=1"]).unwrap(),
        ..RunnerOptions::default()
    };
    let mut runner = DemoRunner::new(&opts, None, Arc::new(AtomicBool::new(false))).unwrap();
    runner.set_snapshot_callback(sender.snapshot_callback());
    let summary = runner.run(&mut |_| {}).unwrap();
    runner.shutdown().unwrap();
    assert_eq!(summary.episodes_run, 5, "training finished every episode");
    let c = &source.counters;
    assert_eq!(
        c.snapshots_offered
            .load(std::sync::atomic::Ordering::Relaxed),
        5
    );
    assert_eq!(
        c.snapshots_dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    assert_eq!(source.snapshots.len(), 2);
}

async fn answer(ws: &mut Inbox, json: &str) -> Value {
    ws.send(json).await;
    ws.recv_where(|v| v["type"] == "probe" || v["type"] == "error")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_over_the_websocket_and_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tx) = start_live(dir.path(), test_opts()).await;
    let mut ws = Inbox::new(connect(&server).await);
    ws.recv_type("hello").await;
    for id in 0..3 {
        tx.offer(episode(id, 5, false));
    }
    ws.recv_where(|v| v["type"] == "episode_summary" && v["episode_id"] == 2)
        .await;
    let probe = |ep: u64, step: u32| {
        format!(r#"{{"type":"probe","run_id":"main","episode_id":{ep},"step":{step}}}"#)
    };
    // No network handed over yet.
    let v = answer(&mut ws, &probe(2, 1)).await;
    assert_eq!(v["code"], "not_available", "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("snapshot_interval"),
        "{v}"
    );

    let pack = load(&tiny_pack(dir.path()));
    let env = Env::new(&pack, 1, 0).unwrap();
    let agent = DqnAgent::new(&pack, env.obs_dim(), env.action_dim(), DeviceKind::Flex, 3).unwrap();
    assert!(tx.offer_snapshot(agent.snapshot(1)));
    // The snapshot reaches the server on its own thread: ask until it answers.
    let v = loop {
        let v = answer(&mut ws, &probe(2, 3)).await;
        if v["type"] == "probe" {
            break v;
        }
        assert_eq!(v["code"], "not_available", "{v}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let side = env.grid_size() as usize;
    assert_eq!(v["network"]["after_episode"], 1);
    assert_eq!(
        v["network"]["exact"], true,
        "snapshot after 1 started episode 2"
    );
    assert_eq!(v["q_values"].as_array().unwrap().len(), side * side);
    assert_eq!(v["q_values"][0].as_array().unwrap().len(), env.action_dim());
    assert_eq!(v["masks"].as_array().unwrap().len(), side * side);
    assert_eq!(v["state"]["what_if"], false);
    assert_eq!(v["observation"]["spatial_kind"], "grid");
    // The state before step 3 is the one after step 2 (`common::step(1, _)`).
    assert_eq!(v["state"]["position"], serde_json::json!([1, 1]));
    assert!(v["compute_ms"].as_f64().unwrap() > 0.0);
    // The same question again comes from the cache.
    let again = answer(&mut ws, &probe(2, 3)).await;
    assert_eq!(again["compute_ms"], 0.0);
    assert_eq!(again["q_values"], v["q_values"]);
    // A what-if changes the values.
    let low = format!(
        r#"{{"type":"probe","run_id":"main","episode_id":2,"step":3,"meters":{}}}"#,
        serde_json::json!(vec![0.05; METERS])
    );
    let w = answer(&mut ws, &low).await;
    assert_eq!(w["state"]["what_if"], true, "{w}");
    assert_ne!(w["q_values"], v["q_values"]);

    let bad = [
        (
            r#"{"type":"probe","run_id":"nope","episode_id":2,"step":1}"#.to_string(),
            "unknown_run",
            "nope",
        ),
        (probe(77, 1), "unknown_episode", "77"),
        (probe(2, 6), "invalid_value", "1..=5"),
        (probe(2, 0), "invalid_value", "step 0"),
        (
            r#"{"type":"probe","run_id":"main","episode_id":2,"step":1,"meters":[1.5]}"#.into(),
            "invalid_value",
            "1.5",
        ),
        (
            r#"{"type":"probe","run_id":"main","episode_id":2,"step":1,"meters":[0.5]}"#.into(),
            "invalid_value",
            "has 1 meters",
        ),
        (
            r#"{"type":"probe","run_id":"main","episode_id":2,"step":1,"time_of_day":5}"#.into(),
            "invalid_value",
            "no clock",
        ),
    ];
    for (msg, code, says) in bad {
        let v = answer(&mut ws, &msg).await;
        assert_eq!(v["type"], "error", "{msg}: {v}");
        assert_eq!(v["code"], code, "{msg}: {v}");
        assert_eq!(v["request"], "probe", "{msg}: {v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{msg}: {v}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_episode_downloads_as_a_gif_or_an_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tx) = start_live(dir.path(), test_opts()).await;
    let mut ws = Inbox::new(connect(&server).await);
    ws.recv_type("hello").await;
    tx.offer(episode(4, 6, false));
    ws.recv_where(|v| v["type"] == "episode_summary" && v["episode_id"] == 4)
        .await;
    for (file, content_type, magic) in [
        ("4.gif?fps=10", "image/gif", "GIF89a"),
        ("4.mp4?fps=10&from=2&to=99", "video/mp4", "ftyp"),
    ] {
        let path = format!("/api/runs/main/episodes/{file}");
        let (status, head, body) = http_get_head(server.addr, &path).await;
        assert_eq!(status, 200, "{file}: {head}");
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains(&format!("content-type: {content_type}")),
            "{head}"
        );
        assert!(head.contains("attachment; filename=\"townlet-4."), "{head}");
        let start: String = body.chars().take(8).collect();
        assert!(start.contains(magic), "{file}: {start:?}");
    }
    for ext in ["gif", "mp4"] {
        let (status, _) = http_get(server.addr, &format!("/api/runs/main/episodes/99.{ext}")).await;
        assert_eq!(status, 404);
        let (status, _) = http_get(server.addr, &format!("/api/runs/other/episodes/4.{ext}")).await;
        assert_eq!(status, 404);
        let path = format!("/api/runs/main/episodes/4.{ext}?fps=0");
        let (status, body) = http_get(server.addr, &path).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("speed 0"), "{body}");
    }
    let (status, body) = http_get(server.addr, "/api/runs/main/episodes/4.webm").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(".gif or <episode id>.mp4"), "{body}");
    server.stop().await;
}

/// A replay is probed with the run's checkpoint nearest to the episode (loaded from the run
/// folder, also when the run is served as recorded); where that checkpoint is the network
/// that played (the network never changes here), the probe reproduces the stored Q-values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_is_probed_with_the_nearest_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let more = [
        "training.checkpoint_interval=2",
        "training.keep_checkpoints=0",
        "recording.criteria.periodic.interval=1",
    ];
    let (pack, eps, _) = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || play_with("L1_full_observability", 5, &dir, &more)
    })
    .await
    .unwrap();
    let run = dir.path().join("run");
    let ckpts: Vec<u64> = townlet_agent::checkpoint::list_checkpoints(&run.join("checkpoints"))
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    assert!(ckpts.len() >= 2, "checkpoints {ckpts:?}");
    let world = townlet_inference::WorldInfo::from_pack(&pack).unwrap();
    let server = start(
        townlet_inference::Mode::Recorded,
        world,
        Some(run.clone()),
        test_opts(),
    )
    .await;
    let mut ws = Inbox::new(connect(&server).await);
    ws.recv_type("hello").await;
    for ep in eps.iter().filter(|e| e.episode_id >= 1) {
        let id = ep.episode_id;
        let nearest = *ckpts.iter().min_by_key(|e| (e.abs_diff(id), **e)).unwrap();
        ws.send(&format!(r#"{{"type":"load_replay","episode_id":{id}}}"#))
            .await;
        ws.recv_where(|v| {
            (v["type"] == "episode" || v["type"] == "episode_start") && v["episode_id"] == id
        })
        .await;
        let v = answer(
            &mut ws,
            &format!(r#"{{"type":"probe","run_id":"main","episode_id":{id},"step":2}}"#),
        )
        .await;
        assert_eq!(v["type"], "probe", "episode {id}: {v}");
        assert_eq!(v["network"]["source"], "checkpoint", "episode {id}: {v}");
        assert_eq!(v["network"]["after_episode"], nearest, "episode {id}");
        assert_eq!(v["network"]["exact"], nearest + 1 == id, "episode {id}");
        if nearest + 1 == id {
            let [x, y] = [
                v["state"]["position"][0].as_u64().unwrap(),
                v["state"]["position"][1].as_u64().unwrap(),
            ];
            let cell = (y * u64::from(v["grid"]["width"].as_u64().unwrap() as u32) + x) as usize;
            let stored = ep.step(1).unwrap().q_values.unwrap();
            for (a, b) in v["q_values"][cell].as_array().unwrap().iter().zip(&stored) {
                assert!(
                    (a.as_f64().unwrap() as f32 - b).abs() < 1e-4,
                    "episode {id}: {a} vs {b}"
                );
            }
        }
    }
    server.stop().await;
}
