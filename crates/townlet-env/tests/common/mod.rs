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

fn ma(meter: usize, amount: f32) -> MeterAmount {
    MeterAmount { meter, amount }
}

// Meter indices (environment.md §2).
const E: usize = 0;
const HY: usize = 1;
const SA: usize = 2;
const MO: usize = 3;
const MD: usize = 4;
const SO: usize = 5;
const HE: usize = 6;
const FI: usize = 7;

/// The shipped pack `name`, built from the values of config-packs.md §11.
pub fn pack(name: &str) -> Pack {
    let (grid, partial, vision, temporal, enabled, wait, interact, money0): (
        u32,
        bool,
        u32,
        bool,
        Option<Vec<&str>>,
        f32,
        f32,
        f32,
    ) = match name {
        L0_0 => (3, false, 3, false, Some(vec!["Bed"]), 0.003, 0.0029, 0.25),
        L0_5 => (
            7,
            false,
            7,
            false,
            Some(vec!["Bed", "Hospital", "HomeMeal", "Job"]),
            0.0049,
            0.0029,
            1.0,
        ),
        L1 => (8, false, 8, false, None, 0.001, 0.0, 0.5),
        L2 => (8, true, 2, false, None, 0.001, 0.0, 0.5),
        L3 => (8, true, 2, true, None, 0.001, 0.0, 0.5),
        other => panic!("unknown pack {other}"),
    };
    let meter = |name: &str, index, tier, initial, base_depletion| MeterDef {
        name: name.to_string(),
        index,
        tier,
        initial,
        base_depletion,
        description: String::new(),
    };
    let meters = vec![
        meter("energy", 0, Tier::Pivotal, 1.0, 0.005),
        meter("hygiene", 1, Tier::Secondary, 1.0, 0.003),
        meter("satiation", 2, Tier::Primary, 1.0, 0.004),
        meter("money", 3, Tier::Resource, money0, 0.0),
        meter("mood", 4, Tier::Primary, 1.0, 0.001),
        meter("social", 5, Tier::Secondary, 1.0, 0.006),
        meter("health", 6, Tier::Pivotal, 1.0, 0.0),
        meter("fitness", 7, Tier::Primary, 1.0, 0.002),
    ];
    use CascadeCategory::*;
    let cascade = |name: &str, category, source, target, strength| Cascade {
        name: name.to_string(),
        category,
        source,
        target,
        threshold: 0.3,
        strength,
    };
    let cascades = vec![
        cascade("satiation_to_health", PrimaryToPivotal, SA, HE, 0.004),
        cascade("satiation_to_energy", PrimaryToPivotal, SA, E, 0.005),
        cascade("mood_to_energy", PrimaryToPivotal, MD, E, 0.005),
        cascade("hygiene_to_satiation", SecondaryToPrimary, HY, SA, 0.002),
        cascade("hygiene_to_fitness", SecondaryToPrimary, HY, FI, 0.002),
        cascade("hygiene_to_mood", SecondaryToPrimary, HY, MD, 0.003),
        cascade("social_to_mood", SecondaryToPrimary, SO, MD, 0.004),
        cascade("hygiene_to_health", SecondaryToPivotalWeak, HY, HE, 0.0005),
        cascade("hygiene_to_energy", SecondaryToPivotalWeak, HY, E, 0.0005),
        cascade("social_to_energy", SecondaryToPivotalWeak, SO, E, 0.0008),
    ];
    #[allow(clippy::type_complexity)]
    let aff = |i: usize,
               name: &str,
               hours: [u8; 2],
               costs: Vec<MeterAmount>,
               effects: Vec<MeterAmount>,
               ticks: u32,
               cpt: Vec<MeterAmount>,
               ept: Vec<MeterAmount>,
               bonus: Vec<MeterAmount>| AffordanceDef {
        id: i.to_string(),
        name: name.to_string(),
        category: String::new(),
        interaction_type: InteractionType::Dual,
        required_ticks: Some(ticks),
        costs,
        effects,
        costs_per_tick: cpt,
        effects_per_tick: ept,
        completion_bonus: bonus,
        operating_hours: hours,
    };
    let affordances = vec![
        aff(
            0,
            "Bed",
            [0, 24],
            vec![ma(MO, 0.05)],
            vec![ma(E, 0.5), ma(HE, 0.02)],
            5,
            vec![ma(MO, 0.01)],
            vec![ma(E, 0.075)],
            vec![ma(E, 0.125), ma(HE, 0.02)],
        ),
        aff(
            1,
            "LuxuryBed",
            [0, 24],
            vec![ma(MO, 0.11)],
            vec![ma(E, 0.75), ma(HE, 0.05)],
            6,
            vec![ma(MO, 0.01833)],
            vec![ma(E, 0.09375)],
            vec![ma(E, 0.1875), ma(HE, 0.05)],
        ),
        aff(
            2,
            "Shower",
            [0, 24],
            vec![ma(MO, 0.03)],
            vec![ma(HY, 0.4)],
            3,
            vec![ma(MO, 0.01)],
            vec![ma(HY, 0.1)],
            vec![ma(HY, 0.1)],
        ),
        aff(
            3,
            "HomeMeal",
            [0, 24],
            vec![ma(MO, 0.03)],
            vec![ma(SA, 0.45), ma(HE, 0.03)],
            3,
            vec![ma(MO, 0.01)],
            vec![ma(SA, 0.1125)],
            vec![ma(SA, 0.1125), ma(HE, 0.03)],
        ),
        aff(
            4,
            "FastFood",
            [0, 24],
            vec![ma(MO, 0.1)],
            vec![
                ma(SA, 0.45),
                ma(E, 0.15),
                ma(SO, 0.01),
                ma(FI, -0.03),
                ma(HE, -0.02),
            ],
            2,
            vec![ma(MO, 0.05)],
            vec![ma(SA, 0.16875), ma(E, 0.05625)],
            vec![
                ma(SA, 0.1125),
                ma(E, 0.0375),
                ma(SO, 0.01),
                ma(FI, -0.03),
                ma(HE, -0.02),
            ],
        ),
        aff(
            5,
            "Doctor",
            [8, 18],
            vec![ma(MO, 0.08)],
            vec![ma(HE, 0.25)],
            2,
            vec![ma(MO, 0.04)],
            vec![ma(HE, 0.09375)],
            vec![ma(HE, 0.0625)],
        ),
        aff(
            6,
            "Hospital",
            [0, 24],
            vec![ma(MO, 0.15)],
            vec![ma(HE, 0.4)],
            3,
            vec![ma(MO, 0.05)],
            vec![ma(HE, 0.1)],
            vec![ma(HE, 0.1)],
        ),
        aff(
            7,
            "Therapist",
            [8, 18],
            vec![ma(MO, 0.15)],
            vec![ma(MD, 0.4)],
            3,
            vec![ma(MO, 0.05)],
            vec![ma(MD, 0.1)],
            vec![ma(MD, 0.1)],
        ),
        aff(
            8,
            "Recreation",
            [8, 22],
            vec![ma(MO, 0.06)],
            vec![ma(MD, 0.25), ma(E, 0.12)],
            2,
            vec![ma(MO, 0.03)],
            vec![ma(MD, 0.09375), ma(E, 0.045)],
            vec![ma(MD, 0.0625), ma(E, 0.03)],
        ),
        aff(
            9,
            "Bar",
            [18, 28],
            vec![ma(MO, 0.15)],
            vec![
                ma(SO, 0.5),
                ma(MD, 0.25),
                ma(SA, 0.3),
                ma(E, -0.2),
                ma(HY, -0.15),
                ma(HE, -0.05),
            ],
            2,
            vec![ma(MO, 0.075)],
            vec![ma(SO, 0.1875), ma(MD, 0.09375), ma(SA, 0.1125)],
            vec![
                ma(SO, 0.125),
                ma(MD, 0.0625),
                ma(SA, 0.075),
                ma(E, -0.2),
                ma(HY, -0.15),
                ma(HE, -0.05),
            ],
        ),
        aff(
            10,
            "Job",
            [8, 18],
            vec![],
            vec![ma(MO, 0.225), ma(E, -0.15), ma(SO, 0.02), ma(HE, -0.03)],
            4,
            vec![],
            vec![ma(MO, 0.05625)],
            vec![ma(MO, 0.05625), ma(E, -0.15), ma(SO, 0.02), ma(HE, -0.03)],
        ),
        aff(
            11,
            "Labor",
            [8, 18],
            vec![],
            vec![
                ma(MO, 0.15),
                ma(E, -0.2),
                ma(FI, -0.05),
                ma(HE, -0.05),
                ma(SO, 0.01),
            ],
            4,
            vec![],
            vec![ma(MO, 0.075)],
            vec![
                ma(MO, 0.075),
                ma(E, -0.2),
                ma(FI, -0.05),
                ma(HE, -0.05),
                ma(SO, 0.01),
            ],
        ),
        aff(
            12,
            "Gym",
            [6, 22],
            vec![ma(MO, 0.08)],
            vec![ma(FI, 0.3), ma(E, -0.08)],
            3,
            vec![ma(MO, 0.02667)],
            vec![ma(FI, 0.075)],
            vec![ma(FI, 0.075), ma(E, -0.08)],
        ),
        aff(
            13,
            "Park",
            [6, 22],
            vec![],
            vec![ma(FI, 0.2), ma(SO, 0.15), ma(MD, 0.15), ma(E, -0.15)],
            3,
            vec![],
            vec![ma(FI, 0.05), ma(SO, 0.0375), ma(MD, 0.0375)],
            vec![ma(FI, 0.05), ma(SO, 0.0375), ma(MD, 0.0375), ma(E, -0.15)],
        ),
    ];
    let custom_actions = vec![
        CustomAction {
            name: "REST".into(),
            kind: CustomActionKind::Passive,
            costs: vec![ma(E, -0.002), ma(MD, -0.01)],
            effects: vec![],
            delta: None,
            teleport_to: None,
            description: None,
            icon: None,
        },
        CustomAction {
            name: "MEDITATE".into(),
            kind: CustomActionKind::Passive,
            costs: vec![ma(E, 0.001)],
            effects: vec![ma(MD, 0.02)],
            delta: None,
            teleport_to: None,
            description: None,
            icon: None,
        },
    ];
    Pack {
        name: name.to_string(),
        dir: configs_root().join(name),
        configs_root: configs_root(),
        substrate: Substrate {
            width: grid,
            height: grid,
            boundary: Boundary::Clamp,
            distance_metric: DistanceMetric::Manhattan,
            observation_encoding: ObservationEncoding::Relative,
        },
        meters,
        terminal_conditions: vec![
            TerminalCondition {
                meter: HE,
                op: CmpOp::Le,
                value: 0.0,
            },
            TerminalCondition {
                meter: E,
                op: CmpOp::Le,
                value: 0.0,
            },
        ],
        modulations: vec![Modulation {
            name: "fitness_health_modulation".into(),
            source: FI,
            target: HE,
            base_multiplier: 0.5,
            range: 2.5,
            baseline_depletion: 0.001,
        }],
        cascades,
        affordances,
        custom_actions,
        run_metadata: RunMetadata {
            output_subdir: name.to_string(),
        },
        environment: EnvironmentConfig {
            grid_size: grid,
            partial_observability: partial,
            vision_range: vision,
            enable_temporal_mechanics: temporal,
            enabled_affordances: enabled.map(|v| v.into_iter().map(String::from).collect()),
            energy_move_depletion: 0.005,
            energy_wait_depletion: wait,
            energy_interact_depletion: interact,
            agent_lifespan: 1000,
        },
        population: PopulationConfig {
            num_agents: 1,
            learning_rate: 0.001,
            gamma: 0.99,
            replay_buffer_capacity: 10000,
            network_type: if partial {
                NetworkType::Recurrent
            } else {
                NetworkType::Simple
            },
        },
        curriculum: CurriculumConfig {
            max_steps_per_episode: if name == L0_0 { 1000 } else { 500 },
            survival_advance_threshold: 0.7,
            survival_retreat_threshold: 0.3,
            entropy_gate: None,
            min_episodes_at_stage: 1000,
            evaluation_window: 100,
            kind: CurriculumKind::Adversarial,
            static_stage: 4,
        },
        exploration: ExplorationConfig {
            embed_dim: 128,
            initial_intrinsic_weight: 1.0,
            variance_threshold: 100.0,
            survival_window: 100,
            rnd_learning_rate: 1e-4,
            rnd_batch_size: 128,
            intrinsic_decay: 0.99,
            min_intrinsic_weight: 0.0,
            min_survival_for_annealing: 50.0,
        },
        training: TrainingConfig {
            device: DeviceKind::Flex,
            max_episodes: Some(5000),
            train_frequency: 4,
            target_update_frequency: 100,
            max_grad_norm: 10.0,
            batch_size: 64,
            sequence_length: 8,
            epsilon_start: 1.0,
            epsilon_decay: 0.995,
            epsilon_min: 0.01,
            checkpoint_interval: 100,
            keep_checkpoints: 5,
            seed: 0,
            loss: LossKind::Mse,
            huber_delta: 1.0,
            double_dqn: false,
            adam_epsilon: 1e-8,
            burn_in: 0,
            reshuffle_layout_at_episode: Some(5000),
        },
        recording: RecordingConfig::default(),
        warnings: vec![],
    }
}

/// Layout R of environment.md §14 (8×8, all 14 deployed).
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
