//! Shared helpers for the env's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use townlet_config::*;
use townlet_env::Env;

pub const L0_0: &str = "L0_0_minimal";
pub const L0_5: &str = "L0_5_dual_resource";
pub const L1: &str = "L1_full_observability";
pub const L2: &str = "L2_partial_observability";
pub const L3: &str = "L3_temporal_mechanics";
pub const ALL_PACKS: [&str; 5] = [L0_0, L0_5, L1, L2, L3];

pub const UP: u32 = 0;
pub const DOWN: u32 = 1;
pub const LEFT: u32 = 2;
pub const RIGHT: u32 = 3;
pub const INTERACT: u32 = 4;
pub const WAIT: u32 = 5;
pub const REST: u32 = 6;
pub const MEDITATE: u32 = 7;

pub fn configs_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

/// The shipped pack `name`, loaded from `configs/`.
pub fn pack(name: &str) -> Pack {
    let dir = configs_root().join(name);
    match load_pack(&dir) {
        Ok(p) => p,
        Err(e) => panic!("{} does not load: {e}", dir.display()),
    }
}

/// Layout R of docs/world.md#golden-cases (8×8, all 14 deployed).
pub fn layout_r() -> Vec<(String, [i32; 2])> {
    [
        ("Bed", [0, 7]),
        ("LuxuryBed", [1, 7]),
        ("Shower", [2, 7]),
        ("HomeMeal", [3, 7]),
        ("FastFood", [4, 7]),
        ("Doctor", [5, 7]),
        ("Hospital", [6, 7]),
        ("Therapist", [7, 7]),
        ("Recreation", [0, 6]),
        ("Bar", [1, 6]),
        ("Job", [2, 6]),
        ("Labor", [3, 6]),
        ("Gym", [4, 6]),
        ("Park", [5, 6]),
    ]
    .iter()
    .map(|(n, p)| (n.to_string(), *p))
    .collect()
}

/// Layout R′: R with Bed moved to [1,0].
pub fn layout_r_prime() -> Vec<(String, [i32; 2])> {
    let mut l = layout_r();
    l[0].1 = [1, 0];
    l
}

/// A one-agent env of `pack` with a layout, a start cell and meter overrides.
pub fn env_with(
    pack_name: &str,
    layout: &[(String, [i32; 2])],
    start: [i32; 2],
    meters: &[(&str, f32)],
) -> Env {
    let mut env = Env::new(&pack(pack_name), 1, 0).expect("env builds");
    env.reset();
    env.set_layout(layout).expect("layout");
    env.set_position(0, start).expect("start");
    for (n, v) in meters {
        env.set_meter(0, n, *v).expect("meter");
    }
    env
}

#[track_caller]
pub fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}: index {i}: got {g}, want {w} (all: {got:?})"
        );
    }
}

#[track_caller]
pub fn assert_near(got: f32, want: f32, what: &str) {
    assert!((got - want).abs() <= 1e-6, "{what}: got {got}, want {want}");
}
