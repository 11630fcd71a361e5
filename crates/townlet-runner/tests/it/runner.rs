//! End-to-end behaviour of the DemoRunner on a tiny pack: determinism, exact resume,
//! callback wiring, interruption (docs/decisions.md#stop-at-the-next-step), and refusal of
//! a foreign checkpoint.

use crate::common::{chain, opts, refused, repo, train};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use townlet_recording::{Database, EndReason, LiveEpisode};
use townlet_runner::{DemoRunner, EpisodeReport, RunnerOptions};

/// The episode ids in the run's database, in order.
fn episode_ids(db: &Database) -> Vec<u64> {
    db.list_episodes(100, None)
        .unwrap()
        .iter()
        .map(|r| r.episode_id)
        .collect()
}

fn key(r: &EpisodeReport) -> (u64, u32, u32, u32, u64, Option<u32>) {
    (
        r.episode,
        r.length,
        r.extrinsic_reward.to_bits(),
        r.intrinsic_reward.to_bits(),
        r.epsilon.to_bits(),
        r.loss_mean.map(f32::to_bits),
    )
}

#[test]
fn same_seed_gives_identical_metrics_and_weights() {
    let t = tempfile::tempdir().unwrap();
    let (a, ha) = train(&opts(&t.path().join("a"), 100, 5));
    let (b, hb) = train(&opts(&t.path().join("b"), 100, 5));
    assert_eq!(a.len(), 100);
    assert_eq!(
        a.iter().map(key).collect::<Vec<_>>(),
        b.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(ha, hb);
    // the DB rows agree too
    let rows = |p: &Path| {
        let db = Database::open_read(&p.join("metrics.db")).unwrap();
        db.list_episodes(1000, None)
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.episode_id,
                    r.metadata.survival_steps,
                    r.metadata.total_reward.to_bits(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&t.path().join("a")), rows(&t.path().join("b")));
    let (c, hc) = train(&opts(&t.path().join("c"), 20, 6));
    assert_ne!(hc, ha);
    // Episodes are capped at 40 steps, so lengths can agree; rewards and losses cannot.
    assert_ne!(
        c.iter().map(key).collect::<Vec<_>>(),
        a[..20].iter().map(key).collect::<Vec<_>>()
    );
}

#[test]
fn resume_continues_bit_identically() {
    let t = tempfile::tempdir().unwrap();
    let (full, h_full) = train(&opts(&t.path().join("full"), 24, 9));
    let split = t.path().join("split");
    let (first, _) = train(&opts(&split, 12, 9));
    assert_eq!(first.len(), 12);
    // resume with only --run and a new episode total
    let resume = RunnerOptions {
        run_dir: Some(split.clone()),
        episodes: Some(24),
        ..Default::default()
    };
    let (second, h_split) = train(&resume);
    assert_eq!(second.first().map(|r| r.episode), Some(12));
    let joined: Vec<_> = first.iter().chain(&second).map(key).collect();
    assert_eq!(joined, full.iter().map(key).collect::<Vec<_>>());
    assert_eq!(h_split, h_full);
    let db = Database::open_read(&split.join("metrics.db")).unwrap();
    let ids = episode_ids(&db);
    assert_eq!(ids, (0..24).collect::<Vec<_>>());
}

#[test]
fn callback_gets_every_episode_with_the_recorded_steps() {
    let t = tempfile::tempdir().unwrap();
    let got: Arc<Mutex<Vec<Arc<LiveEpisode>>>> = Arc::default();
    let sink = Arc::clone(&got);
    let mut o = opts(&t.path().join("cb"), 6, 1);
    o.episodes = Some(6);
    let mut r = DemoRunner::new(
        &o,
        Some(Box::new(move |ep: Arc<LiveEpisode>| {
            sink.lock().unwrap().push(ep)
        })),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    let mut reports = vec![];
    r.run(&mut |rep| reports.push(rep.clone())).unwrap();
    r.shutdown().unwrap();
    let eps = got.lock().unwrap();
    assert_eq!(eps.len(), 6);
    let db = Database::open_read(&t.path().join("cb/metrics.db")).unwrap();
    for (ep, rep) in eps.iter().zip(&reports) {
        assert_eq!(ep.episode_id, rep.episode);
        assert_eq!(ep.len() as u32, rep.length);
        let row = db.episode_row(ep.episode_id).unwrap().unwrap();
        assert_eq!(row.metadata, ep.metadata);
        // Steps are 1-based, decision fields present, done only on the last step
        // (docs/decisions.md#step-fields).
        for (i, s) in ep.recorded_steps().iter().enumerate() {
            assert_eq!(s.step as usize, i + 1);
            let mask = s.action_mask.as_ref().unwrap();
            assert!(mask[s.action as usize], "action taken from its mask");
            assert_eq!(s.q_values.as_ref().unwrap().len(), 8);
            assert_eq!(
                s.done,
                i + 1 == ep.len() && ep.metadata.end_reason != EndReason::Truncated
            );
        }
    }
    // episode 0 is recorded by the periodic criterion; its file equals the stream
    let rec =
        townlet_recording::read_recording(&t.path().join("cb/recordings/episode_000000.twrec"))
            .unwrap();
    assert_eq!(rec.episode.recorded_steps(), eps[0].recorded_steps());
}

#[test]
fn stop_mid_episode_closes_it_as_interrupted_and_resume_starts_after_it() {
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("stop");
    let mut o = opts(&run, 50, 3);
    o.stop_after_steps = Some(100); // inside episode 2 or 3 (episodes are ≤ 40 steps)
    let mut r = DemoRunner::new(&o, None, Arc::new(AtomicBool::new(false))).unwrap();
    let mut reports = vec![];
    let summary = r.run(&mut |rep| reports.push(rep.clone())).unwrap();
    r.shutdown().unwrap();
    assert!(summary.interrupted);
    let last = reports.last().unwrap();
    assert_eq!(last.end_reason, EndReason::Interrupted);
    assert!(last.length > 0 && last.length < 40);
    assert_eq!(summary.next_episode, last.episode + 1);
    let db = Database::open_read(&run.join("metrics.db")).unwrap();
    let row = db.episode_row(last.episode).unwrap().unwrap();
    assert_eq!(row.metadata.end_reason, EndReason::Interrupted);
    let ckpt = summary.last_checkpoint.unwrap();
    let c = townlet_agent::Checkpoint::read(&ckpt).unwrap();
    assert_eq!(c.header.next_episode, last.episode + 1);
    // resume: the next id follows, nothing duplicated
    let (more, _) = train(&RunnerOptions {
        run_dir: Some(run.clone()),
        episodes: Some(last.episode + 3),
        ..Default::default()
    });
    assert_eq!(more.first().unwrap().episode, last.episode + 1);
    let ids = episode_ids(&db);
    assert_eq!(ids, (0..last.episode + 3).collect::<Vec<_>>());
}

#[test]
fn a_run_of_another_pack_is_refused_with_the_differing_keys() {
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("x");
    train(&opts(&run, 2, 1));
    let o = RunnerOptions {
        pack_dir: Some(repo().join("configs/L0_5_dual_resource")),
        run_dir: Some(run),
        ..Default::default()
    };
    let msg = refused(&o).to_string();
    assert!(
        msg.contains("differs from the config snapshot of run folder"),
        "{msg}"
    );
    assert!(
        msg.contains("substrate") || msg.contains("environment"),
        "{msg}"
    );
}

#[test]
fn a_corrupt_checkpoint_is_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("c");
    let (_, _) = train(&opts(&run, 3, 1));
    let ck = townlet_agent::checkpoint::list_checkpoints(&run.join("checkpoints"))
        .pop()
        .unwrap()
        .1;
    let bytes = std::fs::read(&ck).unwrap();
    std::fs::write(&ck, &bytes[..bytes.len() / 2]).unwrap();
    let err = refused(&RunnerOptions {
        run_dir: Some(run.clone()),
        episodes: Some(5),
        ..Default::default()
    });
    let msg = chain(&err);
    assert!(
        msg.starts_with(&format!(
            "error: cannot resume run folder {}\n",
            run.display()
        )),
        "{msg}"
    );
    assert!(
        msg.contains("truncated") || msg.contains("corrupt"),
        "{msg}"
    );
    assert!(msg.contains("checkpoint_ep"), "{msg}");
}

/// Trains `plain` and the same run with greedy evaluations `every`/`episodes`: the training
/// must be the same, bit for bit (evaluation episodes are not trained on and leave the
/// action RNG and hidden state where they were). Returns the evaluated run's reports.
fn same_training_with_evaluations(
    plain: &RunnerOptions,
    evaluated_dir: &Path,
    every: u64,
    episodes: u32,
) -> Vec<EpisodeReport> {
    let evaluated = RunnerOptions {
        run_dir: Some(evaluated_dir.to_path_buf()),
        evaluation: Some(townlet_runner::EvalOptions { every, episodes }),
        ..plain.clone()
    };
    let (a, ha) = train(plain);
    let (b, hb) = train(&evaluated);
    assert_eq!(
        a.iter().map(key).collect::<Vec<_>>(),
        b.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(ha, hb);
    assert!(a.iter().all(|r| r.evaluation.is_none()));
    b
}

#[test]
fn greedy_evaluations_do_not_change_training() {
    let t = tempfile::tempdir().unwrap();
    let plain = opts(&t.path().join("plain"), 12, 9);
    let b = same_training_with_evaluations(&plain, &t.path().join("eval"), 4, 3);
    let evals: Vec<(u64, usize)> = b
        .iter()
        .filter_map(|r| r.evaluation.as_ref().map(|e| (r.episode, e.len())))
        .collect();
    assert_eq!(evals, vec![(3, 3), (7, 3), (11, 3)]);
    for r in &b {
        for &len in r.evaluation.iter().flatten() {
            assert!(
                (1..=40).contains(&len),
                "an evaluation episode ends by the cap"
            );
        }
    }
}

#[test]
fn recurrent_greedy_evaluations_do_not_change_training() {
    let t = tempfile::tempdir().unwrap();
    let plain = RunnerOptions {
        pack_dir: Some(repo().join("configs/L2_partial_observability")),
        max_steps: Some(12),
        ..opts(&t.path().join("plain"), 6, 3)
    };
    let b = same_training_with_evaluations(&plain, &t.path().join("eval"), 2, 2);
    assert_eq!(b.iter().filter(|r| r.evaluation.is_some()).count(), 3);
}
