//! The recurrent agent driven like the runner drives it, on a tiny POMDP pack built from
//! `configs/L2_partial_observability`: layout agreement with the env, masks, the carried
//! acting state, interrupted episodes, determinism and exact checkpoint resume.

use std::path::{Path, PathBuf};
use townlet_agent::recurrent::STATE_LEN;
use townlet_agent::{Checkpoint, CheckpointHeader, DqnAgent, StepFeedback};
use townlet_config::{DeviceKind, NetworkType, Pack, load_pack};
use townlet_env::{Env, SpatialKind};

const MAX_STEPS: u32 = 16;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pack(name: &str) -> Pack {
    load_pack(&repo().join("configs").join(name)).expect("shipped pack loads")
}

/// L2 with short episodes, a small buffer (so eviction happens), small batches, burn-in
/// and frequent target syncs, so a few episodes exercise every part of the update.
fn tiny_pack() -> Pack {
    let mut p = pack("L2_partial_observability");
    p.curriculum.max_steps_per_episode = MAX_STEPS;
    p.population.replay_buffer_capacity = 40;
    p.training.batch_size = 2;
    p.training.sequence_length = 4;
    p.training.burn_in = 2;
    p.training.target_update_frequency = 3;
    p.training.train_frequency = 2;
    p.training.epsilon_decay = 0.8;
    p.exploration.rnd_batch_size = 8;
    p
}

fn agent(p: &Pack, env: &Env, seed: u64) -> DqnAgent {
    DqnAgent::new(p, env.obs_dim(), env.action_dim(), DeviceKind::Flex, seed).expect("agent")
}

/// Everything a run produces that must be reproducible, step by step.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Trace {
    actions: Vec<u32>,
    q_bits: Vec<u32>,
    losses: Vec<u32>,
    lengths: Vec<u32>,
}

/// The runner's episode loop (runner.rs), one agent.
pub(crate) fn play(
    agent: &mut DqnAgent,
    env: &mut Env,
    episodes: std::ops::Range<u64>,
    t: &mut Trace,
) {
    let a_dim = env.action_dim();
    for e in episodes {
        env.reset();
        agent.begin_episode();
        let mut len = 0;
        while len < MAX_STEPS {
            let obs = env.observations().to_vec();
            let masks = env.action_masks().to_vec();
            let dec = agent.act(&obs, &masks);
            assert_eq!(dec.len(), 1);
            let a = dec[0].action;
            assert!(masks[a as usize], "masked action {a} chosen");
            assert_eq!(dec[0].q_values.len(), a_dim);
            t.actions.push(a);
            t.q_bits.extend(dec[0].q_values.iter().map(|v| v.to_bits()));
            let res = env.step(&[a], agent.multiplier()).expect("step");
            let (rewards, dones) = (res.rewards.clone(), res.dones.clone());
            len += 1;
            let stats = agent.observe(
                StepFeedback {
                    obs: &obs,
                    next_obs: env.observations(),
                    rewards: &rewards,
                    terminal: &dones,
                    active: &[true],
                },
                &dec,
            );
            if let Some(s) = stats {
                assert!(s.loss.is_finite() && s.grad_norm.is_finite());
                t.losses.push(s.loss.to_bits());
            }
            if dones[0] {
                break;
            }
        }
        t.lengths.push(len);
        agent.end_episode(e, &[len], false);
    }
}

/// The tiny pack, its env and an agent trained on it for three episodes, all with `seed`.
fn trained(seed: u64) -> (Pack, Env, DqnAgent) {
    let p = tiny_pack();
    let mut env = Env::new(&p, 1, seed).expect("env");
    let mut a = agent(&p, &env, seed);
    play(&mut a, &mut env, 0..3, &mut Trace::default());
    (p, env, a)
}

#[test]
fn cut_points_agree_with_the_env_layout() {
    for name in ["L2_partial_observability", "L3_temporal_mechanics"] {
        let p = pack(name);
        assert_eq!(p.population.network_type, NetworkType::Recurrent);
        let env = Env::new(&p, 1, 0).expect("env");
        let a = agent(&p, &env, 0);
        assert_eq!(a.network_type(), "recurrent");
        let s = a.observation_slices().expect("recurrent slices");
        let l = env.observation_layout();
        assert_eq!(
            l.spatial_kind,
            SpatialKind::Window { side: s.side },
            "{name}"
        );
        assert_eq!(l.spatial, s.window, "{name}");
        assert_eq!(l.position, s.position, "{name}");
        assert_eq!(l.meters, s.meters, "{name}");
        assert_eq!(l.affordance, s.affordance, "{name}");
        assert_eq!(l.temporal, s.temporal, "{name}");
        assert_eq!(l.dim, s.dim, "{name}");
    }
}

#[test]
fn recurrent_needs_a_partially_observable_pack_with_a_matching_layout() {
    let mut p = pack("L1_full_observability");
    p.population.network_type = NetworkType::Recurrent;
    let env = Env::new(&p, 1, 0).expect("env");
    let err = DqnAgent::new(&p, env.obs_dim(), env.action_dim(), DeviceKind::Flex, 0);
    assert!(err.is_err());
    let p = tiny_pack();
    let env = Env::new(&p, 1, 0).expect("env");
    let err = DqnAgent::new(&p, env.obs_dim() + 1, env.action_dim(), DeviceKind::Flex, 0);
    assert!(err.is_err());
}

#[test]
fn masks_are_respected_when_exploring_and_when_greedy() {
    let p = tiny_pack();
    let env = Env::new(&p, 1, 0).expect("env");
    let mut a = agent(&p, &env, 4);
    let obs = env.observations().to_vec();
    let n = env.action_dim();
    a.begin_episode();
    for k in 0..120usize {
        // a different non-empty mask each call: bit pattern of k + 1
        let mask: Vec<bool> = (0..n).map(|i| ((k + 1) >> (i % 7)) & 1 == 1).collect();
        if !mask.iter().any(|&m| m) {
            continue;
        }
        let eps = if k % 2 == 0 { 1.0 } else { 0.0 };
        let d = a.act_with(&obs, &mask, eps, false);
        assert!(
            mask[d[0].action as usize],
            "call {k}: action {}",
            d[0].action
        );
        assert_eq!(d[0].explored, eps == 1.0);
    }
}

fn assert_state_is_zero(a: &DqnAgent) {
    let state = a.recurrent_state().expect("state");
    assert!(state.iter().all(|&v| v == 0.0));
}

#[test]
fn acting_state_is_carried_through_updates_and_reset_only_at_episode_start() {
    // Fill the buffer so updates happen during the next episode.
    let (_, mut env, mut a) = trained(1);
    assert!(a.updates() > 0);

    env.reset();
    a.begin_episode();
    assert_state_is_zero(&a);
    let obs = env.observations().to_vec();
    let masks = env.action_masks().to_vec();
    let first = a.act_with(&obs, &masks, 0.0, false);
    let s1 = a.recurrent_state().expect("state").to_vec();
    assert!(s1.iter().any(|&v| v != 0.0), "acting must move the state");
    // The same observation again gives other Q-values: the state carries memory.
    let again = a.act_with(&obs, &masks, 0.0, false);
    assert_ne!(first[0].q_values, again[0].q_values);
    a.begin_episode();

    let mut saw_update = false;
    for _ in 0..MAX_STEPS {
        let obs = env.observations().to_vec();
        let masks = env.action_masks().to_vec();
        let dec = a.act(&obs, &masks);
        let before = a.recurrent_state().expect("state").to_vec();
        let res = env.step(&[dec[0].action], 1.0).expect("step");
        let (r, d) = (res.rewards.clone(), res.dones.clone());
        let stats = a.observe(
            StepFeedback {
                obs: &obs,
                next_obs: env.observations(),
                rewards: &r,
                terminal: &d,
                active: &[true],
            },
            &dec,
        );
        // Training never touches the acting state (the original zeroed it here).
        assert_eq!(before, a.recurrent_state().expect("state"));
        saw_update |= stats.is_some();
        if d[0] {
            break;
        }
    }
    assert!(saw_update, "an update happened mid-episode");
    a.begin_episode();
    assert_state_is_zero(&a);
}

#[test]
fn an_interrupted_episode_is_stored_as_truncated_and_skips_the_schedules() {
    let p = tiny_pack();
    let mut env = Env::new(&p, 1, 2).expect("env");
    let mut a = agent(&p, &env, 2);
    env.reset();
    a.begin_episode();
    for _ in 0..3 {
        let obs = env.observations().to_vec();
        let masks = env.action_masks().to_vec();
        let dec = a.act(&obs, &masks);
        let res = env.step(&[dec[0].action], 1.0).expect("step");
        let r = res.rewards.clone();
        a.observe(
            StepFeedback {
                obs: &obs,
                next_obs: env.observations(),
                rewards: &r,
                terminal: &[false],
                active: &[true],
            },
            &dec,
        );
    }
    let eps = a.epsilon();
    a.end_episode(0, &[3], true);
    assert_eq!(a.epsilon(), eps);
    let buf = a.sequence_buffer().expect("sequence buffer");
    assert_eq!(buf.num_episodes(), 1);
    let ep = buf.episodes().next().expect("episode");
    assert_eq!(ep.len(), 3);
    assert!(!ep.terminal);
    assert_eq!(ep.obs.len(), 4 * env.obs_dim());
    // the last stored observation is the final obs' (what the env shows now)
    assert_eq!(&ep.obs[3 * env.obs_dim()..], env.observations());
    // step 0 starts from zeros; later steps from the state acting produced
    assert!(ep.state[..STATE_LEN].iter().all(|&v| v == 0.0));
    assert!(ep.state[STATE_LEN..2 * STATE_LEN].iter().any(|&v| v != 0.0));
    assert!(a.buffer().is_none());
}

fn train_run(seed: u64, episodes: u64) -> (Trace, u64) {
    let p = tiny_pack();
    let mut env = Env::new(&p, 1, seed).expect("env");
    let mut a = agent(&p, &env, seed);
    let mut t = Trace::default();
    play(&mut a, &mut env, 0..episodes, &mut t);
    (t, a.weights_hash())
}

#[test]
fn same_seed_gives_identical_actions_and_weights() {
    let (a, ha) = train_run(7, 5);
    let (b, hb) = train_run(7, 5);
    assert!(!a.losses.is_empty(), "the run trained");
    assert_eq!(a, b);
    assert_eq!(ha, hb);
    let (c, hc) = train_run(8, 5);
    assert_ne!(ha, hc);
    assert_ne!(a.actions, c.actions);
}

pub(crate) fn header(a: &DqnAgent, episode: u64) -> CheckpointHeader {
    CheckpointHeader {
        crate_version: "test".into(),
        created_at_ms: 0,
        config_hash: "h".into(),
        pack_name: "tiny".into(),
        // the runner always writes "simple"; save_into must correct it
        network_type: "simple".into(),
        obs_dim: a.obs_dim(),
        action_dim: a.action_dim(),
        backend: a.device_name().into(),
        episode,
        next_episode: episode + 1,
        total_steps: a.total_steps(),
        stage: a.stage(),
        epsilon: a.epsilon(),
        intrinsic_weight: a.intrinsic_weight(),
        seed: 11,
    }
}

#[test]
fn resume_from_a_checkpoint_is_exact() {
    let k = 4;
    let p = tiny_pack();
    let seed = 11;

    let mut env = Env::new(&p, 1, seed).expect("env");
    let mut full = agent(&p, &env, seed);
    let mut t_full = Trace::default();
    play(&mut full, &mut env, 0..2 * k, &mut t_full);
    assert!(full.updates() > 3, "syncs and updates happened");
    let buf = full.sequence_buffer().expect("buffer");
    assert!(buf.num_episodes() < 2 * k as usize, "eviction happened");

    let mut env = Env::new(&p, 1, seed).expect("env");
    let mut first = agent(&p, &env, seed);
    let mut t_split = Trace::default();
    play(&mut first, &mut env, 0..k, &mut t_split);
    let mut ckpt = Checkpoint::new(header(&first, k - 1));
    first.save_into(&mut ckpt).expect("save");
    assert_eq!(ckpt.header.network_type, "recurrent");
    // std only (no tempfile dev-dependency: it would change burn's feature set).
    let dir = std::env::temp_dir().join(format!("townlet-rec-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("c.ckpt");
    ckpt.write(&path).expect("write");
    drop(first);
    let ckpt = Checkpoint::read(&path).expect("read");
    let _ = std::fs::remove_dir_all(&dir);

    // A fresh agent built with another seed: everything must come from the checkpoint.
    let mut resumed = agent(&p, &env, 999);
    resumed
        .check_compatible(&ckpt.header, "tiny")
        .expect("compatible");
    resumed.load_from(&ckpt).expect("load");
    play(&mut resumed, &mut env, k..2 * k, &mut t_split);

    assert_eq!(t_full, t_split);
    assert_eq!(full.weights_hash(), resumed.weights_hash());
    assert_eq!(full.updates(), resumed.updates());
    assert_eq!(full.sequence_buffer(), resumed.sequence_buffer());

    // A feed-forward agent refuses the recurrent checkpoint.
    let mut mlp_pack = tiny_pack();
    mlp_pack.population.network_type = NetworkType::Simple;
    let mlp = agent(&mlp_pack, &env, 0);
    assert!(mlp.check_compatible(&ckpt.header, "tiny").is_err());
}

#[test]
fn policy_only_load_acts_like_the_trained_agent() {
    let (p, mut env, mut trained) = trained(5);
    let mut ckpt = Checkpoint::new(header(&trained, 2));
    trained.save_into(&mut ckpt).expect("save");
    let mut inf = agent(&p, &env, 77);
    inf.check_compatible(&ckpt.header, "tiny")
        .expect("compatible");
    inf.load_policy_from(&ckpt).expect("load policy");
    // Greedy, step by step with the carried state, both give the same Q-values.
    env.reset();
    trained.begin_episode();
    inf.begin_episode();
    for _ in 0..6 {
        let obs = env.observations().to_vec();
        let masks = env.action_masks().to_vec();
        let x = trained.act_with(&obs, &masks, 0.0, false);
        let y = inf.act_with(&obs, &masks, 0.0, false);
        assert_eq!(x[0].q_values, y[0].q_values);
        env.step(&[x[0].action], 1.0).expect("step");
    }
}
