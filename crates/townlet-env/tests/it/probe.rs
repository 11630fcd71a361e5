//! Probe observations (docs/usage.md#asking-the-agent): a probed state gives exactly the
//! observation and mask the env gives for that state, on every cell.

use crate::common::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use townlet_env::{Env, ProbeState};

fn state_of(env: &Env) -> ProbeState {
    ProbeState {
        position: env.positions()[0],
        meters: env.meters(0).to_vec(),
        time_of_day: env.time_of_day(),
        progress_ticks: env.progress(0),
        step_count: env.step_count(0),
    }
}

#[test]
fn a_probed_state_reproduces_the_envs_observation_and_mask_on_every_pack() {
    for name in ALL_PACKS {
        let p = pack(name);
        let mut env = Env::new(&p, 1, 11).expect("env");
        env.reset();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for step in 0..60 {
            let s = state_of(&env);
            let (obs, mask) = env.observe_state(&s).expect("valid state");
            assert_eq!(obs, env.observation(0), "{name} step {step}: observation");
            assert_eq!(mask, env.action_mask(0), "{name} step {step}: mask");
            let batch = env.probe_batch(&s).expect("batch");
            let side = env.grid_size() as usize;
            assert_eq!(batch.cells.len(), side * side);
            let i = batch
                .cells
                .iter()
                .position(|c| *c == s.position)
                .expect("the agent's cell is probed");
            let d = env.obs_dim();
            let a = env.action_dim();
            assert_eq!(&batch.obs[i * d..(i + 1) * d], env.observation(0), "{name}");
            assert_eq!(
                &batch.masks[i * a..(i + 1) * a],
                env.action_mask(0),
                "{name}"
            );
            let allowed: Vec<u32> = (0..a as u32)
                .filter(|&k| env.action_mask(0)[k as usize])
                .collect();
            if allowed.is_empty() {
                break;
            }
            let act = allowed[rng.random_range(0..allowed.len())];
            if env.step(&[act], 1.0).expect("step").dones[0] {
                break;
            }
        }
    }
}

#[test]
fn a_bad_probe_state_is_an_error_naming_the_value() {
    let env = Env::new(&pack(L1), 1, 0).expect("env");
    let mut s = state_of(&env);
    s.meters[0] = 1.5;
    let err = env.observe_state(&s).expect_err("meter out of range");
    assert!(err.to_string().contains("1.5"), "{err}");
    let mut s = state_of(&env);
    s.position = [99, 0];
    assert!(env.probe_batch(&s).is_err());
    let mut s = state_of(&env);
    s.meters.pop();
    assert!(env.observe_state(&s).is_err());
    let mut s = state_of(&env);
    s.time_of_day = 24;
    assert!(env.observe_state(&s).is_err());
}

#[test]
fn cells_away_from_the_agent_differ_only_where_the_agent_differs() {
    let env = Env::new(&pack(L2), 1, 5).expect("env");
    let s = state_of(&env);
    let batch = env.probe_batch(&s).expect("batch");
    let layout = env.observation_layout();
    let d = env.obs_dim();
    for (i, _) in batch.cells.iter().enumerate() {
        let row = &batch.obs[i * d..(i + 1) * d];
        assert_eq!(&row[layout.meters.clone()], &s.meters[..]);
    }
    assert_eq!(batch.masks.len(), batch.cells.len() * env.action_dim());
}
