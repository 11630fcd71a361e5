//! Errors are said once: the chain a program prints (`error: ...` then `caused by: ...`
//! for each source) names the file, key and value, and no line repeats another.

use crate::common::{assert_said_once, chain, fixture};
use townlet_config::load_pack;

/// Loads the pack, expecting failure, and returns the printed chain (checked for repeats).
fn printed(dir: &std::path::Path) -> String {
    let err = load_pack(dir).expect_err("the pack must not load");
    let text = chain(&err);
    assert_said_once(&text);
    text
}

#[test]
fn missing_pack_folder() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("nonexistent");
    assert_eq!(
        printed(&dir),
        format!("error: {}: pack folder not found", dir.display())
    );
}

#[test]
fn yaml_syntax_error() {
    let f = fixture("L1_full_observability");
    let text = std::fs::read_to_string(f.pack.join("bars.yaml")).expect("read");
    let line = 1 + text
        .lines()
        .position(|l| l == "  - name: energy")
        .expect("energy line");
    f.edit("bars.yaml", "  - name: energy", "  - name: energy: oops");
    assert_eq!(
        printed(&f.pack),
        format!(
            "error: L1_full_observability/bars.yaml: line {line}, column 17: \
             mapping values are not allowed in this context"
        )
    );
}

#[test]
fn invalid_value_names_file_key_and_value() {
    let f = fixture("L1_full_observability");
    f.edit(
        "training.yaml",
        "learning_rate: 0.00025",
        "learning_rate: -0.00025",
    );
    assert_eq!(
        printed(&f.pack),
        "error: L1_full_observability/training.yaml: population.learning_rate: \
         -0.00025 must be > 0"
    );
}

#[test]
fn unknown_word_lists_the_accepted_ones() {
    let f = fixture("L0_0_minimal");
    f.edit("training.yaml", "device: flex", "device: gpu");
    assert_eq!(
        printed(&f.pack),
        "error: L0_0_minimal/training.yaml: training.device: \
         'gpu' is not one of flex, ndarray, cpu, cuda"
    );
}

#[test]
fn several_errors_are_one_line_each() {
    let f = fixture("L0_0_minimal");
    f.edit("training.yaml", "device: flex", "device: gpu");
    f.edit("bars.yaml", "tier: pivotal", "tier: vital");
    let text = printed(&f.pack);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("error: L0_0_minimal/bars.yaml: bars[")
            && lines[0]
                .ends_with(".tier: 'vital' is not one of pivotal, primary, secondary, resource"),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "L0_0_minimal/training.yaml: training.device: \
         'gpu' is not one of flex, ndarray, cpu, cuda"
    );
}
