use crate::common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use townlet_recording::*;

#[test]
fn rows_equal_streamed_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("metrics.db");
    let mut rec = EpisodeRecorder::new(
        &enabled_config(),
        dir.path().join("recordings"),
        Some(db_path.clone()),
        None,
    )
    .unwrap();
    let eps: Vec<_> = (0..4)
        .map(|e| run_episode(&mut rec, e, 2, e as f32 * 0.3, 25))
        .collect();
    rec.shutdown().unwrap();
    let db = Database::open_read(&db_path).unwrap();
    for ep in &eps {
        let row = db.episode_row(ep.episode_id).unwrap().unwrap();
        assert_eq!(row.metadata, ep.metadata, "episode {}", ep.episode_id);
        assert_eq!(row.finished_at, ep.finished_at);
        assert_eq!(row.agent_id, 0);
    }
    assert!(db.episode_row(99).unwrap().is_none());
    let t = db.affordance_transitions(0).unwrap();
    let got: Vec<(&str, &str, u32)> = t
        .iter()
        .map(|t| (t.from.as_str(), t.to.as_str(), t.count))
        .collect();
    assert_eq!(
        got,
        vec![("Bed", "Bed", 1), ("Bed", "Job", 1), ("Job", "Bed", 1)]
    );
    // list_episodes pages by id; latest_episodes gives the newest, ascending.
    let ids = |rows: Vec<EpisodeRow>| rows.iter().map(|r| r.episode_id).collect::<Vec<_>>();
    assert_eq!(ids(db.list_episodes(2, None).unwrap()), vec![0, 1]);
    assert_eq!(ids(db.list_episodes(10, Some(1)).unwrap()), vec![2, 3]);
    assert_eq!(ids(db.latest_episodes(2).unwrap()), vec![2, 3]);
}

#[test]
fn rerun_episode_ids_replace_never_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("recordings");
    let db_path = dir.path().join("metrics.db");
    let cfg = every_episode_config();
    let mut rec = EpisodeRecorder::new(&cfg, out.clone(), Some(db_path.clone()), None).unwrap();
    for e in 0..5 {
        run_episode(&mut rec, e, 1, 1.0, 10);
    }
    rec.set_run_state("status", "running").unwrap();
    rec.shutdown().unwrap();

    // "Resume" from episode 3: the same ids again with different results.
    let mut rec = EpisodeRecorder::new(&cfg, out.clone(), Some(db_path.clone()), None).unwrap();
    for e in 3..5 {
        run_episode(&mut rec, e, 2, 7.0, 12);
    }
    rec.set_run_state("status", "finished").unwrap();
    rec.set_run_state("last_checkpoint", "checkpoints/ep_000004.twckp")
        .unwrap();
    rec.shutdown().unwrap();

    let db = Database::open_read(&db_path).unwrap();
    assert_eq!(db.episode_count().unwrap(), 5);
    let row = db.episode_row(4).unwrap().unwrap();
    assert_eq!(row.metadata.extrinsic_reward, 7.0);
    assert_eq!(row.metadata.curriculum_stage, 2);
    assert_eq!(
        db.episode_row(2)
            .unwrap()
            .unwrap()
            .metadata
            .extrinsic_reward,
        1.0
    );
    // Transitions replaced (same counts, not doubled).
    let t = db.affordance_transitions(4).unwrap();
    assert_eq!(t.iter().map(|t| t.count).sum::<u32>(), 3);
    let recs = db.list_recordings(&RecordingFilter::default()).unwrap();
    assert_eq!(recs.len(), 5);
    let r4 = db.recording_row(4).unwrap().unwrap();
    assert_eq!(r4.num_steps, 12);
    assert_eq!(
        read_recording(&out.join(recording_file_name(4)))
            .unwrap()
            .episode
            .len(),
        12
    );
    let state = db.run_state().unwrap();
    assert_eq!(state["status"], "finished");
    assert_eq!(state["last_checkpoint"], "checkpoints/ep_000004.twckp");
    assert_eq!(state.len(), 2);
}

#[test]
fn list_recordings_filters() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("metrics.db");
    let mut rec = EpisodeRecorder::new(
        &every_episode_config(),
        dir.path().join("recordings"),
        Some(db_path.clone()),
        None,
    )
    .unwrap();
    for e in 0..10u64 {
        // total_reward = extrinsic + 0.5
        run_episode(&mut rec, e, (e / 5 + 1) as u32, e as f32, 5);
    }
    rec.shutdown().unwrap();
    let db = Database::open_read(&db_path).unwrap();
    let ids = |f: RecordingFilter| {
        db.list_recordings(&f)
            .unwrap()
            .iter()
            .map(|r| r.episode_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(RecordingFilter::default()),
        (0..10).rev().collect::<Vec<_>>()
    );
    assert_eq!(
        ids(RecordingFilter {
            stage: Some(2),
            ..Default::default()
        }),
        vec![9, 8, 7, 6, 5]
    );
    assert_eq!(
        ids(RecordingFilter {
            min_reward: Some(3.0),
            max_reward: Some(6.5),
            ..Default::default()
        }),
        vec![6, 5, 4, 3]
    );
    assert_eq!(
        ids(RecordingFilter {
            limit: Some(2),
            ..Default::default()
        }),
        vec![9, 8]
    );
    assert_eq!(
        ids(RecordingFilter {
            reason: Some("periodic".into()),
            stage: Some(1),
            ..Default::default()
        }),
        vec![4, 3, 2, 1, 0]
    );
    assert!(
        ids(RecordingFilter {
            reason: Some("nope".into()),
            ..Default::default()
        })
        .is_empty()
    );
}

#[test]
fn concurrent_reads_while_the_writer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("metrics.db");
    let mut rec = EpisodeRecorder::new(
        &every_episode_config(),
        dir.path().join("recordings"),
        Some(db_path.clone()),
        None,
    )
    .unwrap();
    // The schema exists once new() returns, so readers can open at once.
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            let path = db_path.clone();
            std::thread::spawn(move || {
                let db = Database::open_read(&path).unwrap();
                let mut reads = 0u64;
                let mut last_count = 0;
                while !stop.load(Ordering::Relaxed) {
                    let n = db.episode_count().unwrap();
                    assert!(n >= last_count, "row count went backwards");
                    last_count = n;
                    let rows = db.latest_episodes(20).unwrap();
                    // Rows are whole: a row never shows a partial transaction.
                    for r in &rows {
                        assert_eq!(r.metadata.survival_steps, 30);
                        let t = db.affordance_transitions(r.episode_id).unwrap();
                        assert_eq!(t.len(), 3, "episode {} transitions", r.episode_id);
                    }
                    db.list_recordings(&RecordingFilter {
                        limit: Some(5),
                        ..Default::default()
                    })
                    .unwrap();
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for e in 0..150 {
        run_episode(&mut rec, e, 1, 0.0, 30);
    }
    rec.shutdown().unwrap();
    // Let the readers see the final state at least once (generous deadline:
    // docs/decisions.md#tests-never-assert-timings).
    let deadline = Instant::now() + Duration::from_secs(30);
    let db = Database::open_read(&db_path).unwrap();
    while db.episode_count().unwrap() < 150 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let reads = r.join().expect("reader thread failed");
        assert!(reads > 0);
    }
    assert_eq!(db.episode_count().unwrap(), 150);
}

#[test]
fn open_read_missing_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Database::open_read(&dir.path().join("metrics.db")).unwrap_err();
    assert!(matches!(err, RecordingError::NotFound(_)));
    assert!(err.to_string().contains("metrics.db"), "{err}");
    assert!(
        !dir.path().join("metrics.db").exists(),
        "open_read must not create"
    );
}

#[test]
fn replay_manager_steps_and_seeks() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("metrics.db");
    let mut rec = EpisodeRecorder::new(
        &every_episode_config(),
        dir.path().join("recordings"),
        Some(db_path.clone()),
        None,
    )
    .unwrap();
    let ep = run_episode(&mut rec, 5, 1, 0.0, 40);
    run_episode(&mut rec, 6, 1, 0.0, 3);
    rec.shutdown().unwrap();

    let mut rm = ReplayManager::open(&db_path).unwrap();
    assert!(rm.current_step().is_none());
    assert!(matches!(rm.seek(0), Err(RecordingError::NotFound(_))));
    assert_eq!(
        rm.list_recordings(&RecordingFilter::default())
            .unwrap()
            .len(),
        2
    );
    assert!(matches!(rm.load(77), Err(RecordingError::NotFound(_))));

    let loaded = rm.load(5).unwrap();
    assert_eq!(loaded, &*ep);
    assert_eq!(rm.reason(), Some("periodic"));
    assert_eq!(rm.len(), 40);
    assert_eq!(rm.position(), 0);
    assert_eq!(rm.current_step().unwrap().step, 1, "index 0 holds step 1");
    assert_eq!(rm.next_step().unwrap().step, 2);
    assert_eq!(rm.seek(39).unwrap(), ep.step(39).unwrap());
    assert!(rm.at_end());
    assert!(rm.next_step().is_none());
    assert_eq!(rm.position(), 39);
    let err = rm.seek(40).unwrap_err();
    assert!(
        matches!(err, RecordingError::SeekOutOfRange { index: 40, len: 40 }),
        "{err}"
    );
    assert_eq!(rm.position(), 39, "a bad seek does not move");
    rm.reset();
    assert_eq!(rm.current_step().unwrap().step, 1);
    rm.load(6).unwrap();
    assert_eq!(rm.len(), 3);

    // A damaged file is reported, not a panic.
    let path = dir.path().join("recordings").join(recording_file_name(6));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(rm.load(6), Err(RecordingError::Codec(_))));
}

#[test]
fn full_writer_queue_waits_instead_of_dropping() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("metrics.db");
    let cfg = townlet_config::RecordingConfig {
        max_queue_size: 1,
        ..every_episode_config()
    };
    let mut rec = EpisodeRecorder::new(
        &cfg,
        dir.path().join("recordings"),
        Some(db_path.clone()),
        None,
    )
    .unwrap();
    // Another connection holds the write lock, so the writer thread stalls on its first
    // transaction and the one-slot queue fills: finish_episode must wait.
    let blocker = rusqlite::Connection::open(&db_path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let handle = rec.counters_handle();
    let releaser = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while handle.snapshot().backpressure_waits == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        blocker.execute_batch("COMMIT").unwrap();
    });
    for e in 0..6 {
        run_episode(&mut rec, e, 1, 0.0, 10);
    }
    releaser.join().unwrap();
    let c = rec.shutdown().unwrap();
    assert!(c.backpressure_waits >= 1, "{c:?}");
    assert_eq!(c.write_errors, 0);
    assert_eq!(c.episodes_written, 6);
    assert_eq!(
        Database::open_read(&db_path)
            .unwrap()
            .episode_count()
            .unwrap(),
        6
    );
}
