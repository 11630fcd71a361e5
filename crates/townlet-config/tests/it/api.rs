//! Defaults, warnings, the config hash and the snapshot.

use crate::common::fixture;
use std::path::Path;
use townlet_config::*;

#[test]
fn missing_global_actions_gives_six_actions_and_a_warning() {
    let f = fixture("L1_full_observability");
    std::fs::remove_file(f.root.join(GLOBAL_ACTIONS_FILE)).expect("rm");
    let p = f.load();
    assert_eq!(p.action_dim(), 6);
    assert_eq!(p.custom_actions.len(), 0);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("global_actions.yaml not found"));
}

#[test]
fn custom_action_meters_the_pack_lacks_are_skipped_with_a_warning() {
    let f = fixture("L1_full_observability");
    f.edit(
        GLOBAL_ACTIONS_FILE,
        "costs: {energy: 0.001}",
        "costs: {energy: 0.001, stamina: 0.5}",
    );
    let p = f.load();
    let med = &p.custom_actions[1];
    assert_eq!(med.costs.len(), 1);
    assert_eq!(med.costs[0].meter, 0);
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].contains("stamina"), "{:?}", p.warnings);
}

#[test]
fn optional_sections_take_their_defaults() {
    let f = fixture("L2_partial_observability");
    // Drop the whole recording section and the optional training keys.
    let path = f.pack.join("training.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    let cut = text
        .find("# Episode recordings")
        .expect("recording section");
    let mut text = text[..cut].to_string();
    for key in [
        "batch_size",
        "sequence_length",
        "burn_in",
        "loss",
        "huber_delta",
        "double_dqn",
        "adam_epsilon",
        "seed",
        "checkpoint_interval",
        "keep_checkpoints",
        "reshuffle_layout_at_episode",
        "device",
        "agent_lifespan",
        "evaluation_window",
        "kind",
        "static_stage",
        "rnd_learning_rate",
        "rnd_batch_size",
        "intrinsic_decay",
        "min_intrinsic_weight",
        "min_survival_for_annealing",
        "max_episodes",
        "enable_temporal_mechanics",
        "enabled_affordances",
    ] {
        let prefix = format!("  {key}:");
        text = text
            .lines()
            .filter(|l| !l.starts_with(&prefix))
            .collect::<Vec<_>>()
            .join("\n");
    }
    text.push('\n');
    std::fs::write(&path, text).expect("write");
    let p = f.load();
    assert_eq!(p.recording, RecordingConfig::default());
    let t = &p.training;
    assert_eq!(t.batch_size, 16, "recurrent default");
    assert_eq!(t.sequence_length, 8);
    assert_eq!(t.max_episodes, None);
    assert_eq!(t.device, DeviceKind::Flex);
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
    assert_eq!(p.environment.agent_lifespan, 1000);
    assert!(!p.environment.enable_temporal_mechanics);
    assert_eq!(p.environment.enabled_affordances, None);
    let c = &p.curriculum;
    assert_eq!(c.evaluation_window, 100);
    assert_eq!((c.kind, c.static_stage), (CurriculumKind::Adversarial, 4));
    let x = &p.exploration;
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
}

#[test]
fn batch_size_default_is_64_for_the_simple_net() {
    let f = fixture("L1_full_observability");
    f.edit("training.yaml", "  batch_size: 64\n", "");
    assert_eq!(f.load().training.batch_size, 64);
}

#[test]
fn min_steps_alias_and_evaluation_window_default() {
    let f = fixture("L0_5_dual_resource");
    f.edit(
        "training.yaml",
        "min_episodes_at_stage: 50",
        "min_steps_at_stage: 50",
    );
    f.edit("training.yaml", "  evaluation_window: 50", "");
    let c = f.load().curriculum;
    assert_eq!(c.min_episodes_at_stage, 50);
    assert_eq!(c.evaluation_window, 50, "min(100, 50)");

    // At least 1 when no episodes are required.
    f.edit(
        "training.yaml",
        "min_steps_at_stage: 50",
        "min_steps_at_stage: 0",
    );
    assert_eq!(f.load().curriculum.evaluation_window, 1);
}

#[test]
fn device_cpu_is_flex_and_cuda_falls_back_with_a_warning() {
    let f = fixture("L1_full_observability");
    f.edit("training.yaml", "device: flex", "device: cpu");
    let p = f.load();
    assert_eq!(p.training.device, DeviceKind::Flex);
    assert!(p.warnings.is_empty());
    f.edit("training.yaml", "device: cpu", "device: cuda");
    let p = f.load();
    assert_eq!(p.training.device, DeviceKind::Flex);
    assert!(
        p.warnings.iter().any(|w| w.contains("cuda")),
        "{:?}",
        p.warnings
    );
    f.edit("training.yaml", "device: cuda", "device: ndarray");
    assert_eq!(f.load().training.device, DeviceKind::Ndarray);
}

#[test]
fn integers_are_accepted_where_floats_are_expected() {
    let f = fixture("L1_full_observability");
    f.edit("training.yaml", "max_grad_norm: 10.0", "max_grad_norm: 10");
    f.edit("bars.yaml", "initial: 1.0", "initial: 1");
    let p = f.load();
    assert_eq!(p.training.max_grad_norm, 10.0);
    assert_eq!(p.meters[0].initial, 1.0);
}

#[test]
fn static_curriculum_and_entropy_gate_are_read() {
    let f = fixture("L1_full_observability");
    f.edit("training.yaml", "kind: adversarial", "kind: static");
    f.edit("training.yaml", "static_stage: 4", "static_stage: 2");
    f.edit("training.yaml", "entropy_gate: null", "entropy_gate: 0.5");
    let c = f.load().curriculum;
    assert_eq!(
        (c.kind, c.static_stage, c.entropy_gate),
        (CurriculumKind::Static, 2, Some(0.5))
    );
}

#[test]
fn config_hash_is_stable_and_ignores_run_length_and_logging() {
    let a = fixture("L1_full_observability");
    let b = fixture("L1_full_observability");
    assert_eq!(config_hash(&a.load()), config_hash(&b.load()));
    assert_eq!(config_hash_hex(&a.load()).len(), 16);
    b.edit("training.yaml", "max_episodes: 5000", "max_episodes: 7");
    b.edit(
        "training.yaml",
        "periodic: {enabled: true, interval: 100}",
        "periodic: {enabled: true, interval: 3}",
    );
    b.edit(
        "training.yaml",
        "checkpoint_interval: 100",
        "checkpoint_interval: 9",
    );
    b.edit(
        "training.yaml",
        "keep_checkpoints: 5",
        "keep_checkpoints: 0",
    );
    b.edit("training.yaml", "device: flex", "device: ndarray");
    b.edit(
        "training.yaml",
        "output_subdir: L1_full_observability",
        "output_subdir: other",
    );
    b.edit("bars.yaml", "Stamina.", "Vigour.");
    let (pa, pb) = (a.load(), b.load());
    assert_ne!(pa.recording, pb.recording);
    assert_eq!(config_hash(&pa), config_hash(&pb));
    assert!(config_hash_diff(&pa, &pb).is_empty());
}

#[test]
fn config_hash_changes_with_learner_and_world_settings() {
    let a = fixture("L1_full_observability");
    let b = fixture("L1_full_observability");
    b.edit(
        "training.yaml",
        "learning_rate: 0.00025",
        "learning_rate: 0.0003",
    );
    let (pa, pb) = (a.load(), b.load());
    assert_ne!(config_hash(&pa), config_hash(&pb));
    assert_eq!(config_hash_diff(&pa, &pb), ["population.learning_rate"]);

    let c = fixture("L1_full_observability");
    c.edit(
        "affordances.yaml",
        "{meter: money, amount: 0.05}",
        "{meter: money, amount: 0.06}",
    );
    let pc = c.load();
    assert_ne!(config_hash(&pa), config_hash(&pc));
    assert_eq!(
        config_hash_diff(&pa, &pc),
        ["affordances[0].costs[0].amount"]
    );

    // A different pack differs in many places.
    let l0 = fixture("L0_0_minimal").load();
    let diff = config_hash_diff(&pa, &l0);
    assert!(diff.contains(&"substrate.width".to_string()), "{diff:?}");
    assert!(
        diff.contains(&"environment.enabled_affordances".to_string()),
        "{diff:?}"
    );
}

#[test]
fn snapshot_round_trips() {
    let f = fixture("L3_temporal_mechanics");
    let p = f.load();
    let dest = f.tmp.path().join("run/config_snapshot");
    let snap = write_snapshot(&p, &dest).expect("snapshot");
    assert_eq!(snap, dest.join("L3_temporal_mechanics"));
    assert!(dest.join(GLOBAL_ACTIONS_FILE).is_file());
    for file in PACK_FILES {
        assert_eq!(
            std::fs::read(snap.join(file)).expect("read"),
            std::fs::read(f.pack.join(file)).expect("read")
        );
    }
    let q = load_pack(&snap).expect("the snapshot loads");
    assert_eq!(config_hash(&p), config_hash(&q));
    assert_eq!(q.action_dim(), 8);
    let (mut p2, mut q2) = (p.clone(), q.clone());
    for x in [&mut p2, &mut q2] {
        x.dir = Default::default();
        x.configs_root = Default::default();
    }
    assert_eq!(p2, q2);
}

#[test]
fn snapshot_refuses_files_edited_after_loading() {
    let f = fixture("L1_full_observability");
    let p = f.load();
    f.edit(
        "training.yaml",
        "learning_rate: 0.00025",
        "learning_rate: 0.0003",
    );
    let err = write_snapshot(&p, &f.tmp.path().join("snap")).expect_err("changed files");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn shipped_pack_loads_by_relative_path_inside_the_crate() {
    // `cargo test` runs with the crate folder as cwd; the lock keeps `cwd` from moving it.
    let _cwd = crate::common::cwd_lock();
    let p = load_pack(Path::new("../../configs/L1_full_observability")).expect("load");
    assert_eq!(p.action_dim(), 8);
}

#[test]
fn movement_custom_actions_load_after_the_shipped_ones() {
    let f = fixture("L1_full_observability");
    f.edit(
        GLOBAL_ACTIONS_FILE,
        "    icon: \"🧘\"\n",
        "    icon: \"🧘\"\n  - name: DASH\n    type: movement\n    costs: {energy: 0.01}\n    effects: {}\n    delta: [2, 0]\n",
    );
    let p = f.load();
    assert_eq!(p.action_dim(), 9);
    assert_eq!(p.action_names()[8], "DASH");
    let dash = &p.custom_actions[2];
    assert_eq!(dash.kind, CustomActionKind::Movement);
    assert_eq!((dash.delta, dash.teleport_to), (Some([2, 0]), None));
}
