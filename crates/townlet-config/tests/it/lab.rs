//! Lab files: schema, pack lookup, per-run overrides, and the shipped labs.

use crate::common::{assert_said_once, chain, configs, fixture};
use std::path::{Path, PathBuf};
use townlet_config::*;

fn write_lab(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("lab.yaml");
    std::fs::write(&p, text).expect("write lab");
    p
}

fn lab_errors(file: &Path, root: &Path) -> Vec<String> {
    match load_lab(file, root) {
        Ok(_) => panic!("the faulty lab loaded"),
        Err(e) => {
            assert_said_once(&chain(&e));
            e.iter().map(ToString::to_string).collect()
        }
    }
}

#[test]
fn a_lab_loads_every_run_with_its_overrides() {
    let f = fixture("L1_full_observability");
    let lab = write_lab(
        f.tmp.path(),
        "title: Does curiosity help?\nruns:\n  - {name: with curiosity, pack: L1_full_observability, seed: 1}\n  - {name: epsilon only, pack: L1_full_observability, seed: 1, episodes: 300,\n     set: {exploration.initial_intrinsic_weight: 0}}\n",
    );
    let lab = load_lab(&lab, &f.root).expect("lab loads");
    assert_eq!(lab.title, "Does curiosity help?");
    let ids: Vec<&str> = lab.runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["with-curiosity", "epsilon-only"]);
    let [a, b] = &lab.runs[..] else {
        panic!("two runs")
    };
    assert_eq!(a.pack.training.seed, 1);
    assert_eq!(a.pack.exploration.initial_intrinsic_weight, 1.0);
    assert_eq!(b.pack.exploration.initial_intrinsic_weight, 0.0);
    assert_eq!(b.pack.training.max_episodes, Some(300));
    let keys: Vec<String> = b.overrides.iter().map(Override::key).collect();
    assert_eq!(
        keys,
        [
            "exploration.initial_intrinsic_weight",
            "training.seed",
            "training.max_episodes"
        ]
    );
    assert_eq!(b.pack.overrides, b.overrides);
    assert_eq!(
        lab.run("epsilon-only").map(|r| r.name.as_str()),
        Some("epsilon only")
    );
}

#[test]
fn a_pack_next_to_the_lab_file_comes_first() {
    let f = fixture("L0_0_minimal");
    let labs = f.root.join("labs");
    std::fs::create_dir_all(&labs).expect("mkdir");
    let lab = write_lab(
        &labs,
        "title: t\nruns:\n  - {name: a, pack: L0_0_minimal}\n  - {name: b, pack: ../L0_0_minimal}\n",
    );
    let lab = load_lab(&lab, &configs()).expect("loads");
    assert_eq!(lab.runs[0].pack_dir, configs().join("L0_0_minimal"));
    assert_eq!(lab.runs[1].pack_dir, labs.join("../L0_0_minimal"));
}

#[test]
fn every_problem_names_the_lab_the_run_and_the_key() {
    let f = fixture("L1_full_observability");
    let lab = write_lab(
        f.tmp.path(),
        "title: ''\ncolour: red\nruns:\n\
         \x20 - {name: a, pack: L1_full_observability, speed: 3}\n\
         \x20 - {name: a, pack: L1_full_observability}\n\
         \x20 - {name: b, pack: L9_nowhere}\n\
         \x20 - {name: c, pack: L1_full_observability, seed: -1, network: lstm}\n\
         \x20 - {name: d, pack: L1_full_observability, set: {exploration.initial_intrinsic_weight: -1}}\n\
         \x20 - {name: e, pack: L1_full_observability, set: {foo.bar: 1}}\n\
         \x20 - {name: f, pack: L1_full_observability, seed: 2, set: {training.seed: 3}}\n\
         \x20 - {pack: L1_full_observability}\n",
    );
    let shown = lab_errors(&lab, &f.root);
    let file = lab.display().to_string();
    let expect = [
        format!("{file}: title: must not be empty"),
        format!("{file}: runs[0] (a).speed: unknown key 'speed'"),
        format!("{file}: runs[1].name: 'a' is the name of an earlier run"),
        format!("{file}: runs[2] (b).pack: no pack 'L9_nowhere' in"),
        format!("{file}: runs[3] (c).seed: -1 must be ≥ 0"),
        format!("{file}: runs[3] (c).network: 'lstm' is not one of simple, recurrent"),
        format!(
            "{file}: runs[4] (d): L1_full_observability/training.yaml: \
             exploration.initial_intrinsic_weight: -1 must be ≥ 0 \
             (from the lab's set: exploration.initial_intrinsic_weight: -1)"
        ),
        format!("{file}: runs[5] (e).set.foo.bar: 'foo' is not a section of training.yaml"),
        format!("{file}: runs[6] (f).seed: give seed or set: {{training.seed: ...}}, not both"),
        format!("{file}: runs[7].name: required key is missing"),
        format!("{file}: colour: unknown key 'colour'"),
    ];
    for want in &expect {
        assert!(
            shown.iter().any(|s| s.starts_with(want.as_str())),
            "missing {want:?} in\n{shown:#?}"
        );
    }
    assert_eq!(shown.len(), expect.len(), "{shown:#?}");
}

#[test]
fn a_run_whose_settings_do_not_fit_its_pack_is_refused() {
    // Recurrent needs partial observability; the pack's own rule says so.
    let f = fixture("L1_full_observability");
    let lab = write_lab(
        f.tmp.path(),
        "title: t\nruns: [{name: m, pack: L1_full_observability, network: recurrent}]\n",
    );
    let shown = lab_errors(&lab, &f.root);
    assert_eq!(shown.len(), 1, "{shown:#?}");
    assert!(shown[0].contains("runs[0] (m): L1_full_observability/training.yaml: population.network_type: 'recurrent' requires"), "{shown:#?}");
    assert!(
        shown[0].ends_with("(from the lab's set: population.network_type: \"recurrent\")"),
        "{shown:#?}"
    );
}

#[test]
fn empty_and_missing_labs_are_errors() {
    let f = fixture("L0_0_minimal");
    let shown = lab_errors(&write_lab(f.tmp.path(), "title: t\nruns: []\n"), &f.root);
    assert_eq!(shown.len(), 1);
    assert!(shown[0].ends_with("runs: the lab has no runs"), "{shown:?}");
    let shown = lab_errors(&f.tmp.path().join("none.yaml"), &f.root);
    assert!(
        shown[0].ends_with("none.yaml: lab file not found"),
        "{shown:?}"
    );
    let shown = lab_errors(&write_lab(f.tmp.path(), "- a\n"), &f.root);
    assert!(shown[0].contains("expected a mapping"), "{shown:?}");
}

#[test]
fn every_shipped_lab_loads() {
    let dir = configs().join("labs");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("configs/labs") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "yaml") {
            let lab =
                load_lab(&path, &configs()).unwrap_or_else(|e| panic!("{}:\n{e}", path.display()));
            assert!(
                lab.runs.len() >= 2,
                "{}: a lesson compares runs",
                path.display()
            );
            n += 1;
        }
    }
    assert!(n >= 3, "at least three lessons, found {n}");
}
