//! Agent-steps per second of `Env::step`, observation and mask building included.
//!
//! The policy is a random valid action: a table of random numbers precomputed once, and
//! per agent-step the k-th allowed action of the current mask.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng};
use std::hint::black_box;
use townlet_env::{ACTION_WAIT, Env};

#[path = "../tests/it/common.rs"]
mod common;

struct Driver {
    env: Env,
    random: Vec<u32>,
    cursor: usize,
    actions: Vec<u32>,
}

impl Driver {
    fn new(pack: &str, agents: usize) -> Self {
        let mut env = Env::new(&common::pack(pack), agents, 1).expect("env");
        env.reset();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let random = (0..1 << 16).map(|_| rng.random::<u32>()).collect();
        Driver {
            env,
            random,
            cursor: 0,
            actions: vec![0; agents],
        }
    }

    #[inline]
    fn step(&mut self) {
        let ad = self.env.action_dim();
        let masks = self.env.action_masks();
        for (a, slot) in self.actions.iter_mut().enumerate() {
            let mask = &masks[a * ad..(a + 1) * ad];
            let allowed = mask.iter().filter(|&&b| b).count();
            *slot = if allowed == 0 {
                ACTION_WAIT
            } else {
                let k = self.random[self.cursor] as usize % allowed;
                self.cursor = (self.cursor + 1) & (self.random.len() - 1);
                mask.iter()
                    .enumerate()
                    .filter(|(_, b)| **b)
                    .nth(k)
                    .map_or(ACTION_WAIT, |(i, _)| i as u32)
            };
        }
        let all_done = {
            let r = self.env.step(&self.actions, 1.0).expect("step");
            black_box(&r.rewards);
            r.dones.iter().all(|&d| d)
        };
        black_box(self.env.observations());
        if all_done {
            self.env.reset();
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("env_step");
    for (pack, agents, label) in [
        (common::L1, 1, "L1"),
        (common::L1, 64, "L1"),
        (common::L2, 1, "L2"),
        (common::L2, 64, "L2"),
    ] {
        let mut d = Driver::new(pack, agents);
        group.throughput(Throughput::Elements(agents as u64));
        group.bench_function(BenchmarkId::new(label, format!("{agents}_agents")), |b| {
            b.iter(|| d.step())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
