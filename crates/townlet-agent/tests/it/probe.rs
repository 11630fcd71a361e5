//! Network snapshots (docs/usage.md#asking-the-agent): a snapshot taken before an episode,
//! probed with the episode's observations, gives the Q-values the agent acted on (to 1e-4),
//! for the MLP and for the recurrent network (its hidden state rebuilt from the history).

use std::path::{Path, PathBuf};
use townlet_agent::{DqnAgent, StepFeedback};
use townlet_config::{DeviceKind, Pack, load_pack};
use townlet_env::Env;

fn pack(name: &str) -> Pack {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../configs")
        .join(name);
    let mut p = load_pack(&dir).expect("shipped pack loads");
    p.curriculum.max_steps_per_episode = 24;
    p.training.batch_size = 4;
    p.training.train_frequency = 2;
    p.training.sequence_length = 4;
    p.training.burn_in = 0;
    p.population.replay_buffer_capacity = 64;
    p
}

/// Plays one training episode (acting, storing, learning) and returns nothing: it only
/// moves the weights away from their initial values.
fn train_episode(agent: &mut DqnAgent, env: &mut Env, e: u64) {
    env.reset();
    agent.begin_episode();
    for _ in 0..24 {
        let obs = env.observations().to_vec();
        let masks = env.action_masks().to_vec();
        let dec = agent.act(&obs, &masks);
        let r = env.step(&[dec[0].action], 1.0).expect("step").clone();
        let next = env.observations().to_vec();
        let fb = StepFeedback {
            obs: &obs,
            next_obs: &next,
            rewards: &r.rewards,
            terminal: &r.dones,
            active: &[true],
        };
        agent.observe(fb, &dec);
        if r.dones[0] {
            break;
        }
    }
    agent.end_episode(e, &[24], false);
}

fn check_exact(name: &str) {
    let p = pack(name);
    let mut env = Env::new(&p, 1, 3).expect("env");
    let mut agent =
        DqnAgent::new(&p, env.obs_dim(), env.action_dim(), DeviceKind::Flex, 9).expect("agent");
    for e in 0..3 {
        train_episode(&mut agent, &mut env, e);
    }
    let snap = agent.snapshot(2);
    assert_eq!(snap.after_episode, 2);
    // An episode played by exactly this network (no learning while it is played).
    env.reset();
    agent.begin_episode();
    let d = env.obs_dim();
    let mut history: Vec<f32> = Vec::new();
    let mut worst = 0.0f32;
    for step in 0..24 {
        let obs = env.observations().to_vec();
        let masks = env.action_masks().to_vec();
        let dec = agent.act_with(&obs, &masks, 0.3, false);
        let probed = snap.probe(&history, &obs);
        assert_eq!(probed.len(), env.action_dim());
        for (a, b) in probed.iter().zip(&dec[0].q_values) {
            worst = worst.max((a - b).abs());
        }
        // The same row inside a bigger batch gives the same values.
        let mut batch = vec![0.25f32; 3 * d];
        batch[d..2 * d].copy_from_slice(&obs);
        let in_batch = snap.probe(&history, &batch);
        for (a, b) in in_batch[env.action_dim()..2 * env.action_dim()]
            .iter()
            .zip(&probed)
        {
            assert!(
                (a - b).abs() < 1e-4,
                "{name} step {step}: batched {a} vs {b}"
            );
        }
        history.extend_from_slice(&obs);
        if env.step(&[dec[0].action], 1.0).expect("step").dones[0] {
            break;
        }
    }
    assert!(
        worst < 1e-4,
        "{name}: probe differs from the played Q-values by {worst}"
    );
}

#[test]
fn the_mlp_snapshot_reproduces_the_played_q_values() {
    check_exact("L1_full_observability");
}

#[test]
fn the_recurrent_snapshot_rebuilds_the_hidden_state_and_reproduces_the_q_values() {
    check_exact("L2_partial_observability");
}

#[test]
fn a_snapshot_does_not_follow_later_training() {
    let p = pack("L1_full_observability");
    let mut env = Env::new(&p, 1, 4).expect("env");
    let mut agent =
        DqnAgent::new(&p, env.obs_dim(), env.action_dim(), DeviceKind::Flex, 1).expect("agent");
    train_episode(&mut agent, &mut env, 0);
    let snap = agent.snapshot(0);
    let obs = env.observations().to_vec();
    let before = snap.probe(&[], &obs);
    for e in 1..4 {
        train_episode(&mut agent, &mut env, e);
    }
    assert_eq!(snap.probe(&[], &obs), before, "the snapshot is frozen");
    let now = agent.snapshot(3).probe(&[], &obs);
    assert_ne!(now, before, "training moved the live network");
}
