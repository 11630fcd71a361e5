//! Encode cost per episode (issue 5 item 8): the `episode` JSON (made once per episode
//! and shared by every client that gets it) and the `episode_summary` pushed to all.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::hint::black_box;
use townlet_inference::encode::{episode_json, summary_json};
use townlet_protocol::Source;
use townlet_recording::*;

/// An L1-shaped episode: 8 meters, 8 actions, Q-values and masks on every step.
fn episode(n: u32) -> LiveEpisode {
    let mut steps = StepColumns::with_capacity(8, 8, n as usize);
    for i in 0..n {
        let f = |k: u32| ((i * 31 + k * 7) % 1000) as f32 / 1000.0;
        steps
            .push(&RecordedStep {
                step: i + 1,
                position: ((i % 8) as i32, ((i / 8) % 8) as i32),
                meters: (0..8).map(f).collect(),
                action: (i % 8) as u8,
                reward: f(3),
                intrinsic_reward: f(5),
                done: i + 1 == n,
                q_values: Some((0..8).map(|k| f(k + 10) - 0.5).collect()),
                epsilon: Some(0.25),
                action_mask: Some((0..8).map(|a| a != 4).collect()),
                explored: i % 4 == 0,
                time_of_day: None,
                interaction_progress: None,
            })
            .unwrap();
    }
    let mut visits = BTreeMap::new();
    visits.insert("Bed".to_string(), 3);
    LiveEpisode {
        episode_id: 1234,
        agent_id: 0,
        metadata: EpisodeMetadata {
            survival_steps: n,
            affordance_visits: visits,
            ..Default::default()
        },
        layout: (0..14)
            .map(|i| AffordancePosition {
                name: format!("Affordance{i}"),
                x: i % 8,
                y: i / 8,
            })
            .collect(),
        start: StartState {
            position: (1, 1),
            meters: vec![1.0; 8],
            time_of_day: None,
        },
        steps,
        finished_at: 0,
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    for n in [100u32, 500] {
        let ep = episode(n);
        let bytes = episode_json(&ep, Source::Training, None).len();
        eprintln!("episode of {n} steps: {bytes} bytes of JSON");
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_function(format!("episode_json_{n}_steps"), |b| {
            b.iter(|| black_box(episode_json(black_box(&ep), Source::Training, None)))
        });
    }
    let ep = episode(500);
    eprintln!(
        "episode_summary: {} bytes",
        summary_json(&ep, Source::Training).len()
    );
    g.throughput(Throughput::Elements(1));
    g.bench_function("summary_json", |b| {
        b.iter(|| black_box(summary_json(black_box(&ep), Source::Training)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
