//! Every shipped pack loads, with the documented values (config-packs.md §11).

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
