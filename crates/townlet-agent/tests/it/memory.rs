//! A toy task only memory can solve (issue 8 item 6): a cue (±1) is visible at step 0
//! only; at step K the agent must pick the action that matches it (reward 1, else 0,
//! terminal). Steps in between look identical for both cues, so a feed-forward net sees
//! the same input at step K whichever cue was shown.
//!
//! The recurrent net, trained with the sequence update (state carried through the
//! window), must answer both cues correctly with its acting state carried; evaluated with
//! the state reset at each step, and the MLP at all, can be right for one cue only.

use rand::RngExt;
use townlet_agent::agent::INIT_LOCK;
use townlet_agent::drqn::RecurrentLearner;
use townlet_agent::learner::{DqnLearner, LearnerSettings};
use townlet_agent::qnet::SimpleQNetwork;
use townlet_agent::recurrent::{ObsSlices, RecurrentQNetwork, STATE_LEN};
use townlet_agent::replay::{Batch, ReplayBuffer};
use townlet_agent::rng::{STREAM_ACTION, STREAM_REPLAY, stream};
use townlet_agent::sequence::{EpisodeBuilder, SeqBatch, SequenceBuffer};
use townlet_config::{GradientMode, LossKind};

use burn::prelude::*;

/// Answer step: the cue is K steps in the past.
const K: usize = 4;
const ACTIONS: usize = 2;
const UPDATES: usize = 400;

fn slices() -> ObsSlices {
    // 1×1 window, 1 meter (the cue), 1 affordance (+ none), 4 temporal → 10 values.
    ObsSlices::new(1, 1, 1)
}

/// Observation at step `t` of an episode with cue `c` (±1): the cue only at t = 0, and a
/// clock both nets can read, so knowing *when* to answer is not the hard part.
fn obs(t: usize, c: f32) -> Vec<f32> {
    let s = slices();
    let mut o = vec![0.0; s.dim];
    if t == 0 {
        o[s.meters.start] = c;
    }
    o[s.temporal.start] = t as f32 / K as f32;
    o
}

fn correct(c: f32) -> usize {
    usize::from(c > 0.0)
}

fn settings() -> LearnerSettings {
    LearnerSettings {
        gamma: 0.9,
        lr: 1e-3,
        max_grad_norm: 10.0,
        loss: LossKind::Mse,
        huber_delta: 1.0,
        double_dqn: false,
        gradients: GradientMode::Manual,
    }
}

/// Random-action episodes: (cue, actions).
fn episodes(n: usize) -> Vec<(f32, Vec<u32>)> {
    let mut rng = stream(21, STREAM_ACTION);
    (0..n)
        .map(|_| {
            let c = if rng.random::<bool>() { 1.0 } else { -1.0 };
            let acts = (0..=K)
                .map(|_| rng.random_range(0..ACTIONS as u32))
                .collect();
            (c, acts)
        })
        .collect()
}

fn reward(t: usize, c: f32, a: u32) -> f32 {
    if t == K && a as usize == correct(c) {
        1.0
    } else {
        0.0
    }
}

fn devices() -> (Device, Device) {
    let base = Device::flex();
    let ad = base.clone().autodiff();
    (base, ad)
}

fn argmax(q: &[f32]) -> usize {
    if q[1] > q[0] { 1 } else { 0 }
}

#[test]
fn recurrent_net_remembers_the_cue_and_the_mlp_cannot() {
    let s = slices();
    let d = s.dim;
    let (base, ad) = devices();
    let data = episodes(256);

    // ---- recurrent: whole episodes in the sequence buffer, L = K + 1 ----
    let mut seq = SequenceBuffer::new(100_000, d, K + 1);
    for (c, acts) in &data {
        let mut b = EpisodeBuilder::default();
        for (t, &a) in acts.iter().enumerate() {
            b.push(
                &obs(t, *c),
                a,
                reward(t, *c, a),
                0.0,
                &[0.0; STATE_LEN],
                &obs(t + 1, *c),
                t == K,
            );
        }
        seq.push(b.finish().expect("episode"));
    }
    let net = {
        let _g = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        base.seed(5);
        let net = RecurrentQNetwork::new(&s, ACTIONS, &ad);
        let _ = net.clone().into_record();
        net
    };
    let mut rec =
        RecurrentLearner::new(net, settings(), 1e-8, d, ACTIONS, base.clone(), ad.clone());
    let mut rng = stream(3, STREAM_REPLAY);
    let mut batch = SeqBatch::default();
    for u in 1..=UPDATES {
        seq.sample_into(16, 0, 0.0, &mut rng, &mut batch);
        let st = rec.update(&batch);
        assert!(st.loss.is_finite());
        if u % 20 == 0 {
            rec.sync_target();
        }
    }

    // ---- MLP: the same transitions in the uniform buffer ----
    let mut flat = ReplayBuffer::new(100_000, d);
    for (c, acts) in &data {
        for (t, &a) in acts.iter().enumerate() {
            flat.push(
                &obs(t, *c),
                a,
                reward(t, *c, a),
                0.0,
                &obs(t + 1, *c),
                t == K,
            );
        }
    }
    let mlp = {
        let _g = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        base.seed(5);
        let net = SimpleQNetwork::new(d, ACTIONS, &ad);
        let _ = net.clone().into_record();
        net
    };
    let mut mlp = DqnLearner::new(mlp, settings(), 1e-8, d, ACTIONS, base.clone(), ad.clone());
    let mut mb = Batch::default();
    for u in 1..=UPDATES {
        flat.sample_into(64, 0.0, &mut rng, &mut mb);
        mlp.update(&mb);
        if u % 20 == 0 {
            mlp.sync_target();
        }
    }

    // ---- evaluation at the answer step, for both cues ----
    let mut carried_right = 0;
    let mut reset_right = 0;
    let mut mlp_right = 0;
    let mut mlp_q = vec![];
    for c in [1.0f32, -1.0] {
        let mut state = vec![0.0; STATE_LEN];
        let mut q_carried = vec![];
        for t in 0..=K {
            let (q, next) = rec.act_step(&obs(t, c), &state);
            state = next;
            q_carried = q;
        }
        let margin = q_carried[correct(c)] - q_carried[1 - correct(c)];
        assert!(
            margin > 0.3,
            "cue {c}: carried-state Q {q_carried:?} does not prefer the right answer"
        );
        carried_right += usize::from(argmax(&q_carried) == correct(c));
        // the same net with the state reset to zeros before the answer step
        let (q_reset, _) = rec.act_step(&obs(K, c), &[0.0; STATE_LEN]);
        reset_right += usize::from(argmax(&q_reset) == correct(c));
        let q = mlp.q_values(&obs(K, c));
        mlp_right += usize::from(argmax(&q) == correct(c));
        mlp_q.push(q);
    }
    assert_eq!(carried_right, 2, "memory answers both cues");
    assert_eq!(
        reset_right, 1,
        "without the carried state only one cue can be right"
    );
    assert_eq!(mlp_right, 1, "the MLP sees the same input for both cues");
    // The MLP learned the average value of the answer step (½ for either action).
    for q in &mlp_q {
        for &v in q {
            assert!((v - 0.5).abs() < 0.25, "MLP answer-step Q {q:?}");
        }
    }
}
