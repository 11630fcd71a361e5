//! Checkpoint mode: a real checkpoint played, a new one picked up after its rename, a
//! half-written temp file ignored, a corrupt one reported while the old model stays.

use crate::common::*;
use std::path::Path;
use townlet_agent::checkpoint::checkpoint_file_name;
use townlet_agent::{Checkpoint, CheckpointHeader, DqnAgent};
use townlet_config::{DeviceKind, Pack};
use townlet_env::Env;
use townlet_inference::{CheckpointSource, Mode, WorldInfo};

fn write_checkpoint(pack: &Pack, dir: &Path, episode: u64, epsilon: f64) {
    let env = Env::new(pack, 1, pack.training.seed).unwrap();
    let mut agent =
        DqnAgent::new(pack, env.obs_dim(), env.action_dim(), DeviceKind::Flex, 7).unwrap();
    let mut ckpt = Checkpoint::new(CheckpointHeader {
        crate_version: "test".into(),
        created_at_ms: 0,
        config_hash: String::new(),
        pack_name: pack.name.clone(),
        network_type: "simple".into(),
        obs_dim: env.obs_dim(),
        action_dim: env.action_dim(),
        backend: "flex".into(),
        episode,
        next_episode: episode + 1,
        total_steps: 0,
        stage: 2,
        epsilon,
        intrinsic_weight: 0.1,
        seed: 42,
    });
    agent.save_into(&mut ckpt).unwrap();
    // Written to a temp name and renamed into place.
    ckpt.write(&dir.join(checkpoint_file_name(episode)))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_mode_follows_new_checkpoints_and_survives_corrupt_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pack = load(&tiny_pack(tmp.path()));
    pack.curriculum.max_steps_per_episode = 30;
    let ckpts = tmp.path().join("run/checkpoints");
    std::fs::create_dir_all(&ckpts).unwrap();
    write_checkpoint(&pack, &ckpts, 5, 0.5);

    let world = WorldInfo::from_pack(&pack).unwrap();
    let source = CheckpointSource {
        dir: ckpts.clone(),
        pack: pack.clone(),
        greedy: false,
    };
    let server = start(Mode::Checkpoint(source), world, None, test_opts()).await;
    // The initial model is loaded and one episode played before anyone asks.
    wait_status(server.addr, |v| v["episodes_streamed"].as_u64() >= Some(1)).await;

    let mut ws = connect(&server).await;
    let hello = recv(&mut ws).await;
    assert_eq!(hello["mode"], "checkpoint");
    assert_eq!(hello["session"]["greedy"], false);
    assert_eq!(recv(&mut ws).await["type"], "stats");
    let model = recv(&mut ws).await;
    assert_eq!(model["type"], "model_loaded");
    assert_eq!(model["checkpoint"], "checkpoint_ep000005.ckpt");
    assert_eq!(model["checkpoint_episode"], 5);
    assert_eq!(model["curriculum_stage"], 2);
    let ep = recv(&mut ws).await;
    assert_eq!(ep["type"], "episode");
    assert_eq!(ep["source"], "checkpoint");
    assert_eq!(ep["checkpoint_episode"], 5);
    assert_eq!(ep["metadata"]["intrinsic_reward"], 0.0);
    assert_eq!(ep["metadata"]["epsilon"], 0.5);
    let first = ep["episode_id"].as_u64().unwrap();

    // Asking for the next one generates it on demand.
    send(&mut ws, &format!(r#"{{"type":"next","after":{first}}}"#)).await;
    let ep = recv_type(&mut ws, "episode").await;
    assert!(ep["episode_id"].as_u64().unwrap() > first);

    // Greedy per viewer.
    send(&mut ws, r#"{"type":"set_policy","greedy":true}"#).await;
    send(&mut ws, r#"{"type":"next"}"#).await;
    let ep = recv_type(&mut ws, "episode").await;
    assert_eq!(ep["metadata"]["epsilon"], 0.0);
    send(&mut ws, r#"{"type":"set_policy","greedy":false}"#).await;

    // A half-written temp file is ignored; the renamed checkpoint is picked up.
    std::fs::write(ckpts.join("checkpoint_ep000007.ckpt.tmp"), b"half written").unwrap();
    write_checkpoint(&pack, &ckpts, 9, 0.25);
    let v = recv_where(&mut ws, |v| {
        v["type"] == "model_loaded" || v["type"] == "error"
    })
    .await;
    assert_eq!(v["type"], "model_loaded", "{v}");
    assert_eq!(v["checkpoint_episode"], 9);
    let ep = recv_where(&mut ws, |v| {
        v["type"] == "episode_summary" && v["checkpoint_episode"] == 9
    })
    .await;
    assert_eq!(ep["metadata"]["epsilon"], 0.25);

    // A corrupt checkpoint renamed into place: reported, the old model stays.
    let bad_tmp = ckpts.join("checkpoint_ep000020.ckpt.tmp");
    std::fs::write(&bad_tmp, b"TWCKP garbage that is not a checkpoint").unwrap();
    std::fs::rename(&bad_tmp, ckpts.join(checkpoint_file_name(20))).unwrap();
    let e = recv_where(&mut ws, |v| {
        v["type"] == "error" || v["type"] == "model_loaded"
    })
    .await;
    assert_eq!(e["type"], "error", "{e}");
    assert_eq!(e["code"], "checkpoint_error");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("checkpoint_ep000020.ckpt"),
        "{e}"
    );
    let last = wait_status(server.addr, |v| v["model"]["checkpoint_episode"] == 9).await;
    let newest = last["episodes_streamed"].as_u64().unwrap() - 1;
    send(&mut ws, &format!(r#"{{"type":"next","after":{newest}}}"#)).await;
    let ep = recv_type(&mut ws, "episode").await;
    assert_eq!(ep["checkpoint_episode"], 9);

    let (_, status) = http_json(server.addr, "/api/status").await;
    assert_eq!(status["mode"], "checkpoint");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_mode_waits_for_a_first_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pack = load(&tiny_pack(tmp.path()));
    pack.curriculum.max_steps_per_episode = 10;
    let ckpts = tmp.path().join("checkpoints");
    std::fs::create_dir_all(&ckpts).unwrap();
    let world = WorldInfo::from_pack(&pack).unwrap();
    let source = CheckpointSource {
        dir: ckpts.clone(),
        pack: pack.clone(),
        greedy: true,
    };
    let server = start(Mode::Checkpoint(source), world, None, test_opts()).await;
    let mut ws = connect(&server).await;
    let hello = recv(&mut ws).await;
    assert_eq!(hello["session"]["greedy"], true);
    write_checkpoint(&pack, &ckpts, 3, 0.5);
    assert_eq!(
        recv_type(&mut ws, "model_loaded").await["checkpoint_episode"],
        3
    );
    // The viewer was waiting (nothing to show at connect): it gets the first episode.
    let ep = recv_type(&mut ws, "episode").await;
    assert_eq!(ep["metadata"]["epsilon"], 0.0);
    server.stop().await;
}
