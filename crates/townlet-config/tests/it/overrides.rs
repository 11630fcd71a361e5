//! `--set KEY=VALUE` overrides: parsing, validation like the files, the snapshot and hash.

use crate::common::{chain, fixture};
use townlet_config::*;

fn flags(args: &[&str]) -> Overrides {
    Overrides::from_flags(args).unwrap_or_else(|e| panic!("{e:?}"))
}

fn errors_with(f: &crate::common::Fixture, args: &[&str]) -> Vec<String> {
    match load_pack_with(&f.pack, &flags(args)) {
        Ok(_) => panic!("{args:?} loaded without errors"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn values_are_read_as_yaml_and_land_in_the_pack() {
    let f = fixture("L2_partial_observability");
    let o = flags(&[
        "exploration.initial_intrinsic_weight=0",
        "training.epsilon_decay=0.99",
        "population.learning_rate=0.0005",
        "training.double_dqn=true",
        "population.network_type=simple",
        "environment.enabled_affordances=[Bed, Job]",
        "training.reshuffle_layout_at_episode=null",
    ]);
    let p = load_pack_with(&f.pack, &o).expect("valid overrides load");
    assert_eq!(p.exploration.initial_intrinsic_weight, 0.0);
    assert_eq!(p.training.epsilon_decay, 0.99);
    assert_eq!(p.population.learning_rate, 0.0005);
    assert!(p.training.double_dqn);
    assert_eq!(p.population.network_type, NetworkType::Simple);
    assert_eq!(
        p.environment.enabled_affordances,
        Some(vec!["Bed".to_string(), "Job".to_string()])
    );
    assert_eq!(p.training.reshuffle_layout_at_episode, None);
    assert_eq!(p.overrides, o);
    let shown: Vec<String> = p.overrides.iter().map(ToString::to_string).collect();
    assert_eq!(shown[0], "exploration.initial_intrinsic_weight=0");
}

#[test]
fn other_pack_files_are_named_before_a_colon() {
    let f = fixture("L1_full_observability");
    let plain = f.load();
    let o = flags(&[
        "bars.yaml:bars[0].initial=0.5",
        "substrate.yaml:grid.boundary=wrap",
    ]);
    let p = load_pack_with(&f.pack, &o).expect("loads");
    assert_eq!(p.meters[0].initial, 0.5);
    assert_ne!(plain.meters[0].initial, 0.5);
    assert_eq!(p.substrate.boundary, Boundary::Wrap);
    assert_eq!(
        o.iter().next().map(Override::key).as_deref(),
        Some("bars.yaml:bars[0].initial")
    );
}

#[test]
fn a_later_value_of_the_same_key_wins() {
    let o = flags(&["training.seed=1", "training.yaml:training.seed=2"]);
    assert_eq!(o.len(), 1);
    let f = fixture("L0_0_minimal");
    assert_eq!(load_pack_with(&f.pack, &o).expect("loads").training.seed, 2);
}

#[test]
fn malformed_arguments_are_refused_before_any_pack_is_read() {
    let errs = Overrides::from_flags(&[
        "training.seed",
        "training.seed=",
        "foo.bar=1",
        "global_actions.yaml:custom_actions[0].name=x",
        "training..seed=1",
        "bars.yaml:bars[x].initial=1",
        "training.seed=[1",
    ])
    .expect_err("all bad");
    let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 7, "{shown:#?}");
    assert_eq!(shown[0], "--set training.seed: expected KEY=VALUE");
    assert!(shown[1].contains("the value is empty"), "{}", shown[1]);
    assert!(
        shown[2].starts_with("--set foo.bar=1: 'foo' is not a section of training.yaml"),
        "{}",
        shown[2]
    );
    assert!(
        shown[2].contains("bars.yaml:bars[0].initial"),
        "{}",
        shown[2]
    );
    assert!(
        shown[3].contains("'global_actions.yaml' is not a pack file"),
        "{}",
        shown[3]
    );
    assert!(shown[4].contains("empty key segment"), "{}", shown[4]);
    assert!(shown[5].contains("'x' is not a list index"), "{}", shown[5]);
    assert!(shown[6].contains("not valid YAML"), "{}", shown[6]);
}

#[test]
fn a_bad_value_is_reported_like_the_file_would_with_its_origin() {
    let f = fixture("L1_full_observability");
    let shown = errors_with(&f, &["exploration.initial_intrinsic_weight=-1"]);
    assert_eq!(
        shown,
        [
            "L1_full_observability/training.yaml: exploration.initial_intrinsic_weight: \
          -1 must be ≥ 0 (from --set exploration.initial_intrinsic_weight=-1)"
        ]
    );
    let shown = errors_with(&f, &["population.network_type=lstm"]);
    assert!(
        shown[0].contains("'lstm' is not one of simple, recurrent"),
        "{shown:?}"
    );
    assert!(
        shown[0].ends_with("(from --set population.network_type=lstm)"),
        "{shown:?}"
    );
    // A cross-key rule names the override that broke it.
    let shown = errors_with(&f, &["training.epsilon_start=0.001"]);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].contains("training.epsilon_min"), "{shown:?}");
    assert!(
        shown[0].ends_with("(from --set training.epsilon_start=0.001)"),
        "{shown:?}"
    );
    // The same value in the file gives the same message, without the origin.
    f.edit(
        "training.yaml",
        "initial_intrinsic_weight: 1.0",
        "initial_intrinsic_weight: -1",
    );
    let plain: Vec<String> = f.errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        plain,
        [
            "L1_full_observability/training.yaml: exploration.initial_intrinsic_weight: \
          -1 must be ≥ 0"
        ]
    );
}

#[test]
fn unknown_keys_and_paths_through_values_are_errors() {
    let f = fixture("L1_full_observability");
    let shown = errors_with(
        &f,
        &[
            "exploration.initial_intrinsic_weigth=0",
            "population.learning_rate.x=1",
            "bars.yaml:bars[99].initial=1",
        ],
    );
    assert_eq!(shown.len(), 3, "{shown:#?}");
    assert!(
        shown.iter().any(|s| s.contains(
            "exploration.initial_intrinsic_weigth: unknown key 'initial_intrinsic_weigth' \
         (from --set exploration.initial_intrinsic_weigth=0)"
        )),
        "{shown:#?}"
    );
    assert!(
        shown.iter().any(|s| s.contains(
            "population.learning_rate.x: population.learning_rate is number 0.00025, not a mapping"
        )),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.contains("bars has 8 items; there is no [99]")),
        "{shown:#?}"
    );
    let err = load_pack_with(&f.pack, &flags(&["training.bogus=1"])).expect_err("unknown");
    crate::common::assert_said_once(&chain(&err));
}

#[test]
fn the_snapshot_keeps_the_overrides_and_the_hash() {
    let f = fixture("L1_full_observability");
    let plain = f.load();
    let o = flags(&[
        "exploration.initial_intrinsic_weight=0",
        "training.epsilon_decay=0.99",
    ]);
    let p = load_pack_with(&f.pack, &o).expect("loads");
    assert_ne!(config_hash(&p), config_hash(&plain));
    assert_eq!(
        config_hash_diff(&plain, &p),
        [
            "exploration.initial_intrinsic_weight",
            "training.epsilon_decay"
        ]
    );
    let dest = f.tmp.path().join("run/config_snapshot");
    let snap = write_snapshot(&p, &dest).expect("snapshot");
    let text = std::fs::read_to_string(snap.join(OVERRIDES_FILE)).expect("overrides.yaml");
    assert!(
        text.contains("exploration.initial_intrinsic_weight: 0"),
        "{text}"
    );
    // A resume loads the snapshot without any flag.
    let q = load_pack(&snap).expect("the snapshot loads");
    assert_eq!(config_hash(&q), config_hash(&p));
    assert_eq!(q.overrides, p.overrides);
    assert_eq!(q.exploration.initial_intrinsic_weight, 0.0);
    // The same values written in the files hash the same: the hash is over values.
    f.edit(
        "training.yaml",
        "initial_intrinsic_weight: 1.0",
        "initial_intrinsic_weight: 0",
    )
    .edit(
        "training.yaml",
        "epsilon_decay: 0.995",
        "epsilon_decay: 0.99",
    );
    assert_eq!(config_hash(&f.load()), config_hash(&p));
    // Snapshotting again without overrides removes the file.
    write_snapshot(&f.load(), &dest).expect("snapshot");
    assert!(!snap.join(OVERRIDES_FILE).exists());
}

#[test]
fn a_pack_folders_overrides_file_applies_and_flags_win() {
    let f = fixture("L0_0_minimal");
    std::fs::write(
        f.pack.join(OVERRIDES_FILE),
        "training.seed: 7\ntraining.epsilon_decay: 0.9\n",
    )
    .expect("write");
    let p = f.load();
    assert_eq!(p.training.seed, 7);
    assert_eq!(p.overrides.len(), 2);
    let q = load_pack_with(&f.pack, &flags(&["training.seed=8"])).expect("loads");
    assert_eq!((q.training.seed, q.training.epsilon_decay), (8, 0.9));
    std::fs::write(f.pack.join(OVERRIDES_FILE), "training.seed: -3\nnope: 1\n").expect("write");
    let shown: Vec<String> = f.errors().iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("L0_0_minimal/overrides.yaml: nope: 'nope' is not a section")),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.ends_with("(from overrides.yaml: training.seed: -3)")),
        "{shown:#?}"
    );
}
