//! Training-thread cost of the recorder per env step: `record_step` × 500 plus one
//! `finish_episode` (amortised), for L1-shaped episodes (8 meters, 8 actions, Q-values and
//! masks on every step). Time spent waiting on a full writer queue is subtracted and
//! reported apart (docs/decisions.md#measuring-training-slowdown). Also prints the bytes
//! per step in memory and on disk.
//!
//! Run: `cargo bench -p townlet-recording --bench recorder`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use townlet_config::{Compression, RecordingConfig};
use townlet_recording::*;

const STEPS: u32 = 500;

/// On-CPU time of the calling thread in ns (Linux `/proc/thread-self/schedstat`, first
/// field); None elsewhere. Blocking waits use no CPU, so this excludes backpressure.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}
const METERS: usize = 8;
const ACTIONS: usize = 8;

/// Deterministic pseudo-random numbers (no rand dependency needed here).
struct Lcg(u64);
impl Lcg {
    fn next_f32(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }
}

/// A plausible episode: a random walk, meters draining with occasional refills, noisy
/// Q-values (the hardest part to compress), ε-greedy flags.
fn episode_steps(seed: u64) -> Vec<RecordedStep> {
    let mut r = Lcg(seed);
    let mut pos = (4i32, 4i32);
    let mut meters = vec![1.0f32; METERS];
    (0..STEPS)
        .map(|i| {
            let action = (r.next_f32() * 6.0) as u8;
            match action {
                0 => pos.1 = (pos.1 - 1).max(0),
                1 => pos.1 = (pos.1 + 1).min(7),
                2 => pos.0 = (pos.0 - 1).max(0),
                3 => pos.0 = (pos.0 + 1).min(7),
                _ => {}
            }
            for (k, m) in meters.iter_mut().enumerate() {
                *m = (*m - 0.002 * (k as f32 + 1.0)).max(0.0);
                if action == 4 && r.next_f32() < 0.3 {
                    *m = (*m + 0.3).min(1.0);
                }
            }
            RecordedStep {
                step: i + 1,
                position: pos,
                meters: meters.clone(),
                action,
                reward: meters.iter().product::<f32>().max(0.0),
                intrinsic_reward: r.next_f32() * 0.01,
                done: i + 1 == STEPS,
                q_values: Some((0..ACTIONS).map(|_| r.next_f32() * 4.0 - 2.0).collect()),
                epsilon: Some(0.37),
                action_mask: Some((0..ACTIONS).map(|a| a != 4 || r.next_f32() < 0.5).collect()),
                explored: r.next_f32() < 0.37,
                time_of_day: None,
                interaction_progress: None,
            }
        })
        .collect()
}

fn metadata(stage: u32) -> EpisodeMetadata {
    let mut visits = BTreeMap::new();
    visits.insert("Bed".to_string(), 3);
    visits.insert("Job".to_string(), 2);
    EpisodeMetadata {
        survival_steps: STEPS,
        curriculum_stage: stage,
        affordance_visits: visits,
        end_reason: EndReason::Died,
        ..EpisodeMetadata::default()
    }
}

fn layout() -> Vec<AffordancePosition> {
    (0..14)
        .map(|i| AffordancePosition {
            name: format!("Affordance{i}"),
            x: i % 8,
            y: i / 8,
        })
        .collect()
}

fn start() -> StartState {
    StartState {
        position: (4, 4),
        meters: vec![1.0; METERS],
        time_of_day: None,
    }
}

fn bench_case(
    c: &mut Criterion,
    name: &str,
    config: RecordingConfig,
    with_db: bool,
    with_callback: bool,
    measure: Duration,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let steps = episode_steps(7);
    // The server's callback: try_send into a bounded(10) queue drained by a consumer.
    let (cb, consumer) = if with_callback {
        let (tx, rx) = mpsc::sync_channel::<std::sync::Arc<LiveEpisode>>(10);
        let consumer = std::thread::spawn(move || rx.iter().count());
        let cb: LiveStreamCallback = Box::new(move |ep| {
            let _ = tx.try_send(ep);
        });
        (Some(cb), Some(consumer))
    } else {
        (None, None)
    };
    let db = with_db.then(|| dir.path().join("metrics.db"));
    let mut rec =
        EpisodeRecorder::new(&config, dir.path().join("recordings"), db, cb).expect("recorder");
    let mut episode = 0u64;
    let mut cpu_ns = 0u64;
    let mut timed_episodes = 0u64;
    let mut group = c.benchmark_group("recorder");
    group.throughput(Throughput::Elements(STEPS as u64));
    group.sample_size(20);
    group.warm_up_time(measure / 3);
    group.measurement_time(measure);
    let wall = Instant::now();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let waited0 = rec.counters().backpressure_wait_ns;
            let cpu0 = thread_cpu_ns();
            let t0 = Instant::now();
            for _ in 0..iters {
                rec.begin_episode(episode, layout(), start());
                for s in &steps {
                    rec.record_step(s).expect("record_step");
                }
                rec.finish_episode(metadata(1), EpisodeMetrics::default())
                    .expect("finish_episode");
                episode += 1;
            }
            let total = t0.elapsed();
            if let (Some(a), Some(b)) = (cpu0, thread_cpu_ns()) {
                cpu_ns += b.saturating_sub(a);
                timed_episodes += iters;
            }
            let waited = Duration::from_nanos(rec.counters().backpressure_wait_ns - waited0);
            // Let the writer catch up between samples (untimed) so one sample's backlog
            // does not turn into the next one's waits.
            rec.flush().expect("flush");
            total.saturating_sub(waited)
        });
    });
    group.finish();
    let before_drain = rec.counters();
    let t = Instant::now();
    let after = rec.shutdown().expect("shutdown");
    let drain = t.elapsed();
    let wall = wall.elapsed();
    drop(rec); // closes the callback's sender so the consumer ends
    let consumed = consumer.map(|h| h.join().unwrap_or(0));
    let waits = before_drain.backpressure_waits;
    if timed_episodes > 0 {
        eprintln!(
            "  [{name}] training-thread CPU time: {:.1} ns/step over {timed_episodes} timed episodes",
            cpu_ns as f64 / (timed_episodes * STEPS as u64) as f64
        );
    }
    eprintln!(
        "  [{name}] episodes {} ({} steps each); backpressure waits {waits} \
         (total {:.1} ms, {:.3} µs per step of all episodes; excluded above); \
         files {} ({:.1} bytes/step on disk); db rows {}; write errors {}; \
         shutdown drain {:.1} ms; live consumer got {:?}; wall {:.1} s = {:.0} episodes/s \
         end to end",
        after.episodes_finished,
        STEPS,
        before_drain.backpressure_wait_ns as f64 / 1e6,
        before_drain.backpressure_wait_ns as f64
            / 1e3
            / (after.episodes_finished.max(1) * STEPS as u64) as f64,
        after.episodes_written,
        after.bytes_written as f64 / (after.episodes_written.max(1) * STEPS as u64) as f64,
        after.db_episodes_written,
        after.write_errors,
        drain.as_secs_f64() * 1e3,
        consumed,
        wall.as_secs_f64(),
        after.episodes_finished as f64 / wall.as_secs_f64(),
    );
}

fn sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rec = EpisodeRecorder::new(
        &RecordingConfig::default(),
        dir.path().join("recordings"),
        None,
        None,
    )
    .expect("recorder");
    rec.begin_episode(0, layout(), start());
    for s in episode_steps(11) {
        rec.record_step(s).expect("record_step");
    }
    let ep = rec
        .finish_episode(metadata(1), EpisodeMetrics::default())
        .expect("finish");
    let mem = ep.approx_bytes();
    let lz4 = encode_recording("periodic", &ep, true)
        .expect("encode")
        .len();
    let raw = encode_recording("periodic", &ep, false)
        .expect("encode")
        .len();
    let per = |b: usize| b as f64 / STEPS as f64;
    eprintln!(
        "  [sizes] 500-step L1-shaped episode: memory {mem} B ({:.1} B/step; 10-slot queue {:.0} KB); \
         file lz4 {lz4} B ({:.1} B/step), file none {raw} B ({:.1} B/step)",
        per(mem),
        10.0 * mem as f64 / 1000.0,
        per(lz4),
        per(raw)
    );
}

fn benches(c: &mut Criterion) {
    sizes();
    let off = RecordingConfig::default(); // recording.enabled: false
    let fast = Duration::from_secs(5);
    // Writer-bound cases: keep the episode count (and so the wall time) modest.
    let slow = Duration::from_secs(2);
    bench_case(c, "no_callback_no_disk", off.clone(), false, false, fast);
    bench_case(c, "callback_no_disk", off.clone(), false, true, fast);
    // The default (docs/decisions.md#metrics-without-recordings): metrics.db rows for every
    // episode, no files.
    bench_case(c, "callback_db_rows", off, true, true, slow);
    let mut every = RecordingConfig {
        enabled: true,
        compression: Compression::Lz4,
        ..RecordingConfig::default()
    };
    every.criteria.periodic.enabled = true;
    every.criteria.periodic.interval = 1;
    bench_case(c, "callback_db_file_every_episode", every, true, true, slow);
}

criterion_group!(recorder, benches);
criterion_main!(recorder);
