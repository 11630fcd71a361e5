//! `load_pack`: read the six files, apply the overrides, check each one's schema (one module per file), then
//! the rules that span files (`cross`). Every problem is collected; the pack is built
//! only when none was found.
//!
//! One module per file: `bars` (meters, terminal conditions, and the meter names the
//! other files resolve), `substrate` (the grid), `cascades` (modulations, cascades),
//! `affordances`, `training` and `recording` (both read `training.yaml`), and
//! `global_actions` (custom actions, shared by every pack of a configs root).

mod affordances;
mod bars;
mod cascades;
mod cross;
mod global_actions;
mod recording;
mod substrate;
mod training;

use crate::error::{ConfigError, ConfigErrors};
use crate::overrides::{OVERRIDES_FILE, Overrides};
use crate::types::Pack;
use crate::walk::{Errs, describe};
use serde_norway::Value;
use std::path::{Path, PathBuf};

/// The five files every pack folder must hold.
pub const PACK_FILES: [&str; 5] = [
    "substrate.yaml",
    "bars.yaml",
    "cascades.yaml",
    "affordances.yaml",
    "training.yaml",
];

/// The shared custom-actions file, in the configs root (the pack folder's parent).
pub const GLOBAL_ACTIONS_FILE: &str = "global_actions.yaml";

/// Loads and validates the pack in `dir` plus `<dir>/../global_actions.yaml`, with the
/// pack folder's `overrides.yaml` applied when there is one.
///
/// All errors across all files are returned together. Never panics on any input.
pub fn load_pack(dir: &Path) -> Result<Pack, ConfigErrors> {
    load_pack_with(dir, &Overrides::default())
}

/// [`load_pack`] with `overrides` applied on top of the pack folder's own
/// `overrides.yaml`, before validation: each value is checked like the same value in
/// the file. The pack remembers them all ([`Pack::overrides`]).
pub fn load_pack_with(dir: &Path, overrides: &Overrides) -> Result<Pack, ConfigErrors> {
    let (name, configs_root) = locate(dir)?;
    let root_label = configs_root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| configs_root.display().to_string());
    let global_label = format!("{root_label}/{GLOBAL_ACTIONS_FILE}");
    let labels: Vec<String> = PACK_FILES.iter().map(|f| format!("{name}/{f}")).collect();

    let mut e = Errs::default();
    let mut warnings = Vec::new();

    // 1. Parse all six files, then write the overrides into them.
    let mut docs: Vec<Option<Value>> = PACK_FILES
        .iter()
        .zip(&labels)
        .map(|(f, label)| read_yaml(&mut e, label, &dir.join(f)))
        .collect();
    let global_path = configs_root.join(GLOBAL_ACTIONS_FILE);
    let global_doc = if global_path.exists() {
        read_yaml(&mut e, &global_label, &global_path)
    } else {
        warnings.push(format!(
            "{global_label} not found: no custom actions (action_dim 6)"
        ));
        None
    };
    let from_pack = dir.join(OVERRIDES_FILE);
    let overrides = if from_pack.exists() {
        let label = format!("{name}/{OVERRIDES_FILE}");
        read_yaml(&mut e, &label, &from_pack)
            .map(|doc| Overrides::from_doc(&mut e, &label, &doc))
            .unwrap_or_default()
            .merged(overrides)
    } else {
        overrides.clone()
    };
    overrides.apply(&mut e, &mut docs, &labels);
    let [sub_l, bars_l, casc_l, aff_l, train_l] = [0, 1, 2, 3, 4].map(|i| labels[i].as_str());

    // 2. Per-file schemas. bars.yaml first: the others resolve meter names against it.
    let bars = docs[1]
        .as_ref()
        .map(|v| bars::parse(&mut e, bars_l, v))
        .unwrap_or_default();
    let table = bars.table.as_ref();
    let substrate = docs[0]
        .as_ref()
        .map(|v| substrate::parse(&mut e, sub_l, v))
        .unwrap_or_default();
    let cascades = docs[2]
        .as_ref()
        .map(|v| cascades::parse(&mut e, casc_l, v, table))
        .unwrap_or_default();
    let affs = docs[3]
        .as_ref()
        .and_then(|v| affordances::parse(&mut e, aff_l, v, table));
    let train = docs[4]
        .as_ref()
        .map(|v| training::parse(&mut e, train_l, v, &name, &mut warnings))
        .unwrap_or_default();
    let custom = match (&global_doc, global_path.exists()) {
        (Some(v), _) => global_actions::parse(&mut e, &global_label, v, table, &mut warnings),
        (None, false) => Some(Vec::new()),
        (None, true) => None, // unreadable: error already recorded
    };

    // 3. Rules that span files.
    cross::check(
        &mut e,
        &cross::Files {
            sub: sub_l,
            aff: aff_l,
            train: train_l,
            global: &global_label,
        },
        &substrate,
        affs.as_deref(),
        &train,
        custom.as_deref(),
    );

    if !e.list.is_empty() {
        overrides.annotate(&mut e.list, &labels);
        return Err(ConfigErrors(e.list));
    }
    let internal = || {
        ConfigErrors(vec![ConfigError {
            file: name.clone(),
            key: String::new(),
            message: "internal error: validation passed but a section is incomplete".into(),
        }])
    };
    let build = || -> Option<Pack> {
        Some(Pack {
            name: name.clone(),
            dir: dir.to_path_buf(),
            configs_root: configs_root.clone(),
            substrate: substrate.substrate?,
            meters: bars.meters?,
            terminal_conditions: bars.terminal?,
            modulations: cascades.modulations?,
            cascades: cascades.cascades?,
            affordances: affs?.into_iter().map(|a| a.def).collect(),
            custom_actions: custom?,
            run_metadata: train.run_metadata?,
            environment: train.environment?,
            population: train.population?,
            curriculum: train.curriculum?,
            exploration: train.exploration?,
            training: train.training?,
            recording: train.recording?,
            overrides: overrides.clone(),
            warnings,
        })
    };
    build().ok_or_else(internal)
}

/// Pack name and configs root from the pack folder path.
fn locate(dir: &Path) -> Result<(String, PathBuf), ConfigErrors> {
    let fail = |msg: String| {
        ConfigErrors(vec![ConfigError {
            file: dir.display().to_string(),
            key: String::new(),
            message: msg,
        }])
    };
    if !dir.is_dir() {
        return Err(fail("pack folder not found".to_string()));
    }
    // A plain last component (`configs/L1`) keeps the path as given; `.` or `..` need
    // the canonical path to know the folder's name and parent.
    let plain = matches!(
        dir.components().next_back(),
        Some(std::path::Component::Normal(_))
    );
    if plain {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        let root = if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent
        };
        return Ok((name, root));
    }
    let abs = dir
        .canonicalize()
        .map_err(|err| fail(format!("cannot resolve the pack folder: {err}")))?;
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| fail("the pack folder has no name".to_string()))?;
    let root = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((name, root))
}

/// Reads and parses one file; `None` (with an error recorded) when it cannot be used.
fn read_yaml(e: &mut Errs, label: &str, path: &Path) -> Option<Value> {
    let text = read_text(e, label, path, "file not found")?;
    match serde_norway::from_str::<Value>(&text) {
        Ok(Value::Null) => {
            e.push(label, "", "the file is empty");
            None
        }
        Ok(v @ Value::Mapping(_)) => Some(v),
        Ok(other) => {
            e.push(
                label,
                "",
                format!("the top level must be a mapping, got {}", describe(&other)),
            );
            None
        }
        Err(err) => {
            let msg = yaml_message(&err);
            match err.location() {
                Some(loc) => e.push(
                    label,
                    "",
                    format!("line {}, column {}: {msg}", loc.line(), loc.column()),
                ),
                None => e.push(label, "", format!("invalid YAML: {msg}")),
            }
            None
        }
    }
}

/// The file's text; `None` (with `missing` or the OS error recorded) when unreadable.
pub(crate) fn read_text(e: &mut Errs, label: &str, path: &Path, missing: &str) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            e.push(label, "", missing);
            None
        }
        Err(err) => {
            e.push(label, "", format!("cannot read: {err}"));
            None
        }
    }
}

/// The parser's message without its own " at line X column Y" suffix (we print ours).
fn yaml_message(err: &serde_norway::Error) -> String {
    let full = err.to_string();
    match full.find(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
}
