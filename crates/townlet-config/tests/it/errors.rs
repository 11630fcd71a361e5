//! The validation errors users must get (docs/packs.md#error-messages), one test per row:
//! copy a shipped pack and the global actions into a temp dir, apply one fault as a text
//! edit, load, and check that an error names the file, the key path and the offending
//! value.

use crate::common::fixture;
use townlet_config::*;

/// Asserts an error in `file` at `key` whose message contains every part of `msg`, and
/// whose Display is `<file>: <key>: <message>`.
fn expect(errs: &ConfigErrors, file: &str, key: &str, msg: &[&str]) {
    let hit = errs.iter().find(|e| {
        e.file.ends_with(file) && e.key == key && msg.iter().all(|m| e.message.contains(m))
    });
    let Some(hit) = hit else {
        panic!("no error {file}: {key}: {msg:?}; got:\n{errs}");
    };
    let shown = hit.to_string();
    if key.is_empty() {
        assert!(shown.starts_with(&format!("{}: ", hit.file)), "{shown}");
    } else {
        assert!(
            shown.starts_with(&format!("{}: {key}: ", hit.file)),
            "{shown}"
        );
    }
    // The whole list is shown one error per line.
    assert!(errs.to_string().lines().any(|l| l == shown));
}

#[test]
fn e01_missing_required_key() {
    let f = fixture("L2_partial_observability");
    f.edit("training.yaml", "  train_frequency: 4", "");
    expect(
        &f.errors(),
        "L2_partial_observability/training.yaml",
        "training.train_frequency",
        &["required key is missing"],
    );
}

#[test]
fn e02_key_in_the_wrong_section() {
    let f = fixture("L2_partial_observability");
    f.edit(
        "training.yaml",
        "exploration:\n",
        "exploration:\n  epsilon_start: 1.0\n",
    );
    expect(
        &f.errors(),
        "training.yaml",
        "exploration.epsilon_start",
        &[
            "unknown key",
            "epsilon_start",
            "epsilon_* belong under training:",
        ],
    );
}

#[test]
fn e03_wrong_type() {
    let f = fixture("L1_full_observability");
    // bars[2] in file order is satiation.
    f.edit(
        "bars.yaml",
        "index: 2\n    tier: primary\n    range: [0.0, 1.0]\n    initial: 1.0",
        "index: 2\n    tier: primary\n    range: [0.0, 1.0]\n    initial: high",
    );
    expect(
        &f.errors(),
        "L1_full_observability/bars.yaml",
        "bars[2].initial",
        &["expected a number", "string \"high\""],
    );
}

#[test]
fn e04_value_out_of_range() {
    let f = fixture("L1_full_observability");
    f.edit("bars.yaml", "initial: 1.0", "initial: 1.2");
    expect(
        &f.errors(),
        "bars.yaml",
        "bars[0].initial",
        &["1.2 is outside [0, 1]"],
    );
}

#[test]
fn e05_duplicate_meter_index() {
    let f = fixture("L1_full_observability");
    // bars[5] is hygiene (index 1); give it money's index 3 (money is bars[7]).
    f.edit(
        "bars.yaml",
        "- name: hygiene\n    index: 1",
        "- name: hygiene\n    index: 3",
    );
    let errs = f.errors();
    expect(
        &errs,
        "bars.yaml",
        "bars[5].index",
        &["index 3 is already used by 'money' (bars[7])"],
    );
    expect(
        &errs,
        "bars.yaml",
        "bars[7].index",
        &["index 3 is already used by 'hygiene' (bars[5])"],
    );
}

#[test]
fn e06_meter_indices_not_contiguous() {
    let f = fixture("L1_full_observability");
    f.edit(
        "bars.yaml",
        "- name: mood\n    index: 4",
        "- name: mood\n    index: 9",
    );
    expect(
        &f.errors(),
        "bars.yaml",
        "bars",
        &[
            "indices must be exactly 0..7",
            "4 is missing",
            "9 is out of range",
        ],
    );
}

#[test]
fn e07_duplicate_meter_name() {
    let f = fixture("L1_full_observability");
    f.edit("bars.yaml", "- name: hygiene", "- name: mood");
    expect(
        &f.errors(),
        "bars.yaml",
        "bars[4].name",
        &["'mood' is defined twice"],
    );
}

#[test]
fn e08_meter_range_not_unit() {
    let f = fixture("L1_full_observability");
    // bars[1] is health.
    f.edit_nth("bars.yaml", "range: [0.0, 1.0]", "range: [0, 100]", 1);
    expect(
        &f.errors(),
        "bars.yaml",
        "bars[1].range",
        &["must be [0.0, 1.0]", "got [0, 100]"],
    );
}

#[test]
fn e09_missing_health_meter() {
    let f = fixture("L1_full_observability");
    f.edit("bars.yaml", "- name: health", "- name: vitality");
    expect(
        &f.errors(),
        "bars.yaml",
        "bars",
        &["a meter named 'health' is required"],
    );
}

#[test]
fn e10_unknown_meter_in_an_affordance() {
    let f = fixture("L1_full_observability");
    // affordances[3] is HomeMeal; its effects[1] is health +0.03 (first such entry).
    f.edit(
        "affordances.yaml",
        "{meter: health, amount: +0.03}",
        "{meter: hunger, amount: +0.03}",
    );
    expect(
        &f.errors(),
        "affordances.yaml",
        "affordances[3].effects[1].meter",
        &[
            "unknown meter 'hunger'",
            "known: energy, hygiene, satiation",
        ],
    );
}

#[test]
fn e11_unknown_meter_in_a_cascade() {
    let f = fixture("L1_full_observability");
    // cascades[2] is mood_to_energy.
    f.edit("cascades.yaml", "source: mood\n", "source: stamina\n");
    expect(
        &f.errors(),
        "cascades.yaml",
        "cascades[2].source",
        &["unknown meter 'stamina'"],
    );
}

#[test]
fn e11_unknown_meter_in_a_terminal_condition() {
    let f = fixture("L1_full_observability");
    f.edit("bars.yaml", "  - meter: health", "  - meter: stamina");
    expect(
        &f.errors(),
        "bars.yaml",
        "terminal_conditions[0].meter",
        &["unknown meter 'stamina'"],
    );
}

#[test]
fn e12_cascade_index_does_not_match_name() {
    let f = fixture("L1_full_observability");
    f.edit("cascades.yaml", "source_index: 2", "source_index: 3");
    expect(
        &f.errors(),
        "cascades.yaml",
        "cascades[0].source_index",
        &["3 but 'satiation' has index 2"],
    );
}

#[test]
fn e13_unknown_cascade_category() {
    let f = fixture("L1_full_observability");
    // cascades[4] is hygiene_to_fitness (the second secondary_to_primary entry).
    f.edit_nth(
        "cascades.yaml",
        "category: secondary_to_primary",
        "category: tertiary",
        1,
    );
    expect(
        &f.errors(),
        "cascades.yaml",
        "cascades[4].category",
        &[
            "'tertiary' is not one of primary_to_pivotal, secondary_to_primary, secondary_to_pivotal_weak",
        ],
    );
}

#[test]
fn e14_reordered_execution_order() {
    let f = fixture("L1_full_observability");
    f.edit(
        "cascades.yaml",
        "  - primary_to_pivotal\n  - secondary_to_primary\n",
        "  - secondary_to_primary\n  - primary_to_pivotal\n",
    );
    expect(
        &f.errors(),
        "cascades.yaml",
        "execution_order",
        &[
            "the order is fixed to [modulations, primary_to_pivotal, secondary_to_primary, secondary_to_pivotal_weak]",
            "got [\"modulations\", \"secondary_to_primary\"",
        ],
    );
}

#[test]
fn e15_required_ticks_missing() {
    let f = fixture("L1_full_observability");
    f.edit("affordances.yaml", "    required_ticks: 5\n", "");
    expect(
        &f.errors(),
        "affordances.yaml",
        "affordances[0].required_ticks",
        &["required for interaction_type 'dual'"],
    );
}

#[test]
fn e15_required_ticks_forbidden() {
    let f = fixture("L1_full_observability");
    f.edit(
        "affordances.yaml",
        "interaction_type: dual\n    required_ticks: 5",
        "interaction_type: instant\n    required_ticks: 5",
    );
    expect(
        &f.errors(),
        "affordances.yaml",
        "affordances[0].required_ticks",
        &["not allowed for interaction_type 'instant'", "got 5"],
    );
}

#[test]
fn e16_bad_operating_hours() {
    let f = fixture("L1_full_observability");
    f.edit(
        "affordances.yaml",
        "operating_hours: [18, 28]",
        "operating_hours: [18, 30]",
    );
    expect(
        &f.errors(),
        "affordances.yaml",
        "affordances[9].operating_hours",
        &["close 30 is outside 1..28"],
    );
}

#[test]
fn e16_operating_hours_wrap_overlaps_open() {
    let f = fixture("L1_full_observability");
    f.edit(
        "affordances.yaml",
        "operating_hours: [18, 28]",
        "operating_hours: [3, 28]",
    );
    expect(
        &f.errors(),
        "affordances.yaml",
        "affordances[9].operating_hours",
        &["close 28", "before open 3"],
    );
}

#[test]
fn e17_duplicate_affordance_name() {
    let f = fixture("L1_full_observability");
    f.edit("affordances.yaml", "name: Doctor", "name: Bed");
    expect(
        &f.errors(),
        "affordances.yaml",
        "affordances[5].name",
        &["'Bed' is defined twice"],
    );
}

#[test]
fn e17_duplicate_affordance_id() {
    let f = fixture("L1_full_observability");
    f.edit("affordances.yaml", "id: \"5\"", "id: \"0\"");
    expect(
        &f.errors(),
        "affordances.yaml",
        "affordances[5].id",
        &["'0' is defined twice"],
    );
}

#[test]
fn e18_wait_cost_not_below_move_cost() {
    let f = fixture("L1_full_observability");
    f.edit(
        "training.yaml",
        "energy_wait_depletion: 0.001",
        "energy_wait_depletion: 0.005",
    );
    expect(
        &f.errors(),
        "training.yaml",
        "environment.energy_wait_depletion",
        &["0.005 must be less than environment.energy_move_depletion (0.005)"],
    );
}

#[test]
fn e19_unknown_enabled_affordance() {
    let f = fixture("L0_5_dual_resource");
    f.edit("training.yaml", "[Bed, Hospital,", "[Bed, Hotel,");
    expect(
        &f.errors(),
        "L0_5_dual_resource/training.yaml",
        "environment.enabled_affordances[1]",
        &["no affordance named 'Hotel' in affordances.yaml"],
    );
}

#[test]
fn e20_pomdp_on_a_non_grid_substrate() {
    let f = fixture("L2_partial_observability");
    f.edit("substrate.yaml", "type: grid", "type: aspatial");
    let errs = f.errors();
    expect(
        &errs,
        "training.yaml",
        "environment.partial_observability",
        &["POMDP needs a 2-D grid, but substrate.yaml type is 'aspatial'"],
    );
    expect(
        &errs,
        "substrate.yaml",
        "type",
        &["'aspatial' is not supported"],
    );
}

#[test]
fn e21_pomdp_with_non_relative_encoding() {
    let f = fixture("L2_partial_observability");
    f.edit(
        "substrate.yaml",
        "observation_encoding: relative",
        "observation_encoding: scaled",
    );
    expect(
        &f.errors(),
        "L2_partial_observability/substrate.yaml",
        "grid.observation_encoding",
        &["must be 'relative' when partial_observability is true (got 'scaled')"],
    );
}

#[test]
fn e22_grid_size_disagrees_with_substrate() {
    let f = fixture("L1_full_observability");
    f.edit("training.yaml", "grid_size: 8", "grid_size: 10");
    expect(
        &f.errors(),
        "training.yaml",
        "environment.grid_size",
        &["10 but substrate.yaml grid.width is 8"],
    );
}

#[test]
fn e23_non_square_grid() {
    let f = fixture("L1_full_observability");
    f.edit("substrate.yaml", "height: 8", "height: 6");
    expect(
        &f.errors(),
        "substrate.yaml",
        "grid.height",
        &["6 must equal grid.width (8)"],
    );
}

#[test]
fn e24_unsupported_substrate() {
    let f = fixture("L1_full_observability");
    f.edit("substrate.yaml", "type: grid", "type: continuous");
    expect(
        &f.errors(),
        "substrate.yaml",
        "type",
        &["'continuous' is not supported (only grid/square)"],
    );
}

#[test]
fn e24_unsupported_topology() {
    let f = fixture("L1_full_observability");
    f.edit(
        "substrate.yaml",
        "topology: square",
        "topology: cubic\n  depth: 8",
    );
    expect(
        &f.errors(),
        "substrate.yaml",
        "grid.topology",
        &["'cubic' is not supported"],
    );
}

#[test]
fn e25_too_many_affordances_for_the_grid() {
    let f = fixture("L0_0_minimal");
    f.edit(
        "training.yaml",
        "enabled_affordances: [Bed]",
        "enabled_affordances: [Bed, LuxuryBed, Shower, HomeMeal, FastFood, Doctor, Hospital, Therapist, Recreation]",
    );
    expect(
        &f.errors(),
        "training.yaml",
        "environment.enabled_affordances",
        &["9 affordances need 9 cells plus one free cell, but the 3×3 grid has 9"],
    );
}

#[test]
fn e26_instant_affordance_with_temporal_mechanics() {
    let f = fixture("L3_temporal_mechanics");
    // affordances[2] is Shower; make it instant-only (no required_ticks allowed then).
    f.edit(
        "affordances.yaml",
        "interaction_type: dual\n    required_ticks: 3",
        "interaction_type: instant",
    );
    expect(
        &f.errors(),
        "L3_temporal_mechanics/affordances.yaml",
        "affordances[2].interaction_type",
        &["'instant' cannot run with enable_temporal_mechanics: true"],
    );
}

#[test]
fn e27_bad_custom_action() {
    let f = fixture("L1_full_observability");
    f.edit(
        GLOBAL_ACTIONS_FILE,
        "    type: passive\n",
        "    type: passive\n    delta: [1, 0]\n",
    );
    let errs = f.errors();
    expect(
        &errs,
        "configs/global_actions.yaml",
        "custom_actions[0].delta",
        &["only allowed for type 'movement'"],
    );
}

#[test]
fn e27_movement_action_without_delta() {
    let f = fixture("L1_full_observability");
    f.edit(GLOBAL_ACTIONS_FILE, "type: passive", "type: movement");
    expect(
        &f.errors(),
        "global_actions.yaml",
        "custom_actions[0]",
        &["type 'movement' needs delta or teleport_to"],
    );
}

#[test]
fn e27_custom_action_shadows_a_substrate_action() {
    let f = fixture("L1_full_observability");
    f.edit(GLOBAL_ACTIONS_FILE, "name: REST", "name: WAIT");
    expect(
        &f.errors(),
        "global_actions.yaml",
        "custom_actions[0].name",
        &["'WAIT' is a substrate action name"],
    );
}

#[test]
fn e28_recurrent_net_without_pomdp() {
    let f = fixture("L1_full_observability");
    f.edit(
        "training.yaml",
        "network_type: simple",
        "network_type: recurrent",
    );
    expect(
        &f.errors(),
        "training.yaml",
        "population.network_type",
        &["'recurrent' requires environment.partial_observability: true"],
    );
}

#[test]
fn e29_missing_file() {
    let f = fixture("L1_full_observability");
    std::fs::remove_file(f.pack.join("cascades.yaml")).expect("rm");
    let errs = f.errors();
    expect(
        &errs,
        "L1_full_observability/cascades.yaml",
        "",
        &["file not found"],
    );
    assert!(
        errs.to_string()
            .contains("L1_full_observability/cascades.yaml: file not found")
    );
}

#[test]
fn e30_yaml_syntax_error() {
    let f = fixture("L1_full_observability");
    // Line 12 of bars.yaml is `bars:`; the next line gets a second `:` in a plain scalar.
    let text = std::fs::read_to_string(f.pack.join("bars.yaml")).expect("read");
    let line = text
        .lines()
        .position(|l| l.starts_with("bars:"))
        .expect("bars: line")
        + 1;
    f.edit("bars.yaml", "  - name: energy", "  - name: energy: oops");
    let errs = f.errors();
    let want_line = format!("line {}, column", line + 1);
    expect(
        &errs,
        "L1_full_observability/bars.yaml",
        "",
        &[&want_line, "mapping values are not allowed"],
    );
}

#[test]
fn e31_epsilon_min_above_start() {
    let f = fixture("L1_full_observability");
    f.edit("training.yaml", "epsilon_start: 1.0", "epsilon_start: 0.1");
    f.edit("training.yaml", "epsilon_min: 0.01", "epsilon_min: 0.5");
    expect(
        &f.errors(),
        "training.yaml",
        "training.epsilon_min",
        &["0.5 is greater than training.epsilon_start (0.1)"],
    );
}

#[test]
fn faults_in_two_files_are_both_reported() {
    let f = fixture("L1_full_observability");
    f.edit("bars.yaml", "initial: 1.0", "initial: 1.2");
    f.edit("training.yaml", "grid_size: 8", "grid_size: 10");
    let errs = f.errors();
    expect(&errs, "bars.yaml", "bars[0].initial", &["1.2"]);
    expect(&errs, "training.yaml", "environment.grid_size", &["10"]);
    assert_eq!(errs.len(), 2, "{errs}");
}

#[test]
fn unknown_key_is_an_error_at_every_level() {
    let f = fixture("L1_full_observability");
    f.edit("substrate.yaml", "type: grid", "type: grid\ncolour: blue");
    f.edit(
        "substrate.yaml",
        "  boundary: clamp",
        "  boundary: clamp\n  walls: true",
    );
    f.edit(
        "affordances.yaml",
        "{meter: money, amount: 0.05}",
        "{meter: money, amount: 0.05, type: fee}",
    );
    let errs = f.errors();
    expect(&errs, "substrate.yaml", "colour", &["unknown key 'colour'"]);
    expect(
        &errs,
        "substrate.yaml",
        "grid.walls",
        &["unknown key 'walls'"],
    );
    // `type` is allowed in effects only.
    expect(
        &errs,
        "affordances.yaml",
        "affordances[0].costs[0].type",
        &["unknown key 'type'"],
    );
}

#[test]
fn floats_are_rejected_where_integers_are_expected() {
    let f = fixture("L1_full_observability");
    f.edit("substrate.yaml", "width: 8", "width: 8.0");
    expect(
        &f.errors(),
        "substrate.yaml",
        "grid.width",
        &["expected an integer, got 8.0"],
    );
}

#[test]
fn empty_file_and_non_mapping_top_level_are_errors() {
    let f = fixture("L1_full_observability");
    std::fs::write(f.pack.join("substrate.yaml"), "# nothing here\n").expect("write");
    std::fs::write(f.pack.join("cascades.yaml"), "- a\n- b\n").expect("write");
    let errs = f.errors();
    expect(&errs, "substrate.yaml", "", &["empty"]);
    expect(&errs, "cascades.yaml", "", &["must be a mapping", "a list"]);
}

#[test]
fn min_steps_alias_and_min_episodes_together_is_an_error() {
    let f = fixture("L1_full_observability");
    f.edit(
        "training.yaml",
        "  min_episodes_at_stage: 1000",
        "  min_episodes_at_stage: 1000\n  min_steps_at_stage: 1000",
    );
    expect(
        &f.errors(),
        "training.yaml",
        "curriculum.min_steps_at_stage",
        &["not both"],
    );
}

/// Truncating any file at any point must give errors or a pack, never a panic.
#[test]
fn truncated_files_never_panic() {
    let f = fixture("L3_temporal_mechanics");
    for file in PACK_FILES {
        let p = f.pack.join(file);
        let full = std::fs::read(&p).expect("read");
        for cut in (0..full.len()).step_by(37) {
            std::fs::write(&p, &full[..cut]).expect("write");
            let _ = load_pack(&f.pack);
        }
        std::fs::write(&p, &full).expect("restore");
    }
    assert!(load_pack(&f.pack).is_ok());
}

#[test]
fn teleport_outside_the_grid_is_an_error() {
    let f = fixture("L0_0_minimal");
    f.edit(
        GLOBAL_ACTIONS_FILE,
        "custom_actions:\n",
        "custom_actions:\n  - name: JUMP\n    type: movement\n    costs: {}\n    effects: {}\n    teleport_to: [5, 0]\n",
    );
    expect(
        &f.errors(),
        "global_actions.yaml",
        "custom_actions[0].teleport_to",
        &["[5, 0] is outside the 3×3 grid"],
    );
}

#[test]
fn a_broken_enabled_list_reports_only_itself() {
    let f = fixture("L0_0_minimal");
    f.edit(
        "training.yaml",
        "enabled_affordances: [Bed]",
        "enabled_affordances: [Bed, 3]",
    );
    let errs = f.errors();
    expect(
        &errs,
        "training.yaml",
        "environment.enabled_affordances[1]",
        &["expected a string, got number 3"],
    );
    assert_eq!(errs.len(), 1, "{errs}");
}
