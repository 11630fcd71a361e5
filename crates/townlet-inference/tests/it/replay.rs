//! Replay from a run folder written by the real recorder: list, load, seek, get_episode
//! fallback, and the HTTP views of the same data. Streamed values equal the stored ones.

use crate::common::*;
use std::path::Path;
use townlet_config::RecordingConfig;
use townlet_inference::{LiveSource, Mode};
use townlet_recording::{EpisodeMetrics, EpisodeRecorder};

/// Records episodes 0..n into `run/` (every episode gets a file; odd ones die).
fn write_run(run: &Path, n: u64) {
    let mut config = RecordingConfig {
        enabled: true,
        ..RecordingConfig::default()
    };
    config.criteria.periodic.enabled = true;
    config.criteria.periodic.interval = 1;
    let mut rec = EpisodeRecorder::new(
        &config,
        run.join("recordings"),
        Some(run.join("metrics.db")),
        None,
    )
    .unwrap();
    for id in 0..n {
        let ep = episode(id, 12, id % 2 == 1);
        rec.begin_episode(id, ep.layout.clone(), ep.start.clone());
        for s in ep.recorded_steps() {
            rec.record_step(s).unwrap();
        }
        rec.finish_episode(
            ep.metadata.clone(),
            EpisodeMetrics::from_interactions(Vec::<String>::new()),
        )
        .unwrap();
    }
    rec.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_list_load_seek_and_http() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    write_run(&run, 6);
    let (_tx, source) = LiveSource::channel(4);
    let server = start(
        Mode::Live(source),
        world(tmp.path()),
        Some(run.clone()),
        test_opts(),
    )
    .await;
    let mut ws = connect(&server).await;
    assert_eq!(recv(&mut ws).await["type"], "hello");
    // A resumed run's charts start from its database.
    let stats = recv(&mut ws).await;
    assert_eq!(stats["history"].as_array().unwrap().len(), 6);

    send(&mut ws, r#"{"type":"list_recordings"}"#).await;
    let list = recv_type(&mut ws, "recordings").await;
    assert_eq!(list["total"], 6);
    let ids: Vec<u64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["episode_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![5, 4, 3, 2, 1, 0]);
    assert_eq!(list["items"][0]["reason"], "periodic");

    send(
        &mut ws,
        r#"{"type":"list_recordings","filters":{"end_reason":"died","min_reward":2,"limit":1}}"#,
    )
    .await;
    let list = recv_type(&mut ws, "recordings").await;
    assert_eq!(list["total"], 2); // 3 and 5
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["episode_id"], 5);

    // Whole episode: equal to the recording, field by field.
    send(&mut ws, r#"{"type":"load_replay","episode_id":3}"#).await;
    let ep = recv_type(&mut ws, "episode").await;
    assert_eq!(ep["source"], "replay");
    // Compared as the wire text parses (floats as f32, printed the same way:
    // docs/decisions.md#comparing-streamed-with-stored-values).
    let expected: serde_json::Value =
        serde_json::from_str(&townlet_inference::encode::episode_json(
            &episode(3, 12, true),
            townlet_protocol::Source::Replay,
            None,
        ))
        .unwrap();
    for key in ["steps", "layout", "start", "agent_id", "episode_id"] {
        assert_eq!(ep[key], expected[key], "{key}");
    }
    let stored = &ep["metadata"];
    assert_eq!(stored["survival_steps"], 12);
    assert_eq!(stored["end_reason"], "died");

    // get_episode falls back to the recordings.
    send(&mut ws, r#"{"type":"get_episode","id":2}"#).await;
    assert_eq!(recv_type(&mut ws, "episode").await["episode_id"], 2);

    // Server-paced replay with seek.
    send(
        &mut ws,
        r#"{"type":"subscribe","delivery":"steps","speed":0.25}"#,
    )
    .await;
    send(&mut ws, r#"{"type":"pause"}"#).await;
    send(&mut ws, r#"{"type":"load_replay","episode_id":4}"#).await;
    let start = recv_where(&mut ws, |v| {
        v["type"] == "episode_start" && v["episode_id"] == 4
    })
    .await;
    assert_eq!(start["source"], "replay");
    assert_eq!(start["total_steps"], 12);
    send(&mut ws, r#"{"type":"seek","index":11}"#).await;
    send(&mut ws, r#"{"type":"step"}"#).await;
    let s = recv_where(&mut ws, |v| v["type"] == "step" && v["episode_id"] == 4).await;
    assert_eq!(
        (s["index"].as_u64(), s["step"].as_u64()),
        (Some(11), Some(12))
    );
    send(&mut ws, r#"{"type":"seek","index":12}"#).await;
    assert_eq!(
        recv_type(&mut ws, "error").await["code"],
        "seek_out_of_range"
    );
    send(&mut ws, r#"{"type":"step"}"#).await;
    let end = recv_type(&mut ws, "episode_end").await;
    assert_eq!(end["episode_id"], 4);
    send(&mut ws, r#"{"type":"load_replay","episode_id":77}"#).await;
    assert_eq!(recv_type(&mut ws, "error").await["code"], "unknown_episode");

    // HTTP.
    let (status, list) = http_json(server.addr, "/api/recordings?stage=1&limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 6);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (status, one) = http_json(server.addr, "/api/recordings/1").await;
    assert_eq!(status, 200);
    assert_eq!(one["type"], "episode");
    assert_eq!(one["episode_id"], 1);
    let (status, _) = http_json(server.addr, "/api/recordings/99").await;
    assert_eq!(status, 404);
    let (status, rows) = http_json(server.addr, "/api/episodes?limit=4").await;
    assert_eq!(status, 200);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[3]["episode_id"], 5);
    let (status, _) = http_json(server.addr, "/api/episodes?limit=zero").await;
    assert_eq!(status, 400);
    server.stop().await;
}
