//! Cost of the learners, one call at a time: the feed-forward DQN update (issue 4 item 8:
//! batch 64, L1's 93 inputs, 8 actions) and the recurrent learner (issue 8 item 7: one
//! sequence update, batch 16 × sequence 8, L2 observation layout; one acting step with the
//! carried state). Both updates run autodiff and hand-written alternately, three rounds
//! (issue 18); `RAYON_NUM_THREADS` sets the compute threads. Build with the workspace's
//! feature set (a `-p` selection rebuilds burn):
//! `cargo build --release --workspace --examples && target/release/examples/learner_bench`
//! (a plain timing loop: criterion as a dev-dependency would change burn's feature set).

use rand::RngExt;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;
use townlet_agent::DqnAgent;
use townlet_agent::drqn::RecurrentLearner;
use townlet_agent::learner::{DqnLearner, LearnerSettings};
use townlet_agent::qnet::SimpleQNetwork;
use townlet_agent::recurrent::{ObsSlices, RecurrentQNetwork, STATE_LEN};
use townlet_agent::replay::{Batch, ReplayBuffer};
use townlet_agent::rng::{STREAM_REPLAY, stream};
use townlet_agent::sequence::{EpisodeBuilder, SeqBatch, SequenceBuffer};
use townlet_config::{DeviceKind, GradientMode, LossKind, load_pack};

use burn::prelude::*;

const ACTIONS: usize = 8;

fn settings_with(gradients: GradientMode) -> LearnerSettings {
    LearnerSettings {
        gamma: 0.99,
        lr: 1e-4,
        max_grad_norm: 10.0,
        loss: LossKind::Mse,
        huber_delta: 1.0,
        double_dqn: false,
        gradients,
    }
}

fn learner(gradients: GradientMode) -> RecurrentLearner {
    let base = Device::flex();
    let ad = base.clone().autodiff();
    base.seed(1);
    let s = ObsSlices::new(5, 8, 14);
    let d = s.dim;
    let net = RecurrentQNetwork::new(&s, ACTIONS, &ad);
    RecurrentLearner::new(net, settings_with(gradients), 1e-8, d, ACTIONS, base, ad)
}

/// The L1 learner (93 inputs) and a full 10,000-transition buffer of random data.
fn dqn(gradients: GradientMode) -> (DqnLearner, ReplayBuffer) {
    const D: usize = 93;
    let base = Device::flex();
    let ad = base.clone().autodiff();
    base.seed(1);
    let net = SimpleQNetwork::new(D, ACTIONS, &ad);
    let l = DqnLearner::new(net, settings_with(gradients), 1e-8, D, ACTIONS, base, ad);
    let mut rng = stream(4, STREAM_REPLAY);
    let mut buf = ReplayBuffer::new(10_000, D);
    for i in 0..10_000 {
        let o: Vec<f32> = (0..D).map(|_| rng.random::<f32>()).collect();
        let n: Vec<f32> = (0..D).map(|_| rng.random::<f32>()).collect();
        let a = rng.random_range(0..ACTIONS as u32);
        buf.push(&o, a, rng.random::<f32>() - 0.5, 0.1, &n, i % 300 == 299);
    }
    (l, buf)
}

/// 10,000 transitions of synthetic 100-step episodes.
fn buffer(d: usize) -> SequenceBuffer {
    let mut rng = stream(2, STREAM_REPLAY);
    let mut buf = SequenceBuffer::new(10_000, d, 8);
    for _ in 0..100 {
        let mut b = EpisodeBuilder::default();
        for t in 0..100 {
            let o: Vec<f32> = (0..d).map(|_| rng.random::<f32>()).collect();
            let st: Vec<f32> = (0..STATE_LEN).map(|_| rng.random::<f32>() - 0.5).collect();
            b.push(
                &o,
                rng.random_range(0..ACTIONS as u32),
                0.01,
                0.1,
                &st,
                &o,
                t == 99,
            );
        }
        buf.push(b.finish().expect("episode"));
    }
    buf
}

/// Run `f` for `warm` then `n` iterations; print and return mean µs per call.
fn time(name: &str, warm: usize, n: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warm {
        f();
    }
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("{name:40} {us:10.1} µs/call  ({n} calls)");
    us
}

fn main() {
    // Autodiff and hand-written updates alternately, three rounds each.
    for round in 1..=3 {
        for (name, g) in [
            ("autodiff", GradientMode::Autodiff),
            ("manual", GradientMode::Manual),
        ] {
            let (mut dq, dbuf) = dqn(g);
            let mut rng = stream(5, STREAM_REPLAY);
            let mut batch = Batch::default();
            time(
                &format!("dqn_update_b64 (L1) {name} #{round}"),
                200,
                3000,
                || {
                    dbuf.sample_into(64, 0.1, &mut rng, &mut batch);
                    black_box(dq.update(&batch));
                },
            );
        }
    }
    // Where the hand-written update's time goes: the gradients alone (forward, TD in
    // Rust, backward), without clipping, the fused Adam and the parameter write-back.
    let (dq, dbuf) = dqn(GradientMode::Manual);
    let mut rng = stream(5, STREAM_REPLAY);
    let mut batch = Batch::default();
    time("dqn_gradients_b64 (L1) manual only", 200, 3000, || {
        dbuf.sample_into(64, 0.1, &mut rng, &mut batch);
        black_box(townlet_agent::manual::dqn_gradients(&dq, &batch).stats);
    });
    let o = vec![0.3f32; 93];
    time("dqn_q_values (1 x 93)", 200, 5000, || {
        black_box(dq.q_values(black_box(&o)));
    });

    let d = ObsSlices::new(5, 8, 14).dim;
    let buf = buffer(d);
    let mut batch = SeqBatch::default();
    // The sequence update, autodiff and hand-written alternately, three rounds each.
    for round in 1..=3 {
        for (name, g) in [
            ("autodiff", GradientMode::Autodiff),
            ("manual", GradientMode::Manual),
        ] {
            let mut l = learner(g);
            let mut rng = stream(3, STREAM_REPLAY);
            time(
                &format!("recurrent_update_b16_l8 {name} #{round}"),
                5,
                60,
                || {
                    buf.sample_into(16, 0, 0.1, &mut rng, &mut batch);
                    black_box(l.update(&batch));
                },
            );
        }
    }
    let mut l = learner(GradientMode::Manual);
    let mut rng = stream(3, STREAM_REPLAY);
    time("recurrent_gradients_b16_l8 manual only", 5, 60, || {
        buf.sample_into(16, 0, 0.1, &mut rng, &mut batch);
        black_box(townlet_agent::manual_rnn::seq_gradients(&l, &batch).stats);
    });
    time("recurrent_update_b16_l8_burn_in_4", 5, 50, || {
        buf.sample_into(16, 4, 0.1, &mut rng, &mut batch);
        black_box(l.update(&batch));
    });
    let o = vec![0.3f32; d];
    let mut state = vec![0.0f32; STATE_LEN];
    time("recurrent_act_step", 50, 2000, || {
        let (q, next) = l.act_step(black_box(&o), &state);
        state = next;
        black_box(q);
    });

    // The agent's whole acting stage on L2: Q step, RND novelty, masked ε-greedy.
    let pack_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/L2_partial_observability");
    let pack = load_pack(&pack_dir).expect("L2 pack");
    let env = townlet_env::Env::new(&pack, 1, 0).expect("env");
    let mut agent =
        DqnAgent::new(&pack, env.obs_dim(), env.action_dim(), DeviceKind::Flex, 0).expect("agent");
    let obs = env.observations().to_vec();
    let masks = env.action_masks().to_vec();
    agent.begin_episode();
    time("recurrent_agent_act (L2)", 50, 2000, || {
        black_box(agent.act(&obs, &masks));
    });
}
