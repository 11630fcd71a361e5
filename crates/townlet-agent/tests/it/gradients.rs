//! Hand-written gradients (docs/training.md#hand-written-gradients) against burn's autodiff,
//! the fused Adam against burn's Adam, and resuming across the two gradient paths.

use crate::recurrent_agent::{Trace, header, play};
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::{HuberLossConfig, MseLoss, Reduction};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::store::ModuleRecord;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use townlet_agent::agent::INIT_LOCK;
use townlet_agent::agent::{ActDecision, StepFeedback};
use townlet_agent::flat_adam::FlatAdam;
use townlet_agent::learner::{DqnLearner, Learner, LearnerNet, LearnerSettings, new_adam};
use townlet_agent::manual;
use townlet_agent::manual_rnn;
use townlet_agent::qnet::SimpleQNetwork;
use townlet_agent::recurrent::{ObsSlices, RecurrentQNetwork, STATE_LEN};
use townlet_agent::replay::Batch;
use townlet_agent::rnd::RndNet;
use townlet_agent::sequence::SeqBatch;
use townlet_agent::{Checkpoint, DqnAgent};
use townlet_config::{DeviceKind, GradientMode, LossKind, Pack, load_pack};
use townlet_env::Env;

const D: usize = 13;
const A: usize = 5;
const B: usize = 24;

fn settings(loss: LossKind, double_dqn: bool, gradients: GradientMode) -> LearnerSettings {
    LearnerSettings {
        gamma: 0.97,
        lr: 3e-3,
        max_grad_norm: 0.5,
        loss,
        huber_delta: 0.7,
        double_dqn,
        gradients,
    }
}

fn random(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.random::<f32>() - 0.5) * scale)
        .collect()
}

fn batch(seed: u64) -> Batch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Batch {
        obs: random(&mut rng, B * D, 4.0),
        action: (0..B).map(|_| rng.random_range(0..A as i64)).collect(),
        reward: random(&mut rng, B, 6.0),
        next_obs: random(&mut rng, B * D, 4.0),
        terminal: (0..B).map(|i| f32::from(u8::from(i % 5 == 0))).collect(),
        bootstrap: None,
    }
}

/// An online net whose parameters all come from `seed` (not burn's process-wide generator,
/// which parallel tests share): weights and biases uniform in ±0.3, LayerNorm γ in 1 ± 0.3,
/// β in ±0.3 (not burn's γ 1, β 0, so their gradients are tested in general position).
fn net(seed: u64, device: &Device) -> SimpleQNetwork {
    // Building a net draws burn's process-wide generator: never while an agent is built.
    let _g = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let base = Device::flex();
    let n = SimpleQNetwork::new(D, A, &base);
    let slots = manual::parameters(&n).1;
    let total: usize = slots.iter().map(|s| s.len).sum();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut values = random(&mut rng, total, 0.6);
    // LayerNorm gammas (slots 2 and 6) around 1.
    for s in [&slots[2], &slots[6]] {
        for v in &mut values[s.offset..s.offset + s.len] {
            *v += 1.0;
        }
    }
    let flat = Tensor::<1>::from_data(TensorData::new(values, [total]), &base);
    let n = manual::with_flat_parameters(n, flat, &slots);
    // Through a record, as a checkpoint loads weights (trainable on an autodiff device).
    let bytes = n.into_record().into_bytes().expect("record");
    SimpleQNetwork::new(D, A, device)
        .load_record(ModuleRecord::from_bytes(bytes).expect("record reads back"))
}

fn learner(s: LearnerSettings, seed: u64) -> DqnLearner {
    let base = Device::flex();
    let ad = base.clone().autodiff();
    let online = net(seed, &ad);
    let mut l = DqnLearner::new(online, s, 1e-8, D, A, base, ad);
    // A target that differs from the online net, so double DQN and the bootstrap matter.
    l.set_target(net(seed + 100, &Device::flex()));
    l
}

/// The gradient of every parameter of `m` in visit order, flattened.
fn in_visit_order<M: Module>(m: &M, grads: &GradientsParams) -> Vec<Vec<f32>> {
    struct V<'a>(&'a GradientsParams, Vec<Vec<f32>>);
    impl ModuleVisitor for V<'_> {
        fn visit_float<const K: usize>(&mut self, p: &Param<Tensor<K>>) {
            let g = self
                .0
                .get::<K>(p.id)
                .expect("every parameter has a gradient");
            self.1.push(g.into_data().try_to_vec::<f32>().expect("f32"));
        }
    }
    let mut v = V(grads, Vec::new());
    m.visit(&mut v);
    v.1
}

fn to_vec(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32")
}

/// `max |got − want| / max |want|` ≤ 1e-4 for each parameter.
fn assert_close(what: &str, got: &[Vec<f32>], want: &[Vec<f32>]) {
    assert_eq!(got.len(), want.len(), "{what}: parameter count");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), w.len(), "{what}: parameter {k} size");
        let scale = w.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(scale > 1e-6, "{what}: parameter {k} has a zero gradient");
        let err = g
            .iter()
            .zip(w)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            err / scale <= 1e-4,
            "{what}: parameter {k}: max error {err} against max {scale} (relative {})",
            err / scale
        );
    }
}

/// burn's autodiff gradients of the DQN loss for `batch`.
fn autodiff_gradients<N: LearnerNet>(
    l: &Learner<N>,
    batch: &N::Batch,
    s: &LearnerSettings,
) -> Vec<Vec<f32>> {
    let t = N::td_terms(l, batch);
    let base = Device::flex();
    let shape = t.q_sa.dims();
    let r = Tensor::<2>::from_data(TensorData::new(t.reward.to_vec(), shape), &base);
    let term = Tensor::<2>::from_data(TensorData::new(t.terminal.to_vec(), shape), &base);
    let y = (r + t.v_next.mul(term.neg().add_scalar(1.0)).mul_scalar(s.gamma)).autodiff();
    let loss = match s.loss {
        LossKind::Mse => MseLoss::new().forward(t.q_sa, y, Reduction::Mean),
        LossKind::Huber => {
            HuberLossConfig::new(s.huber_delta)
                .init()
                .forward(t.q_sa, y, Reduction::Mean)
        }
    };
    let grads = GradientsParams::from_grads(loss.backward(), l.online());
    in_visit_order(l.online(), &grads)
}

#[test]
fn hand_written_q_gradients_match_autodiff() {
    for (loss, ddqn) in [
        (LossKind::Mse, false),
        (LossKind::Huber, false),
        (LossKind::Mse, true),
        (LossKind::Huber, true),
    ] {
        for seed in [1, 2] {
            let what = format!("{loss:?}, double {ddqn}, seed {seed}");
            let auto = learner(settings(loss, ddqn, GradientMode::Autodiff), seed);
            let hand = learner(settings(loss, ddqn, GradientMode::Manual), seed);
            assert!(hand.is_manual() && !auto.is_manual());
            let b = batch(seed + 10);
            let want = autodiff_gradients(&auto, &b, auto.settings());
            let got: Vec<Vec<f32>> = manual::dqn_gradients(&hand, &b)
                .grads
                .into_iter()
                .map(to_vec)
                .collect();
            assert_close(&what, &got, &want);
        }
    }
}

/// The L2 layout (5×5 window, 8 meters, 14 affordances) with 6 actions.
const RA: usize = 6;

/// A recurrent net with every parameter from `seed`, as [`net`] does for the MLP.
fn rnn(seed: u64, device: &Device) -> RecurrentQNetwork {
    let _g = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let base = Device::flex();
    let slices = ObsSlices::new(5, 8, 14);
    let n = RecurrentQNetwork::new(&slices, RA, &base);
    let slots = manual::parameters(&n).1;
    let total: usize = slots.iter().map(|s| s.len).sum();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut values = random(&mut rng, total, 0.2);
    // LayerNorm gammas (vision, head, head 2) around 1.
    for k in [6, 32, 36] {
        let s = &slots[k];
        for v in &mut values[s.offset..s.offset + s.len] {
            *v += 1.0;
        }
    }
    let flat = Tensor::<1>::from_data(TensorData::new(values, [total]), &base);
    let n = manual::with_flat_parameters(n, flat, &slots);
    let bytes = n.into_record().into_bytes().expect("record");
    RecurrentQNetwork::new(&slices, RA, device)
        .load_record(ModuleRecord::from_bytes(bytes).expect("record reads back"))
}

fn rnn_learner(s: LearnerSettings, seed: u64) -> Learner<RecurrentQNetwork> {
    let base = Device::flex();
    let ad = base.clone().autodiff();
    let d = ObsSlices::new(5, 8, 14).dim;
    let mut l = Learner::new(rnn(seed, &ad), s, 1e-8, d, RA, base, ad);
    l.set_target(rnn(seed + 100, &Device::flex()));
    l
}

/// Windows of random observations (the window cells 0/1 as the env draws them), random
/// start states, a burn-in of up to 2 steps and some terminal steps.
fn seq_batch(seed: u64, b: usize, len: usize) -> SeqBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = ObsSlices::new(5, 8, 14).dim;
    let obs: Vec<f32> = (0..b * (len + 1) * d)
        .map(|i| {
            if i % d < 25 {
                f32::from(u8::from(rng.random::<f32>() < 0.3))
            } else {
                rng.random::<f32>()
            }
        })
        .collect();
    let burn = 2;
    SeqBatch {
        batch: b,
        seq_len: len,
        burn,
        burn_obs: random(&mut rng, b * burn * d, 1.0),
        burn_mask: (0..b * burn)
            .map(|i| f32::from(u8::from(i % 3 != 0)))
            .collect(),
        start_state: random(&mut rng, b * STATE_LEN, 1.0),
        obs,
        action: (0..b * len)
            .map(|_| rng.random_range(0..RA as i64))
            .collect(),
        reward: random(&mut rng, b * len, 4.0),
        terminal: (0..b * len)
            .map(|i| f32::from(u8::from(i % 7 == 6)))
            .collect(),
        windows: vec![(0, 0); b],
    }
}

#[test]
fn hand_written_recurrent_gradients_match_autodiff() {
    for (loss, ddqn, seed) in [(LossKind::Mse, false, 1), (LossKind::Huber, true, 2)] {
        let what = format!("recurrent {loss:?}, double {ddqn}, seed {seed}");
        let auto = rnn_learner(settings(loss, ddqn, GradientMode::Autodiff), seed);
        let hand = rnn_learner(settings(loss, ddqn, GradientMode::Manual), seed);
        assert!(hand.is_manual() && !auto.is_manual());
        let b = seq_batch(seed + 10, 5, 4);
        let want = autodiff_gradients(&auto, &b, auto.settings());
        let g = manual_rnn::seq_gradients(&hand, &b);
        assert_eq!(g.grads.len(), manual_rnn::PARAM_TENSORS);
        let got: Vec<Vec<f32>> = g.grads.into_iter().map(to_vec).collect();
        assert_close(&what, &got, &want);
    }
}

/// The recurrent fast path cuts each batch in two halves that run side by side on a
/// two-thread pool: the weights after a few updates are bit-identical with one thread and
/// with two (and the same-seed and resume tests in `recurrent_agent` run this path).
#[test]
fn recurrent_updates_are_bit_identical_with_one_or_two_threads() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let mut l = rnn_learner(settings(LossKind::Huber, true, GradientMode::Manual), 3);
            let losses: Vec<u32> = (0..3)
                .map(|k| l.update(&seq_batch(20 + k, 6, 4)).loss.to_bits())
                .collect();
            let weights: Vec<Vec<u32>> = manual::parameters(l.online())
                .0
                .into_iter()
                .map(|t| to_vec(t).into_iter().map(f32::to_bits).collect())
                .collect();
            (losses, weights)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    // and the updates did change the weights
    let fresh = rnn_learner(settings(LossKind::Huber, true, GradientMode::Manual), 3);
    let w0: Vec<u32> = to_vec(manual::parameters(fresh.online()).0.remove(20))
        .into_iter()
        .map(f32::to_bits)
        .collect();
    assert_ne!(one.1[20], w0);
}

#[test]
fn hand_written_rnd_gradients_match_autodiff() {
    let base = Device::flex();
    let ad = base.clone().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (fixed, predictor) = {
        let _g = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let fixed = RndNet::new(D, 6, &base);
        let predictor = RndNet::new(D, 6, &ad);
        let _ = fixed.clone().into_record();
        let _ = predictor.clone().into_record();
        (fixed, predictor)
    };
    let x = random(&mut rng, B * D, 3.0);
    let x_plain = Tensor::<2>::from_data(TensorData::new(x.clone(), [B, D]), &base);
    let target = fixed.forward(x_plain.clone());
    let loss = (predictor.forward(x_plain.clone().autodiff()) - target.clone().autodiff())
        .square()
        .mean();
    let grads = GradientsParams::from_grads(loss.backward(), &predictor);
    let want = in_visit_order(&predictor, &grads);
    let plain = predictor.valid();
    let (got, _) = manual::rnd_gradients(&plain, x_plain, target);
    let got: Vec<Vec<f32>> = got.into_iter().map(to_vec).collect();
    assert_close("rnd", &got, &want);
}

#[test]
fn fused_adam_matches_burns_adam() {
    let base = Device::flex();
    let ad = base.clone().autodiff();
    let net_ad = net(3, &ad);
    let (_, slots) = manual::parameters(&net_ad.valid());
    let mut burn_optim = new_adam(1e-8);
    let mut flat = FlatAdam::new(1e-8);
    let mut burn_net = net_ad;
    let mut flat_params = Tensor::cat(manual::parameters(&burn_net.valid()).0, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let total: usize = slots.iter().map(|s| s.len).sum();
    for step in 0..5 {
        let g = random(&mut rng, total, 2.0);
        let g_flat = Tensor::<1>::from_data(TensorData::new(g.clone(), [total]), &base);
        let grads = grads_of(&g, &slots, &base);
        burn_net = burn_optim.step(1e-3, burn_net, grads);
        flat_params = flat.step(1e-3, flat_params, g_flat);
        let want = to_vec(Tensor::cat(manual::parameters(&burn_net.valid()).0, 0));
        let got = to_vec(flat_params.clone());
        assert_eq!(got, want, "step {step}: fused Adam differs from burn's");
    }
    // The fused state written as burn's record continues exactly like burn's own.
    let bytes = flat.to_record_bytes(&slots).expect("record");
    let record = burn::optim::OptimizerRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(
        bytes.clone(),
    ))
    .expect("burn reads the record");
    let mut reloaded = new_adam(1e-8).load_record(record);
    // And burn's record read back by the fused Adam.
    let burn_bytes = burn_optim.to_record().into_bytes().expect("bytes").to_vec();
    let mut from_burn =
        FlatAdam::from_record_bytes(1e-8, burn_bytes, &slots, &base).expect("fused reads burn's");
    assert_eq!(from_burn.time(), 5);
    let g = random(&mut rng, total, 2.0);
    let g_flat = Tensor::<1>::from_data(TensorData::new(g.clone(), [total]), &base);
    let a = reloaded.step(1e-3, burn_net.clone(), grads_of(&g, &slots, &base));
    let b = burn_optim.step(1e-3, burn_net, grads_of(&g, &slots, &base));
    let c = from_burn.step(1e-3, flat_params.clone(), g_flat.clone());
    let d = flat.step(1e-3, flat_params, g_flat);
    let a = to_vec(Tensor::cat(manual::parameters(&a.valid()).0, 0));
    let b = to_vec(Tensor::cat(manual::parameters(&b.valid()).0, 0));
    assert_eq!(a, b, "burn's Adam from the fused record");
    assert_eq!(
        to_vec(c),
        to_vec(d.clone()),
        "fused Adam from burn's record"
    );
    assert_eq!(a, to_vec(d), "the two paths agree after the round trips");
}

/// burn's gradients of the module whose parameters are `slots`, from one flat vector.
fn grads_of(g: &[f32], slots: &[manual::Slot], base: &Device) -> GradientsParams {
    let mut grads = GradientsParams::new();
    for s in slots {
        let piece = Tensor::<1>::from_data(
            TensorData::new(g[s.offset..s.offset + s.len].to_vec(), [s.len]),
            base,
        );
        match s.shape.len() {
            1 => grads.register::<1>(s.id, piece),
            _ => grads.register::<2>(s.id, piece.reshape([s.shape[0], s.shape[1]])),
        }
    }
    grads
}

/// A tiny L0 MLP run on the given gradient path: short episodes, a small buffer, small
/// batches and frequent target syncs.
fn mlp_pack(gradients: GradientMode) -> Pack {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/L0_0_minimal");
    let mut p = load_pack(&dir).expect("shipped pack loads");
    p.curriculum.max_steps_per_episode = 16;
    p.population.replay_buffer_capacity = 40;
    p.training.batch_size = 4;
    p.training.target_update_frequency = 3;
    p.training.train_frequency = 2;
    p.exploration.rnd_batch_size = 8;
    p.training.gradients = gradients;
    p
}

fn mlp_agent(p: &Pack, env: &Env, seed: u64) -> DqnAgent {
    DqnAgent::new(p, env.obs_dim(), env.action_dim(), DeviceKind::Flex, seed).expect("agent")
}

/// A checkpoint written on the hand-written path, read on the autodiff path and written
/// again, then resumed on the hand-written path continues bit-identically: weights, Adam's
/// moments and step count (Q-net and RND predictor) survive both conversions exactly.
#[test]
fn checkpoints_resume_exactly_across_the_gradient_paths() {
    let (k, seed) = (4, 5);
    let manual_pack = mlp_pack(GradientMode::Manual);
    let auto_pack = mlp_pack(GradientMode::Autodiff);

    let mut env = Env::new(&manual_pack, 1, seed).expect("env");
    let mut full = mlp_agent(&manual_pack, &env, seed);
    let mut t_full = Trace::default();
    play(&mut full, &mut env, 0..2 * k, &mut t_full);
    assert!(
        full.updates() > 3 && full.rnd_updates() > 1,
        "both nets trained"
    );

    let mut env = Env::new(&manual_pack, 1, seed).expect("env");
    let mut first = mlp_agent(&manual_pack, &env, seed);
    let mut t_split = Trace::default();
    play(&mut first, &mut env, 0..k, &mut t_split);
    let mut ckpt = Checkpoint::new(header(&first, k - 1));
    first.save_into(&mut ckpt).expect("save");

    let mut via_autodiff = mlp_agent(&auto_pack, &env, 998);
    via_autodiff
        .load_from(&ckpt)
        .expect("the autodiff path reads it");
    let mut ckpt2 = Checkpoint::new(header(&via_autodiff, k - 1));
    via_autodiff.save_into(&mut ckpt2).expect("save again");

    let mut resumed = mlp_agent(&manual_pack, &env, 999);
    resumed.load_from(&ckpt2).expect("load");
    play(&mut resumed, &mut env, k..2 * k, &mut t_split);
    assert_eq!(t_full, t_split);
    assert_eq!(full.weights_hash(), resumed.weights_hash());
}

/// Fed the same transitions, an agent whose updates overlap acting
/// (docs/training.md#overlapped-updates) ends every episode with exactly the weights and
/// loss summary of one that updates in line: the learner thread makes the same updates on
/// the same batches, one call later; only the policy it acts on lags.
#[test]
fn overlapped_updates_match_in_line_updates_on_the_same_transitions() {
    let on_pack = mlp_pack(GradientMode::Manual);
    assert!(on_pack.training.overlap_updates, "overlap is the default");
    let mut off_pack = on_pack.clone();
    off_pack.training.overlap_updates = false;
    let env = Env::new(&on_pack, 1, 3).expect("env");
    let (d, a) = (env.obs_dim(), env.action_dim());
    let mut on = mlp_agent(&on_pack, &env, 3);
    let mut off = mlp_agent(&off_pack, &env, 3);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut seen_in_flight = false;
    for ep in 0..6u64 {
        on.begin_episode();
        off.begin_episode();
        for t in 0..16 {
            let obs = random(&mut rng, d, 2.0);
            let next = random(&mut rng, d, 2.0);
            let dec = vec![ActDecision {
                action: rng.random_range(0..a as u32),
                explored: true,
                q_values: vec![0.0; a],
                novelty: rng.random::<f32>(),
            }];
            let reward = [rng.random::<f32>() - 0.5];
            let terminal = [t == 15 && ep % 2 == 0];
            let fb = StepFeedback {
                obs: &obs,
                next_obs: &next,
                rewards: &reward,
                terminal: &terminal,
                active: &[true],
            };
            on.observe(fb, &dec);
            off.observe(fb, &dec);
            seen_in_flight |= on.update_in_flight();
            assert!(on.updates() <= off.updates() && off.updates() <= on.updates() + 1);
        }
        on.end_episode(ep, &[16], false);
        off.end_episode(ep, &[16], false);
        assert!(
            !on.update_in_flight(),
            "an episode end takes the update back"
        );
        assert_eq!(on.updates(), off.updates());
        assert_eq!(on.weights_hash(), off.weights_hash(), "episode {ep}");
        assert_eq!(on.take_loss_summary(), off.take_loss_summary());
    }
    assert!(seen_in_flight, "updates ran on the learner thread");
    assert!(off.updates() > 20);
}
