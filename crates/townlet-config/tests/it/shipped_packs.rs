//! Every shipped pack loads, with the documented values (docs/packs.md#the-shipped-packs).

use std::path::{Path, PathBuf};
use townlet_config::*;

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

fn load(name: &str) -> Pack {
    match load_pack(&configs().join(name)) {
        Ok(p) => p,
        Err(e) => panic!("{name} failed to load:\n{e}"),
    }
}

const PACKS: [&str; 5] = [
    "L0_0_minimal",
    "L0_5_dual_resource",
    "L1_full_observability",
    "L2_partial_observability",
    "L3_temporal_mechanics",
];

#[test]
fn every_pack_loads_with_meters_and_actions() {
    for name in PACKS {
        let p = load(name);
        assert_eq!(p.name, name);
        assert!(p.warnings.is_empty(), "{name}: {:?}", p.warnings);
        assert_eq!(
            p.meter_names(),
            [
                "energy",
                "hygiene",
                "satiation",
                "money",
                "mood",
                "social",
                "health",
                "fitness"
            ]
        );
        assert_eq!(
            p.action_names(),
            [
                "UP", "DOWN", "LEFT", "RIGHT", "INTERACT", "WAIT", "REST", "MEDITATE"
            ]
        );
        assert_eq!(p.affordances.len(), 14);
    }
}

fn amounts(p: &Pack, list: &[MeterAmount]) -> Vec<(String, f32)> {
    list.iter()
        .map(|m| (p.meters[m.meter].name.clone(), m.amount))
        .collect()
}

fn pairs(items: &[(&str, f64)]) -> Vec<(String, f32)> {
    items
        .iter()
        .map(|(n, a)| (n.to_string(), *a as f32))
        .collect()
}

#[test]
fn meter_values_follow_the_table() {
    let table = [
        ("energy", 0, Tier::Pivotal, 0.005),
        ("hygiene", 1, Tier::Secondary, 0.003),
        ("satiation", 2, Tier::Primary, 0.004),
        ("money", 3, Tier::Resource, 0.0),
        ("mood", 4, Tier::Primary, 0.001),
        ("social", 5, Tier::Secondary, 0.006),
        ("health", 6, Tier::Pivotal, 0.0),
        ("fitness", 7, Tier::Primary, 0.002),
    ];
    let money = [0.25, 1.0, 0.5, 0.5, 0.5];
    for (name, m0) in PACKS.iter().zip(money) {
        let p = load(name);
        for (m, (n, i, tier, dep)) in p.meters.iter().zip(table) {
            assert_eq!((m.name.as_str(), m.index, m.tier), (n, i, tier));
            assert_eq!(m.base_depletion, dep as f32);
            let init = if n == "money" { m0 } else { 1.0 };
            assert_eq!(m.initial, init as f32, "{name} {n}");
        }
        assert_eq!(p.terminal_conditions.len(), 2);
        assert_eq!(p.terminal_conditions[0].meter, 6);
        assert_eq!(p.terminal_conditions[1].meter, 0);
        assert!(
            p.terminal_conditions
                .iter()
                .all(|t| t.op == CmpOp::Le && t.value == 0.0)
        );
    }
}

#[test]
fn affordance_values_keep_signs_and_order() {
    let p = load("L1_full_observability");
    let bed = &p.affordances[0];
    assert_eq!((bed.id.as_str(), bed.name.as_str()), ("0", "Bed"));
    assert_eq!(bed.interaction_type, InteractionType::Dual);
    assert_eq!(bed.required_ticks, Some(5));
    assert_eq!(bed.operating_hours, [0, 24]);
    assert_eq!(amounts(&p, &bed.costs), pairs(&[("money", 0.05)]));
    assert_eq!(
        amounts(&p, &bed.effects),
        pairs(&[("energy", 0.5), ("health", 0.02)])
    );
    let bar = &p.affordances[9];
    assert_eq!(bar.name, "Bar");
    assert_eq!(bar.operating_hours, [18, 28]);
    assert_eq!(
        amounts(&p, &bar.effects),
        pairs(&[
            ("social", 0.5),
            ("mood", 0.25),
            ("satiation", 0.3),
            ("energy", -0.2),
            ("hygiene", -0.15),
            ("health", -0.05)
        ])
    );
    let park = &p.affordances[13];
    assert_eq!(park.name, "Park");
    assert!(park.costs.is_empty() && park.costs_per_tick.is_empty());
    assert_eq!(
        amounts(&p, &park.completion_bonus),
        pairs(&[
            ("fitness", 0.05),
            ("social", 0.0375),
            ("mood", 0.0375),
            ("energy", -0.15)
        ])
    );
    let names: Vec<&str> = p.affordances.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Bed",
            "LuxuryBed",
            "Shower",
            "HomeMeal",
            "FastFood",
            "Doctor",
            "Hospital",
            "Therapist",
            "Recreation",
            "Bar",
            "Job",
            "Labor",
            "Gym",
            "Park"
        ]
    );
    assert_eq!(p.deployed_affordances(), (0..14).collect::<Vec<_>>());
}

#[test]
fn deployed_affordances_follow_file_order() {
    assert_eq!(load("L0_0_minimal").deployed_affordances(), [0]);
    // Listed as Bed, Hospital, HomeMeal, Job; deployed in vocabulary order.
    assert_eq!(
        load("L0_5_dual_resource").deployed_affordances(),
        [0, 3, 6, 10]
    );
}

/// (pack, grid, pomdp, vision, temporal, enabled, move, wait, interact)
type EnvRow = (
    &'static str,
    u32,
    bool,
    u32,
    bool,
    Option<&'static [&'static str]>,
    f64,
    f64,
    f64,
);

#[test]
fn environment_sections_follow_the_table() {
    let rows: [EnvRow; 5] = [
        (
            "L0_0_minimal",
            3,
            false,
            3,
            false,
            Some(&["Bed"]),
            0.005,
            0.003,
            0.0029,
        ),
        (
            "L0_5_dual_resource",
            7,
            false,
            7,
            false,
            Some(&["Bed", "Hospital", "HomeMeal", "Job"]),
            0.005,
            0.0049,
            0.0029,
        ),
        (
            "L1_full_observability",
            8,
            false,
            8,
            false,
            None,
            0.005,
            0.001,
            0.0,
        ),
        (
            "L2_partial_observability",
            8,
            true,
            2,
            false,
            None,
            0.005,
            0.001,
            0.0,
        ),
        (
            "L3_temporal_mechanics",
            8,
            true,
            2,
            true,
            None,
            0.005,
            0.001,
            0.0,
        ),
    ];
    for (name, grid, po, vr, tm, enabled, mv, wait, interact) in rows {
        let p = load(name);
        let e = &p.environment;
        assert_eq!(p.substrate.width, grid, "{name}");
        assert_eq!(p.substrate.height, grid, "{name}");
        assert_eq!(p.substrate.boundary, Boundary::Clamp);
        assert_eq!(p.substrate.distance_metric, DistanceMetric::Manhattan);
        assert_eq!(
            p.substrate.observation_encoding,
            ObservationEncoding::Relative
        );
        assert_eq!(e.grid_size, grid, "{name}");
        assert_eq!(e.partial_observability, po, "{name}");
        assert_eq!(e.vision_range, vr, "{name}");
        assert_eq!(e.enable_temporal_mechanics, tm, "{name}");
        let want: Option<Vec<String>> = enabled.map(|l| l.iter().map(|s| s.to_string()).collect());
        assert_eq!(e.enabled_affordances, want, "{name}");
        assert_eq!(e.energy_move_depletion, mv as f32, "{name}");
        assert_eq!(e.energy_wait_depletion, wait as f32, "{name}");
        assert_eq!(e.energy_interact_depletion, interact as f32, "{name}");
        assert_eq!(e.agent_lifespan, 1000);
    }
}

#[test]
fn learner_sections_follow_the_table() {
    struct Row {
        lr: f64,
        gamma: f64,
        cap: usize,
        net: NetworkType,
        steps: u32,
        adv: f64,
        ret: f64,
        min_eps: u32,
        embed: usize,
        w0: f64,
        var: f64,
        sw: usize,
        max_ep: u64,
        batch: usize,
        decay: f64,
    }
    let rows = [
        (
            "L0_0_minimal",
            Row {
                lr: 0.001,
                gamma: 0.95,
                cap: 5000,
                net: NetworkType::Simple,
                steps: 1000,
                adv: 0.8,
                ret: 0.2,
                min_eps: 100,
                embed: 64,
                w0: 0.1,
                var: 50.0,
                sw: 50,
                max_ep: 500,
                batch: 64,
                decay: 0.99,
            },
        ),
        (
            "L0_5_dual_resource",
            Row {
                lr: 0.001,
                gamma: 0.95,
                cap: 5000,
                net: NetworkType::Simple,
                steps: 500,
                adv: 0.5,
                ret: 0.2,
                min_eps: 50,
                embed: 64,
                w0: 0.1,
                var: 50.0,
                sw: 50,
                max_ep: 500,
                batch: 64,
                decay: 0.995,
            },
        ),
        (
            "L1_full_observability",
            Row {
                lr: 0.00025,
                gamma: 0.99,
                cap: 10000,
                net: NetworkType::Simple,
                steps: 500,
                adv: 0.7,
                ret: 0.3,
                min_eps: 1000,
                embed: 128,
                w0: 1.0,
                var: 100.0,
                sw: 100,
                max_ep: 5000,
                batch: 64,
                decay: 0.995,
            },
        ),
        (
            "L2_partial_observability",
            Row {
                lr: 0.0001,
                gamma: 0.99,
                cap: 10000,
                net: NetworkType::Recurrent,
                steps: 500,
                adv: 0.7,
                ret: 0.3,
                min_eps: 1000,
                embed: 128,
                w0: 0.1,
                var: 100.0,
                sw: 100,
                max_ep: 10000,
                batch: 16,
                decay: 0.999,
            },
        ),
        (
            "L3_temporal_mechanics",
            Row {
                lr: 0.0001,
                gamma: 0.99,
                cap: 10000,
                net: NetworkType::Recurrent,
                steps: 500,
                adv: 0.7,
                ret: 0.3,
                min_eps: 1000,
                embed: 128,
                w0: 1.0,
                var: 100.0,
                sw: 100,
                max_ep: 10000,
                batch: 16,
                decay: 0.999,
            },
        ),
    ];
    for (name, r) in rows {
        let p = load(name);
        assert_eq!(p.run_metadata.output_subdir, name);
        let pop = &p.population;
        assert_eq!(
            (
                pop.num_agents,
                pop.learning_rate,
                pop.gamma,
                pop.replay_buffer_capacity,
                pop.network_type
            ),
            (1, r.lr, r.gamma, r.cap, r.net),
            "{name}"
        );
        let c = &p.curriculum;
        assert_eq!(
            (
                c.max_steps_per_episode,
                c.survival_advance_threshold,
                c.survival_retreat_threshold
            ),
            (r.steps, r.adv, r.ret),
            "{name}"
        );
        assert_eq!(c.entropy_gate, None);
        assert_eq!(c.min_episodes_at_stage, r.min_eps);
        assert_eq!(c.evaluation_window, r.min_eps.min(100));
        assert_eq!((c.kind, c.static_stage), (CurriculumKind::Adversarial, 4));
        let x = &p.exploration;
        assert_eq!(
            (
                x.embed_dim,
                x.initial_intrinsic_weight,
                x.variance_threshold,
                x.survival_window
            ),
            (r.embed, r.w0, r.var, r.sw),
            "{name}"
        );
        assert_eq!(
            (
                x.rnd_learning_rate,
                x.rnd_batch_size,
                x.intrinsic_decay,
                x.min_intrinsic_weight,
                x.min_survival_for_annealing
            ),
            (1e-4, 128, 0.99, 0.0, 50.0)
        );
        let t = &p.training;
        assert_eq!(t.device, DeviceKind::Flex);
        assert_eq!(t.max_episodes, Some(r.max_ep), "{name}");
        assert_eq!((t.train_frequency, t.target_update_frequency), (4, 100));
        assert_eq!((t.batch_size, t.sequence_length), (r.batch, 8), "{name}");
        assert_eq!(t.max_grad_norm, 10.0);
        assert_eq!(
            (t.epsilon_start, t.epsilon_decay, t.epsilon_min),
            (1.0, r.decay, 0.01),
            "{name}"
        );
        assert_eq!(
            (t.checkpoint_interval, t.keep_checkpoints, t.seed),
            (100, 5, 0)
        );
        assert_eq!(
            (t.loss, t.huber_delta, t.double_dqn),
            (LossKind::Mse, 1.0, false)
        );
        assert_eq!((t.adam_epsilon, t.burn_in), (1e-8, 0));
        assert_eq!(t.reshuffle_layout_at_episode, Some(5000));
    }
}

#[test]
fn recording_sections_follow_the_table() {
    for name in PACKS {
        let r = load(name).recording;
        assert!(r.enabled, "{name}");
        assert_eq!(r.output_dir, "recordings");
        assert_eq!((r.max_queue_size, r.compression), (1000, Compression::Lz4));
        assert!(r.criteria.periodic.enabled);
        assert!(!r.criteria.performance.enabled && !r.criteria.stage_boundaries.enabled);
        if name == "L0_5_dual_resource" {
            assert_eq!(r.criteria.periodic.interval, 50);
            assert!(!r.criteria.stage_transitions.enabled);
        } else {
            assert_eq!(r.criteria.periodic.interval, 100, "{name}");
            let st = &r.criteria.stage_transitions;
            assert_eq!((st.enabled, st.before, st.after), (true, 5, 10), "{name}");
        }
    }
}

#[test]
fn cascades_and_custom_actions_follow_the_table() {
    let p = load("L1_full_observability");
    assert_eq!(p.modulations.len(), 1);
    let m = &p.modulations[0];
    assert_eq!((m.source, m.target), (7, 6));
    assert_eq!(
        (m.base_multiplier, m.range, m.baseline_depletion),
        (0.5, 2.5, 0.001)
    );
    let got: Vec<(&str, CascadeCategory, usize, usize, f32)> = p
        .cascades
        .iter()
        .map(|c| {
            assert_eq!(c.threshold, 0.3);
            (c.name.as_str(), c.category, c.source, c.target, c.strength)
        })
        .collect();
    use CascadeCategory::*;
    assert_eq!(
        got,
        [
            ("satiation_to_health", PrimaryToPivotal, 2, 6, 0.004),
            ("satiation_to_energy", PrimaryToPivotal, 2, 0, 0.005),
            ("mood_to_energy", PrimaryToPivotal, 4, 0, 0.005),
            ("hygiene_to_satiation", SecondaryToPrimary, 1, 2, 0.002),
            ("hygiene_to_fitness", SecondaryToPrimary, 1, 7, 0.002),
            ("hygiene_to_mood", SecondaryToPrimary, 1, 4, 0.003),
            ("social_to_mood", SecondaryToPrimary, 5, 4, 0.004),
            ("hygiene_to_health", SecondaryToPivotalWeak, 1, 6, 0.0005),
            ("hygiene_to_energy", SecondaryToPivotalWeak, 1, 0, 0.0005),
            ("social_to_energy", SecondaryToPivotalWeak, 5, 0, 0.0008),
        ]
    );
    let rest = &p.custom_actions[0];
    assert_eq!(rest.kind, CustomActionKind::Passive);
    assert_eq!(
        amounts(&p, &rest.costs),
        pairs(&[("energy", -0.002), ("mood", -0.01)])
    );
    assert!(rest.effects.is_empty() && rest.delta.is_none() && rest.teleport_to.is_none());
    let med = &p.custom_actions[1];
    assert_eq!(amounts(&p, &med.costs), pairs(&[("energy", 0.001)]));
    assert_eq!(amounts(&p, &med.effects), pairs(&[("mood", 0.02)]));
}

#[test]
fn every_pack_has_the_documented_hours_and_ticks() {
    let want: [([u8; 2], u32); 14] = [
        ([0, 24], 5),
        ([0, 24], 6),
        ([0, 24], 3),
        ([0, 24], 3),
        ([0, 24], 2),
        ([8, 18], 2),
        ([0, 24], 3),
        ([8, 18], 3),
        ([8, 22], 2),
        ([18, 28], 2),
        ([8, 18], 4),
        ([8, 18], 4),
        ([6, 22], 3),
        ([6, 22], 3),
    ];
    for name in PACKS {
        let p = load(name);
        for (i, (a, (hours, ticks))) in p.affordances.iter().zip(want).enumerate() {
            assert_eq!(a.id, i.to_string());
            assert_eq!(a.operating_hours, hours, "{name} {}", a.name);
            assert_eq!(a.required_ticks, Some(ticks), "{name} {}", a.name);
        }
        // The same tables in every pack.
        assert_eq!(p.affordances, load("L1_full_observability").affordances);
        assert_eq!(p.cascades, load("L1_full_observability").cascades);
    }
}
