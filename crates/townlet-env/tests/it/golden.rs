//! Every golden case of docs/world.md#golden-cases, meters to 1e-6.

use crate::common::*;
use townlet_env::{EndReason, Env};

const TOL: f32 = 1e-6;

fn mask_bits(env: &Env) -> Vec<u8> {
    env.action_mask(0).iter().map(|&b| u8::from(b)).collect()
}

fn step1(env: &mut Env, action: u32, mult: f32) -> (f32, bool, Option<EndReason>, Option<usize>) {
    let r = env.step(&[action], mult).expect("step");
    (
        r.rewards[0],
        r.dones[0],
        r.end_reasons[0],
        r.successful_interactions[0],
    )
}

#[test]
fn g1_instant_mode_multiplier_1() {
    let mut env = env_with(L1, &layout_r_prime(), [0, 0], &[]);
    assert_eq!(mask_bits(&env), [0, 1, 0, 1, 0, 1, 1, 1]);
    let rows: [(u32, [i32; 2], [f32; 8], f32); 5] = [
        (
            WAIT,
            [0, 0],
            [0.994, 0.997, 0.996, 0.5, 0.999, 0.994, 0.999495, 0.998],
            0.993498,
        ),
        (
            RIGHT,
            [1, 0],
            [0.984, 0.991, 0.988, 0.5, 0.998, 0.988, 0.998985, 0.996],
            0.983001,
        ),
        (
            INTERACT,
            [1, 0],
            [0.995, 0.988, 0.984, 0.45, 0.997, 0.982, 0.999485, 0.994],
            0.994488,
        ),
        (
            REST,
            [1, 0],
            [0.992, 0.985, 0.980, 0.45, 0.999, 0.976, 0.998965, 0.992],
            0.990973,
        ),
        (
            MEDITATE,
            [1, 0],
            [0.986, 0.982, 0.976, 0.45, 0.999, 0.970, 0.998440, 0.990],
            0.984462,
        ),
    ];
    for (i, (action, pos, meters, reward)) in rows.iter().enumerate() {
        let (r, done, end, inter) = step1(&mut env, *action, 1.0);
        let what = format!("G1 step {}", i + 1);
        assert_eq!(env.positions()[0], *pos, "{what} position");
        assert_close(env.meters(0), meters, TOL, &what);
        assert_near(r, *reward, &what);
        assert!(!done && end.is_none(), "{what} not done");
        if i == 1 {
            assert_eq!(
                mask_bits(&env),
                [0, 1, 1, 1, 1, 1, 1, 1],
                "mask after step 2"
            );
        }
        if i == 2 {
            assert_eq!(inter, Some(0), "Bed interaction after step 3");
        } else {
            assert_eq!(inter, None, "{what} no interaction");
        }
    }
    let obs = env.observation(0);
    assert_close(
        &obs[obs.len() - 4..],
        &[0.0, 1.0, 0.0, 0.005],
        TOL,
        "G1 tail",
    );
}

#[test]
fn g2_multiplier_0_2() {
    let mut env = env_with(L1, &layout_r_prime(), [0, 0], &[]);
    let rows: [(u32, [f32; 8], f32); 5] = [
        (
            WAIT,
            [0.998, 0.9994, 0.9992, 0.5, 0.9998, 0.9988, 0.999499, 0.9996],
            0.997500,
        ),
        (
            RIGHT,
            [0.992, 0.9958, 0.9944, 0.5, 0.9996, 0.9976, 0.998997, 0.9992],
            0.991005,
        ),
        (
            INTERACT,
            [
                0.999, 0.9952, 0.9936, 0.45, 0.9994, 0.9964, 0.999497, 0.9988,
            ],
            0.998497,
        ),
        (
            REST,
            [
                0.999, 0.9946, 0.9928, 0.45, 0.9998, 0.9952, 0.998993, 0.9984,
            ],
            0.997994,
        ),
        (
            MEDITATE,
            [
                0.997, 0.9940, 0.9920, 0.45, 0.9998, 0.9940, 0.998488, 0.9980,
            ],
            0.995493,
        ),
    ];
    for (i, (action, meters, reward)) in rows.iter().enumerate() {
        let (r, ..) = step1(&mut env, *action, 0.2);
        let what = format!("G2 step {}", i + 1);
        assert_close(env.meters(0), meters, TOL, &what);
        assert_near(r, *reward, &what);
    }
}

#[test]
fn g3_multi_tick_bed() {
    let mut env = env_with(L3, &layout_r(), [0, 7], &[("energy", 0.3)]);
    assert_eq!(env.time_of_day(), 0);
    let rows: [(u32, f32, f32, f32, u32, f32); 6] = [
        (1, 0.370, 0.49, 0.999495, 1, 0.369813),
        (2, 0.440, 0.48, 0.998985, 2, 0.439553),
        (3, 0.510, 0.47, 0.998470, 3, 0.509220),
        (4, 0.580, 0.46, 0.997950, 4, 0.578811),
        (0, 0.775, 0.45, 0.999475, 5, 0.774593),
        (1, 0.845, 0.44, 0.998945, 6, 0.844109),
    ];
    for (i, (progress, energy, money, health, tod, reward)) in rows.iter().enumerate() {
        let (r, done, _, inter) = step1(&mut env, INTERACT, 1.0);
        let what = format!("G3 step {}", i + 1);
        let m = env.meters(0);
        assert_eq!(env.progress(0), *progress, "{what} progress");
        assert_near(m[0], *energy, &format!("{what} energy"));
        assert_near(m[3], *money, &format!("{what} money"));
        assert_near(m[6], *health, &format!("{what} health"));
        assert_eq!(env.time_of_day(), *tod, "{what} time");
        assert_near(r, *reward, &what);
        assert!(!done);
        assert_eq!(inter, Some(0), "{what}: every tick counts");
    }
    assert_close(
        env.meters(0),
        &[0.845, 0.982, 0.976, 0.44, 0.994, 0.964, 0.998945, 0.988],
        TOL,
        "G3 meters after step 6",
    );
    let obs = env.observation(0);
    let tail = &obs[obs.len() - 4..];
    assert_close(tail, &[1.0, 0.0, 0.1, 0.006], TOL, "G3 tail");
    // cos(π/2) in f64 is 6.1e-17, not 0 (docs/world.md#observations).
    assert!(tail[1] > 0.0 && tail[1] < 1e-16, "cos at t=6: {}", tail[1]);
    assert_eq!(env.required_ticks_of_current(0), Some(5));
    let cur = env.current_interaction(0).expect("cycle in progress");
    assert_eq!(
        (cur.affordance, cur.ticks_done, cur.required_ticks),
        (0, 1, 5)
    );
}

#[test]
fn o1_full_grid_observation() {
    let env = env_with(L1, &layout_r(), [2, 7], &[]);
    let obs = env.observation(0);
    assert_eq!(obs.len(), 93);
    let mut grid = [0.0f32; 64];
    for i in (48..=53).chain([56, 57]).chain(59..=63) {
        grid[i] = 1.0;
    }
    grid[58] = 2.0;
    assert_eq!(&obs[0..64], &grid[..]);
    assert_close(&obs[64..66], &[0.2857143, 1.0], TOL, "O1 position");
    assert_eq!(&obs[66..74], &[1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0]);
    let mut onehot = [0.0f32; 15];
    onehot[2] = 1.0;
    assert_eq!(&obs[74..89], &onehot[..]);
    assert_eq!(obs[76], 1.0);
    assert_eq!(&obs[89..93], &[0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn o2_pomdp_window_on_bar() {
    let env = env_with(L2, &layout_r(), [1, 6], &[]);
    let obs = env.observation(0);
    assert_eq!(obs.len(), 54);
    let rows: [[f32; 5]; 5] = [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 1.0, 1.0, 1.0],
        [0.0, 1.0, 1.0, 1.0, 1.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
    ];
    for (r, row) in rows.iter().enumerate() {
        assert_eq!(&obs[r * 5..r * 5 + 5], &row[..], "O2 window row {r}");
    }
    assert_eq!(obs[12], 1.0);
    assert_close(&obs[25..27], &[0.1428571, 0.8571429], TOL, "O2 position");
    assert_eq!(obs[44], 1.0);
    let ones: usize = obs[35..50].iter().filter(|&&v| v == 1.0).count();
    assert_eq!(ones, 1);
}

#[test]
fn o3_pomdp_window_empty() {
    let env = env_with(L2, &layout_r(), [6, 1], &[]);
    let obs = env.observation(0);
    assert!(obs[0..25].iter().all(|&v| v == 0.0));
    assert_eq!(obs[49], 1.0);
    assert!(obs[35..49].iter().all(|&v| v == 0.0));
}

#[test]
fn g4a_one_cascade_fires() {
    let mut env = env_with(L1, &layout_r(), [3, 3], &[("satiation", 0.2)]);
    let (r, done, ..) = step1(&mut env, WAIT, 1.0);
    assert_close(
        env.meters(0),
        &[0.992267, 0.997, 0.196, 0.5, 0.999, 0.994, 0.998108, 0.998],
        TOL,
        "G4a",
    );
    assert_near(r, 0.990390, "G4a reward");
    assert!(!done);
}

/// G4b stage by stage: the intermediate rows are observed by running the same step on a
/// copy of L1 whose later stages are switched off (no base depletion, no modulation, or
/// only the first cascade passes). The last row is the real pack.
#[test]
fn g4b_every_cascade_fires_stage_by_stage() {
    let start = [1.0, 0.2, 0.2, 0.5, 0.2, 0.1, 1.0, 0.5];
    let run = |pack: townlet_config::Pack| {
        let mut env = Env::new(&pack, 1, 0).unwrap();
        env.reset();
        env.set_layout(&layout_r()).unwrap();
        env.set_position(0, [3, 3]).unwrap();
        env.set_meters(0, &start).unwrap();
        let r = env.step(&[WAIT], 1.0).unwrap().rewards[0];
        (env.meters(0).to_vec(), r)
    };
    let full = pack(L1);
    // (row, keep base depletion, keep modulation, cascades kept, meters after)
    let rows: [(&str, bool, bool, usize, [f32; 8]); 6] = [
        (
            "6 WAIT cost",
            false,
            false,
            0,
            [0.999, 0.2, 0.2, 0.5, 0.2, 0.1, 1.0, 0.5],
        ),
        (
            "9 base depletion",
            true,
            false,
            0,
            [0.994, 0.197, 0.196, 0.5, 0.199, 0.094, 1.0, 0.498],
        ),
        (
            "10 modulation",
            true,
            true,
            0,
            [0.994, 0.197, 0.196, 0.5, 0.199, 0.094, 0.998245, 0.498],
        ),
        (
            "11a primary_to_pivotal",
            true,
            true,
            3,
            [0.990583, 0.197, 0.196, 0.5, 0.199, 0.094, 0.996858, 0.498],
        ),
        (
            "11b secondary_to_primary",
            true,
            true,
            7,
            [
                0.990583, 0.197, 0.195313, 0.5, 0.195223, 0.094, 0.996858, 0.497313,
            ],
        ),
        (
            "11c secondary_to_pivotal_weak",
            true,
            true,
            10,
            [
                0.989862, 0.197, 0.195313, 0.5, 0.195223, 0.094, 0.996687, 0.497313,
            ],
        ),
    ];
    for (what, depletion, modulation, n_cascades, want) in rows {
        let mut p = full.clone();
        if !depletion {
            p.meters.iter_mut().for_each(|m| m.base_depletion = 0.0);
        }
        if !modulation {
            p.modulations.clear();
        }
        p.cascades.truncate(n_cascades);
        let (got, _) = run(p);
        assert_close(&got, &want, TOL, what);
    }
    let (got, reward) = run(full);
    assert_close(&got, &rows[5].4, TOL, "G4b full step");
    assert_near(reward, 0.986583, "G4b reward");
}

#[test]
fn g5_death_by_energy() {
    let mut env = env_with(L1, &layout_r(), [3, 3], &[("energy", 0.004)]);
    let (r, done, end, _) = step1(&mut env, WAIT, 1.0);
    assert_close(
        env.meters(0),
        &[0.0, 0.997, 0.996, 0.5, 0.999, 0.994, 0.999495, 0.998],
        TOL,
        "G5",
    );
    assert_eq!(r, 0.0);
    assert!(done);
    assert_eq!(end, Some(EndReason::Died));
    assert_eq!(mask_bits(&env), [0; 8]);
}

#[test]
fn g5b_death_after_a_move() {
    let mut env = env_with(L1, &layout_r(), [3, 3], &[("energy", 0.006)]);
    let (r, done, ..) = step1(&mut env, RIGHT, 1.0);
    assert_eq!(env.positions()[0], [4, 3]);
    assert_eq!(env.meters(0)[0], 0.0);
    assert_eq!(r, 0.0);
    assert!(done);
}

#[test]
fn g5c_death_by_health_through_modulation() {
    let mut env = env_with(L1, &layout_r(), [3, 3], &[("health", 0.0004)]);
    let (r, done, end, _) = step1(&mut env, WAIT, 1.0);
    assert_close(
        env.meters(0),
        &[0.994, 0.997, 0.996, 0.5, 0.999, 0.994, 0.0, 0.998],
        TOL,
        "G5c",
    );
    assert_eq!(r, 0.0);
    assert!(done);
    assert_eq!(end, Some(EndReason::Died));
}

#[test]
fn g6a_bar_at_hour_20() {
    let mut env = env_with(L3, &layout_r(), [1, 6], &[]);
    env.set_time_of_day(20).unwrap();
    assert_eq!(mask_bits(&env), [1; 8]);
    let rows: [(u32, u32, [f32; 8], f32); 3] = [
        (
            20,
            1,
            [0.995, 0.997, 0.996, 0.425, 0.999, 0.994, 0.999495, 0.998],
            0.994498,
        ),
        (
            21,
            0,
            [0.790, 0.844, 0.996, 0.350, 0.999, 0.994, 0.948985, 0.996],
            0.749698,
        ),
        (
            22,
            1,
            [0.785, 0.841, 0.996, 0.275, 0.999, 0.994, 0.948470, 0.994],
            0.744549,
        ),
    ];
    for (i, (hour, progress, meters, reward)) in rows.iter().enumerate() {
        let what = format!("G6a step {}", i + 1);
        assert_eq!(env.time_of_day(), *hour, "{what} hour acted");
        let (r, _, _, inter) = step1(&mut env, INTERACT, 1.0);
        assert_eq!(env.progress(0), *progress, "{what} progress");
        assert_close(env.meters(0), meters, TOL, &what);
        assert_near(r, *reward, &what);
        assert_eq!(inter, Some(9));
    }
}

#[test]
fn g6b_doctor_closed_at_20_and_g6c_advisory_mask() {
    let mut env = env_with(L3, &layout_r(), [5, 7], &[]);
    env.set_time_of_day(20).unwrap();
    assert_eq!(mask_bits(&env), [1, 0, 1, 1, 0, 1, 1, 1]);
    // G6c: the mask is advisory.
    let (_, _, _, inter) = step1(&mut env, INTERACT, 1.0);
    assert_eq!(env.progress(0), 1);
    assert_close(
        env.meters(0),
        &[0.995, 0.997, 0.996, 0.46, 0.999, 0.994, 0.999495, 0.998],
        TOL,
        "G6c",
    );
    assert_eq!(inter, Some(5), "Doctor");
}

#[test]
fn g6_interact_mask_hour_table() {
    let hours = [0, 3, 4, 5, 7, 8, 17, 18, 20, 21, 22, 23];
    let table: [(&str, [i32; 2], [u8; 12]); 6] = [
        ("Bar", [1, 6], [1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]),
        ("Doctor", [5, 7], [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]),
        ("Job", [2, 6], [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]),
        ("Recreation", [0, 6], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0]),
        ("Gym", [4, 6], [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0]),
        ("Bed", [0, 7], [1; 12]),
    ];
    let mut env = env_with(L3, &layout_r(), [0, 0], &[]);
    for (name, cell, want) in table {
        env.set_position(0, cell).unwrap();
        for (h, w) in hours.iter().zip(want) {
            env.set_time_of_day(*h).unwrap();
            assert_eq!(
                u8::from(env.action_mask(0)[INTERACT as usize]),
                w,
                "{name} at hour {h}"
            );
        }
    }
    // Instant mode ignores hours: the Doctor is always usable in L1.
    let mut env = env_with(L1, &layout_r(), [5, 7], &[]);
    env.set_time_of_day(20).unwrap();
    assert!(env.action_mask(0)[INTERACT as usize]);
}

#[test]
fn g7_interact_energy_cost() {
    let mut env = env_with(L0_0, &[("Bed".into(), [1, 1])], [1, 1], &[("energy", 0.4)]);
    let (r, ..) = step1(&mut env, INTERACT, 1.0);
    assert_close(
        env.meters(0),
        &[0.8921, 0.997, 0.996, 0.2, 0.999, 0.994, 0.999495, 0.998],
        TOL,
        "G7",
    );
    assert_near(r, 0.891649, "G7 reward");
}

#[test]
fn g7b_money_on_an_f32_edge() {
    let mut env = env_with(L0_0, &[("Bed".into(), [1, 1])], [1, 1], &[]);
    let money = [0.20f32, 0.15, 0.10, 0.05, 7.450581e-9];
    for (i, want) in money.iter().enumerate() {
        let (_, _, _, inter) = step1(&mut env, INTERACT, 1.0);
        let what = format!("G7b step {}", i + 1);
        assert_eq!(inter, Some(0), "{what} succeeds");
        assert_near(env.meters(0)[0], 0.995, &what);
        assert_near(env.meters(0)[3], *want, &what);
    }
    let m = env.meters(0)[3];
    assert!(m > 0.0 && (m - 7.450581e-9).abs() < 1e-12, "money {m}");
    let (r, _, _, inter) = step1(&mut env, INTERACT, 1.0);
    assert_eq!(inter, None, "step 6 fails the money check");
    assert_close(
        env.meters(0),
        &[0.9871, 0.982, 0.976, 0.0, 0.994, 0.964, 0.998945, 0.988],
        TOL,
        "G7b after step 6",
    );
    assert_near(r, 0.986059, "G7b reward");
}

#[test]
fn g8_unaffordable_interact_does_nothing() {
    let mut env = env_with(L1, &layout_r(), [6, 7], &[("money", 0.10), ("health", 0.5)]);
    assert!(env.action_mask(0)[INTERACT as usize]);
    let (r, _, _, inter) = step1(&mut env, INTERACT, 1.0);
    assert_close(
        env.meters(0),
        &[0.995, 0.997, 0.996, 0.1, 0.999, 0.994, 0.499495, 0.998],
        TOL,
        "G8",
    );
    assert_near(r, 0.496998, "G8 reward");
    assert_eq!(inter, None);
}

#[test]
fn g9_progress_interrupted_by_a_move() {
    let mut env = env_with(L3, &layout_r(), [3, 7], &[]);
    env.set_time_of_day(9).unwrap();
    let rows: [(u32, u32, f32, f32, f32); 6] = [
        (INTERACT, 1, 0.49, 0.996, 0.994498),
        (WAIT, 1, 0.49, 0.992, 0.987996),
        (INTERACT, 2, 0.48, 0.996, 0.982495),
        (LEFT, 0, 0.48, 0.988, 0.972003),
        (RIGHT, 0, 0.48, 0.980, 0.961518),
        (INTERACT, 1, 0.47, 0.996, 0.956022),
    ];
    for (i, (action, progress, money, satiation, reward)) in rows.iter().enumerate() {
        let (r, ..) = step1(&mut env, *action, 1.0);
        let what = format!("G9 step {}", i + 1);
        assert_eq!(env.progress(0), *progress, "{what} progress");
        assert_near(env.meters(0)[3], *money, &format!("{what} money"));
        assert_near(env.meters(0)[2], *satiation, &format!("{what} satiation"));
        assert_near(r, *reward, &what);
    }
}

#[test]
fn g10_instant_job_kills() {
    let mut env = env_with(L1, &layout_r(), [2, 6], &[("energy", 0.12)]);
    let (r, done, end, inter) = step1(&mut env, INTERACT, 1.0);
    assert_close(
        env.meters(0),
        &[0.0, 0.997, 0.996, 0.725, 0.999, 0.994, 0.969495, 0.998],
        TOL,
        "G10",
    );
    assert_eq!(r, 0.0);
    assert!(done);
    assert_eq!(end, Some(EndReason::Died));
    assert_eq!(inter, Some(10), "Job");
}
