use crate::common::*;
use std::path::Path;
use std::sync::{Arc, Mutex};
use townlet_codec::CodecError;
use townlet_config::Compression;
use townlet_recording::criteria::*;
use townlet_recording::*;

fn run_paths(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    (dir.join("recordings"), dir.join("metrics.db"))
}

#[test]
fn callback_receives_exactly_the_recorded_steps() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let got: Arc<Mutex<Vec<Arc<LiveEpisode>>>> = Arc::default();
    let sink = Arc::clone(&got);
    let cb: LiveStreamCallback = Box::new(move |ep| sink.lock().unwrap().push(ep));
    let mut rec = EpisodeRecorder::new(&enabled_config(), out, Some(db), Some(cb)).unwrap();
    for e in 0..3u64 {
        rec.begin_episode(e, layout(), start());
        let input = steps(40 + e as u32, e);
        for s in &input {
            rec.record_step(s).unwrap();
        }
        let returned = rec
            .finish_episode(metadata(e, 1, 1.0, 40), metrics())
            .unwrap();
        let streamed = got.lock().unwrap().last().cloned().unwrap();
        assert!(Arc::ptr_eq(&returned, &streamed));
        assert_eq!(streamed.episode_id, e);
        assert_eq!(streamed.recorded_steps(), input, "episode {e}");
        assert_eq!(streamed.metadata, metadata(e, 1, 1.0, 40));
        assert_eq!(streamed.layout, layout());
        assert_eq!(streamed.start, start());
        assert!(streamed.finished_at > 0);
    }
    let c = rec.shutdown().unwrap();
    assert_eq!(got.lock().unwrap().len(), 3);
    assert_eq!(c.episodes_streamed, 3);
    assert_eq!(c.callback_failures, 0);
    // Recording disabled criteria-wise (no criterion on): every episode is still streamed.
    assert_eq!(c.episodes_written, 0);
}

#[test]
fn no_callback_still_records() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let mut rec =
        EpisodeRecorder::new(&every_episode_config(), out, Some(db.clone()), None).unwrap();
    let ep = run_episode(&mut rec, 0, 1, 2.0, 30);
    assert_eq!(ep.len(), 30);
    let c = rec.shutdown().unwrap();
    assert_eq!(c.episodes_streamed, 0);
    assert_eq!(c.callback_failures, 0);
    assert_eq!(c.episodes_finished, 1);
    assert_eq!(c.episodes_written, 1);
    let db = Database::open_read(&db).unwrap();
    assert_eq!(db.episode_count().unwrap(), 1);
}

#[test]
fn panicking_callback_does_not_stop_recording() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let calls = Arc::new(Mutex::new(0u32));
    let c2 = Arc::clone(&calls);
    let cb: LiveStreamCallback = Box::new(move |ep| {
        *c2.lock().unwrap() += 1;
        if ep.episode_id % 2 == 0 {
            panic!("viewer exploded on episode {}", ep.episode_id);
        }
    });
    let mut rec = EpisodeRecorder::new(
        &every_episode_config(),
        out.clone(),
        Some(db.clone()),
        Some(cb),
    )
    .unwrap();
    for e in 0..6 {
        run_episode(&mut rec, e, 1, 0.0, 20);
    }
    let c = rec.shutdown().unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        6,
        "called for every episode, even after a panic"
    );
    assert_eq!(c.callback_failures, 3);
    assert_eq!(c.episodes_streamed, 3);
    assert_eq!(c.episodes_written, 6);
    assert_eq!(
        Database::open_read(&db).unwrap().episode_count().unwrap(),
        6
    );
    for e in 0..6 {
        assert!(out.join(recording_file_name(e)).is_file());
    }
}

#[test]
fn shutdown_drains_fifty_episodes_through_a_tiny_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let mut cfg = every_episode_config();
    cfg.max_queue_size = 2; // forces backpressure: nothing may be dropped
    let mut rec = EpisodeRecorder::new(&cfg, out.clone(), Some(db.clone()), None).unwrap();
    for e in 0..50 {
        run_episode(&mut rec, e, 1, e as f32, 100);
    }
    let c = rec.shutdown().unwrap();
    assert_eq!(c.episodes_written, 50);
    assert_eq!(c.db_episodes_written, 50);
    assert_eq!(c.write_errors, 0);
    assert_eq!(c.queue_len, 0);
    assert!(c.bytes_written > 0);
    let db = Database::open_read(&db).unwrap();
    assert_eq!(db.episode_count().unwrap(), 50);
    let recs = db.list_recordings(&RecordingFilter::default()).unwrap();
    assert_eq!(recs.len(), 50);
    let total: u64 = recs.iter().map(|r| r.file_bytes).sum();
    assert_eq!(total, c.bytes_written);
    for e in 0..50 {
        let ep = read_recording(&out.join(recording_file_name(e))).unwrap();
        assert_eq!(ep.episode.episode_id, e);
        assert_eq!(ep.episode.len(), 100);
    }
    // Dropping after shutdown is harmless; a second shutdown is a no-op.
    assert!(rec.shutdown().is_ok());
}

#[test]
fn drop_without_shutdown_drains_too() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    {
        let mut rec =
            EpisodeRecorder::new(&every_episode_config(), out.clone(), Some(db.clone()), None)
                .unwrap();
        for e in 0..10 {
            run_episode(&mut rec, e, 1, 0.0, 10);
        }
    }
    assert_eq!(
        Database::open_read(&db).unwrap().episode_count().unwrap(),
        10
    );
}

#[test]
fn stage_transitions_record_before_and_after_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let mut cfg = enabled_config();
    cfg.criteria.stage_transitions.enabled = true;
    cfg.criteria.stage_transitions.before = 3;
    cfg.criteria.stage_transitions.after = 2;
    let mut rec = EpisodeRecorder::new(&cfg, out, Some(db.clone()), None).unwrap();
    for e in 0..20 {
        run_episode(&mut rec, e, if e < 10 { 1 } else { 2 }, 0.0, 10);
    }
    rec.shutdown().unwrap();
    let db = Database::open_read(&db).unwrap();
    let mut recs = db.list_recordings(&RecordingFilter::default()).unwrap();
    recs.sort_by_key(|r| r.episode_id);
    let got: Vec<(u64, &str)> = recs
        .iter()
        .map(|r| (r.episode_id, r.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (7, REASON_STAGE_BEFORE),
            (8, REASON_STAGE_BEFORE),
            (9, REASON_STAGE_BEFORE),
            (10, REASON_STAGE_AFTER),
            (11, REASON_STAGE_AFTER),
        ]
    );
    assert_eq!(recs[0].curriculum_stage, 1);
    assert_eq!(recs[3].curriculum_stage, 2);
}

#[test]
fn lookback_does_not_re_record_an_episode() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let mut cfg = enabled_config();
    cfg.criteria.periodic.enabled = true;
    cfg.criteria.periodic.interval = 4;
    cfg.criteria.stage_transitions.enabled = true;
    cfg.criteria.stage_transitions.before = 3;
    cfg.criteria.stage_transitions.after = 1;
    let mut rec = EpisodeRecorder::new(&cfg, out, Some(db.clone()), None).unwrap();
    for e in 0..10 {
        run_episode(&mut rec, e, if e < 9 { 1 } else { 2 }, 0.0, 5);
    }
    let c = rec.shutdown().unwrap();
    let db = Database::open_read(&db).unwrap();
    let mut recs = db.list_recordings(&RecordingFilter::default()).unwrap();
    recs.sort_by_key(|r| r.episode_id);
    let got: Vec<(u64, &str)> = recs
        .iter()
        .map(|r| (r.episode_id, r.reason.as_str()))
        .collect();
    // 8 is periodic (already written), so the look-back adds only 6 and 7.
    assert_eq!(
        got,
        vec![
            (0, REASON_PERIODIC),
            (4, REASON_PERIODIC),
            (6, REASON_STAGE_BEFORE),
            (7, REASON_STAGE_BEFORE),
            (8, REASON_PERIODIC),
            (9, REASON_STAGE_AFTER),
        ]
    );
    assert_eq!(c.episodes_written, 6);
}

#[test]
fn performance_and_boundaries_through_the_recorder() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let mut cfg = enabled_config();
    cfg.criteria.performance.enabled = true;
    cfg.criteria.performance.top_percent = 10.0;
    cfg.criteria.performance.bottom_percent = 10.0;
    cfg.criteria.performance.window = 10;
    cfg.criteria.stage_boundaries.enabled = true;
    cfg.criteria.stage_boundaries.first_n = 2;
    let mut rec = EpisodeRecorder::new(&cfg, out, Some(db.clone()), None).unwrap();
    for e in 0..12 {
        run_episode(&mut rec, e, 1, 1.0, 5);
    }
    run_episode(&mut rec, 12, 1, 50.0, 5);
    run_episode(&mut rec, 13, 1, -50.0, 5);
    run_episode(&mut rec, 14, 2, 1.0, 5);
    rec.shutdown().unwrap();
    let db = Database::open_read(&db).unwrap();
    let mut recs = db.list_recordings(&RecordingFilter::default()).unwrap();
    recs.sort_by_key(|r| r.episode_id);
    let got: Vec<(u64, &str)> = recs
        .iter()
        .map(|r| (r.episode_id, r.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, REASON_STAGE_BOUNDARY),
            (1, REASON_STAGE_BOUNDARY),
            (12, REASON_TOP),
            (13, REASON_BOTTOM),
            (14, REASON_STAGE_BOUNDARY),
        ]
    );
}

#[test]
fn criteria_state_restores_on_a_new_recorder() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let mut cfg = enabled_config();
    cfg.criteria.stage_boundaries.enabled = true;
    cfg.criteria.stage_boundaries.first_n = 3;
    let mut rec = EpisodeRecorder::new(&cfg, out.clone(), Some(db.clone()), None).unwrap();
    for e in 0..2 {
        run_episode(&mut rec, e, 1, 0.0, 5);
    }
    let state = rec.criteria_state();
    rec.shutdown().unwrap();
    // Through a checkpoint-like serialisation.
    let bytes = townlet_codec::encode(b"TWCKP", 1, &state, true).unwrap();
    let (_, state): (u16, CriteriaState) = townlet_codec::decode(b"TWCKP", 1..=1, &bytes).unwrap();
    let mut rec = EpisodeRecorder::new(&cfg, out, Some(db.clone()), None).unwrap();
    rec.restore_criteria_state(state);
    for e in 2..6 {
        run_episode(&mut rec, e, 1, 0.0, 5);
    }
    rec.shutdown().unwrap();
    let db = Database::open_read(&db).unwrap();
    let mut ids: Vec<u64> = db
        .list_recordings(&RecordingFilter::default())
        .unwrap()
        .iter()
        .map(|r| r.episode_id)
        .collect();
    ids.sort();
    assert_eq!(ids, vec![0, 1, 2], "first 3 of the stage across the resume");
}

#[test]
fn file_round_trip_both_compressions() {
    for compression in [Compression::Lz4, Compression::None] {
        let dir = tempfile::tempdir().unwrap();
        let (out, db) = run_paths(dir.path());
        let mut cfg = every_episode_config();
        cfg.compression = compression;
        let mut rec = EpisodeRecorder::new(&cfg, out.clone(), Some(db.clone()), None).unwrap();
        let ep = run_episode(&mut rec, 123, 2, 3.5, 200);
        rec.shutdown().unwrap();
        let path = out.join("episode_000123.twrec");
        let bytes = std::fs::read(&path).unwrap();
        let header =
            townlet_codec::decode_header(RECORDING_MAGIC, 1..=RECORDING_VERSION, &bytes).unwrap();
        assert_eq!(header.compressed(), compression == Compression::Lz4);
        let back = read_recording(&path).unwrap();
        assert_eq!(back.reason, REASON_PERIODIC);
        assert_eq!(back.episode, *ep);
        assert_eq!(back.episode.recorded_steps(), steps(200, 123));
        let row = Database::open_read(&db)
            .unwrap()
            .recording_row(123)
            .unwrap()
            .unwrap();
        assert_eq!(row.path, "recordings/episode_000123.twrec");
        assert_eq!(row.file_bytes, bytes.len() as u64);
        assert_eq!(row.compressed, compression == Compression::Lz4);
        assert_eq!(row.num_steps, 200);
        assert!(!out.join("episode_000123.twrec.tmp").exists());
    }
}

fn recorded_file() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let mut rec =
        EpisodeRecorder::new(&every_episode_config(), out.clone(), Some(db), None).unwrap();
    run_episode(&mut rec, 7, 1, 0.0, 120);
    rec.shutdown().unwrap();
    let path = out.join(recording_file_name(7));
    let bytes = std::fs::read(&path).unwrap();
    (dir, path, bytes)
}

#[test]
fn reader_rejects_bad_magic() {
    let (_d, path, mut bytes) = recorded_file();
    bytes[..5].copy_from_slice(b"TWCKP");
    std::fs::write(&path, &bytes).unwrap();
    let err = read_recording(&path).unwrap_err();
    assert!(
        matches!(err, RecordingError::Codec(CodecError::BadMagic { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("magic"), "{err}");
}

#[test]
fn reader_rejects_unknown_version() {
    let (_d, path, mut bytes) = recorded_file();
    bytes[5..7].copy_from_slice(&(RECORDING_VERSION + 1).to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = read_recording(&path).unwrap_err();
    assert!(
        matches!(
            err,
            RecordingError::Codec(CodecError::UnsupportedVersion { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("version"), "{err}");
}

#[test]
fn reader_rejects_truncation() {
    let (_d, path, bytes) = recorded_file();
    for cut in [3, 15, townlet_codec::HEADER_LEN + 10, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = read_recording(&path).unwrap_err();
        assert!(
            matches!(err, RecordingError::Codec(CodecError::Truncated { .. })),
            "cut {cut}: {err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}

#[test]
fn reader_rejects_corruption() {
    let (_d, path, bytes) = recorded_file();
    let mut bad = bytes.clone();
    let mid = townlet_codec::HEADER_LEN + (bytes.len() - townlet_codec::HEADER_LEN) / 2;
    bad[mid] ^= 0xFF;
    std::fs::write(&path, &bad).unwrap();
    let err = read_recording(&path).unwrap_err();
    assert!(
        matches!(err, RecordingError::Codec(CodecError::Corrupt(_))),
        "{err}"
    );
    assert!(err.to_string().contains("corrupt"), "{err}");
    // A missing file is an I/O error naming the path.
    let missing = path.with_file_name("episode_999999.twrec");
    let err = read_recording(&missing).unwrap_err();
    assert!(err.to_string().contains("episode_999999"), "{err}");
}

#[test]
fn approx_bytes_within_the_per_step_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let mut rec = EpisodeRecorder::new(&enabled_config(), out, Some(db), None).unwrap();
    let ep = run_episode(&mut rec, 0, 1, 0.0, 500);
    let bytes = ep.approx_bytes();
    let per_step = bytes as f64 / 500.0;
    println!("500-step L1-shaped episode: {bytes} bytes in memory, {per_step:.1} bytes/step");
    assert!(per_step <= 120.0, "{per_step} bytes/step > 120");
    assert!(
        10 * bytes <= 1_000_000,
        "10-slot live queue {} bytes > 1 MB",
        10 * bytes
    );
    // approx_bytes must see the step data (not just the fixed part).
    assert!(bytes > 500 * (METERS * 4 + ACTIONS * 4));
    rec.shutdown().unwrap();
}

#[test]
fn disabled_recording_still_writes_metrics_db() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let mut cfg = every_episode_config();
    cfg.enabled = false;
    let mut rec = EpisodeRecorder::new(&cfg, out.clone(), Some(db.clone()), None).unwrap();
    for e in 0..5 {
        run_episode(&mut rec, e, 1, 0.0, 10);
    }
    rec.set_run_state("status", "running").unwrap();
    let c = rec.shutdown().unwrap();
    assert_eq!(c.episodes_written, 0);
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
    let db = Database::open_read(&db).unwrap();
    assert_eq!(db.episode_count().unwrap(), 5);
    assert!(
        db.list_recordings(&RecordingFilter::default())
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.run_state().unwrap()["status"], "running");
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (out, db) = run_paths(dir.path());
    let mut rec =
        EpisodeRecorder::new(&enabled_config(), out.clone(), Some(db.clone()), None).unwrap();
    assert!(matches!(
        rec.record_step(step(0, 0, false)),
        Err(RecordingError::NoEpisode)
    ));
    assert!(matches!(
        rec.finish_episode(metadata(0, 1, 0.0, 0), EpisodeMetrics::default()),
        Err(RecordingError::NoEpisode)
    ));
    rec.begin_episode(0, layout(), start());
    let mut bad = step(0, 0, false);
    bad.meters.pop();
    assert!(matches!(
        rec.record_step(&bad),
        Err(RecordingError::StepShape(_))
    ));
    rec.record_step(step(0, 0, false)).unwrap();
    let mut bad = step(1, 0, false);
    bad.q_values = Some(vec![0.0; 3]);
    assert!(matches!(
        rec.record_step(&bad),
        Err(RecordingError::StepShape(_))
    ));
    assert_eq!(rec.steps_in_episode(), 1);
    let mut cfg = enabled_config();
    cfg.max_queue_size = 0;
    assert!(matches!(
        EpisodeRecorder::new(&cfg, out, Some(db), None),
        Err(RecordingError::Config(_))
    ));
}

#[test]
fn steps_without_optional_fields_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _db) = run_paths(dir.path());
    let mut rec = EpisodeRecorder::new(&enabled_config(), out, None, None).unwrap();
    rec.begin_episode(1, vec![], start());
    let mut input = steps(30, 1);
    // Q-values and masks appear only from step 10 on; earlier steps must stay None.
    for s in input.iter_mut().take(10) {
        s.q_values = None;
        s.action_mask = None;
        s.epsilon = None;
    }
    for s in &input {
        rec.record_step(s).unwrap();
    }
    let ep = rec
        .finish_episode(metadata(1, 1, 0.0, 30), metrics())
        .unwrap();
    assert_eq!(ep.recorded_steps(), input);
    rec.shutdown().unwrap();
}

#[test]
fn affordance_transitions_counted_with_self_loops() {
    let m = EpisodeMetrics::from_interactions(["Bed", "Job", "Bed", "Bed", "Job"]);
    let t = m.transitions();
    assert_eq!(t[&("Bed".to_string(), "Job".to_string())], 2);
    assert_eq!(t[&("Job".to_string(), "Bed".to_string())], 1);
    assert_eq!(t[&("Bed".to_string(), "Bed".to_string())], 1);
    assert_eq!(t.len(), 3);
    assert!(
        EpisodeMetrics::from_interactions(["Bed"])
            .transitions()
            .is_empty()
    );
}
