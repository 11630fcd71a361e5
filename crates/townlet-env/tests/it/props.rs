//! Property tests: meters stay in [0, 1]; a living agent always has an allowed action.

use crate::common::*;
use proptest::prelude::*;
use townlet_env::Env;

fn check_run(pack_name: &str, seed: u64, agents: usize, actions: &[u32], mult: f32) {
    let mut env = Env::new(&pack(pack_name), agents, seed).unwrap();
    env.reset();
    let mut batch = vec![0u32; agents];
    for (t, &a) in actions.iter().enumerate() {
        for (i, slot) in batch.iter_mut().enumerate() {
            // Any id, masked or not: step does not enforce the mask.
            *slot = (a + i as u32 * 3) % 8;
        }
        let r = env.step(&batch, mult).unwrap().clone();
        for i in 0..agents {
            let m = env.meters(i);
            assert!(
                m.iter().all(|v| (0.0..=1.0).contains(v)),
                "step {t} agent {i}: meters {m:?}"
            );
            assert!(r.rewards[i].is_finite() && r.rewards[i] >= 0.0);
            let alive = m[0] > 0.0 && m[6] > 0.0;
            let mask = env.action_mask(i);
            if alive {
                assert!(mask.iter().any(|&b| b), "living agent {i} has no action");
            } else {
                assert!(mask.iter().all(|&b| !b), "dead agent {i} has an action");
            }
            let obs = env.observation(i);
            assert!(obs.iter().all(|v| v.is_finite()));
        }
        if r.dones.iter().all(|&d| d) {
            env.reset();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn meters_in_range_and_living_agents_can_act(
        pack_idx in 0usize..5,
        seed in any::<u64>(),
        agents in 1usize..4,
        mult in 0.05f32..3.0,
        actions in proptest::collection::vec(0u32..8, 1..400),
    ) {
        check_run(ALL_PACKS[pack_idx], seed, agents, &actions, mult);
    }

    #[test]
    fn random_hooked_states_keep_invariants(
        seed in any::<u64>(),
        meters in proptest::array::uniform8(0.0f32..=1.0),
        x in 0i32..8,
        y in 0i32..8,
        hour in 0u32..24,
        actions in proptest::collection::vec(0u32..8, 1..60),
    ) {
        let mut env = Env::new(&pack(L3), 1, seed).unwrap();
        env.reset();
        env.set_meters(0, &meters).unwrap();
        env.set_position(0, [x, y]).unwrap();
        env.set_time_of_day(hour).unwrap();
        for a in actions {
            env.step(&[a], 1.0).unwrap();
            let m = env.meters(0);
            prop_assert!(m.iter().all(|v| (0.0..=1.0).contains(v)));
            if m[0] > 0.0 && m[6] > 0.0 {
                prop_assert!(env.action_mask(0).iter().any(|&b| b));
            }
        }
    }
}
