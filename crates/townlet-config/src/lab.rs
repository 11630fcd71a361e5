//! Lab files: several runs, each a pack with its own overrides, trained side by side to
//! answer one question.
//!
//! ```yaml
//! title: Does curiosity help?            # required
//! description: One paragraph for the run picker.   # optional
//! runs:                                  # required, at least one
//!   - name: with curiosity               # required, unique in the lab
//!     pack: L1_full_observability        # required: the lab file's folder, then configs/
//!     seed: 1                            # optional: training.seed
//!     episodes: 2000                     # optional: training.max_episodes
//!     network: recurrent                 # optional: population.network_type
//!     set: {exploration.initial_intrinsic_weight: 0}   # optional overrides
//! ```
//!
//! `seed`, `episodes` and `network` are shorthands for the overrides named after them
//! (giving both is an error). Every run's pack is loaded with its overrides while the lab
//! is read, so a lab that loads can start every run.

use crate::error::ConfigErrors;
use crate::load::{PACK_FILES, load_pack_with, read_text};
use crate::overrides::{Origin, Override, Overrides};
use crate::types::{NetworkType, Pack};
use crate::walk::{Errs, Obj, as_int, as_nonempty, as_word, describe};
use serde_norway::{Number, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A validated lab file.
#[derive(Debug, Clone)]
pub struct Lab {
    pub title: String,
    pub description: Option<String>,
    /// The lab file, as given.
    pub file: PathBuf,
    /// In file order.
    pub runs: Vec<LabRun>,
}

/// One run of a lab.
#[derive(Debug, Clone)]
pub struct LabRun {
    /// URL-safe and unique in the lab: the name in lower case, other characters as `-`
    /// (`with curiosity` → `with-curiosity`), with `-2`, `-3`… when two names meet.
    pub id: String,
    pub name: String,
    /// The pack folder the run's `pack:` resolved to.
    pub pack_dir: PathBuf,
    /// `set:` plus the shorthands (`seed`, `episodes`, `network`), in that order.
    pub overrides: Overrides,
    /// The pack loaded with `overrides`.
    pub pack: Pack,
}

/// Shorthand run keys and the override each stands for.
const SHORTHANDS: [(&str, &str); 3] = [
    ("seed", "training.seed"),
    ("episodes", "training.max_episodes"),
    ("network", "population.network_type"),
];

/// Reads and validates the lab in `file`; a run's `pack:` is looked up in the lab
/// file's folder, then in `configs_root`. Every problem in the lab and in every run's
/// pack is returned together, each naming the lab file, the run and the key.
pub fn load_lab(file: &Path, configs_root: &Path) -> Result<Lab, ConfigErrors> {
    let label = file.display().to_string();
    let mut e = Errs::default();
    let doc = read(&mut e, &label, file).ok_or_else(|| ConfigErrors(e.list.clone()))?;
    let Some(mut top) = Obj::new(&mut e, &label, "", &doc) else {
        return Err(ConfigErrors(e.list));
    };
    let title = top
        .req_nonempty(&mut e, "title")
        .map(|s| s.trim().to_string());
    let description = match top.get_opt("description") {
        None => None,
        Some(v) => as_nonempty(&mut e, &label, "description", v).map(str::to_string),
    };
    let lab_dir = file.parent().unwrap_or(Path::new("."));
    let mut runs = Vec::new();
    if let Some(items) = top.req_list(&mut e, "runs") {
        if items.is_empty() {
            e.push(&label, "runs", "the lab has no runs");
        }
        let mut names = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for (path, item) in &items {
            let Some(run) = read_run(&mut e, &label, path, item, lab_dir, configs_root) else {
                continue;
            };
            if !names.insert(run.name.clone()) {
                e.push(
                    &label,
                    &format!("{path}.name"),
                    format!("'{}' is the name of an earlier run", run.name),
                );
                continue;
            }
            let id = unique_id(&slug(&run.name), &ids);
            ids.insert(id.clone());
            runs.push(LabRun { id, ..run });
        }
    }
    top.finish(&mut e);
    if !e.list.is_empty() {
        return Err(ConfigErrors(e.list));
    }
    Ok(Lab {
        title: title.unwrap_or_default(),
        description,
        file: file.to_path_buf(),
        runs,
    })
}

/// One `runs[i]` entry, its pack loaded. `None` (errors recorded) when it cannot run.
fn read_run(
    e: &mut Errs,
    label: &str,
    path: &str,
    item: &Value,
    lab_dir: &Path,
    configs_root: &Path,
) -> Option<LabRun> {
    let mut o = Obj::new(e, label, path, item)?;
    let name = o.req_nonempty(e, "name").map(|s| s.trim().to_string());
    // Later errors of this run name it: `runs[1] (epsilon only).seed`.
    let at = match &name {
        Some(n) => format!("{path} ({n})"),
        None => path.to_string(),
    };
    o.path.clone_from(&at);
    let key = |k: &str| format!("{at}.{k}");
    let pack_dir = o
        .req_nonempty(e, "pack")
        .and_then(|p| resolve_pack(e, label, &key("pack"), p, lab_dir, configs_root));
    let mut overrides = Some(Overrides::default());
    match o.get_opt("set") {
        None => {}
        Some(Value::Mapping(m)) => {
            for (k, v) in m {
                let Value::String(k) = k else {
                    let msg = format!("a key must be a string, got {}", describe(k));
                    e.push(label, &key("set"), msg);
                    overrides = None;
                    continue;
                };
                match (Override::new(k, v.clone(), Origin::Lab), overrides.as_mut()) {
                    (Ok(ov), Some(list)) => list.push(ov),
                    (Ok(_), None) => {}
                    (Err(problem), _) => {
                        e.push(label, &key(&format!("set.{k}")), problem);
                        overrides = None;
                    }
                }
            }
        }
        Some(other) => {
            let msg = format!("expected a mapping of key: value, got {}", describe(other));
            e.push(label, &key("set"), msg);
            overrides = None;
        }
    }
    for (short, target) in SHORTHANDS {
        let Some(v) = o.get_opt(short) else {
            continue;
        };
        let k = key(short);
        let value = match short {
            "network" => as_word::<NetworkType>(e, label, &k, v).map(|_| v.clone()),
            "seed" => as_int::<u64>(e, label, &k, v, 0).map(|n| Value::Number(Number::from(n))),
            _ => as_int::<u64>(e, label, &k, v, 1).map(|n| Value::Number(Number::from(n))),
        };
        let Some(list) = overrides.as_mut() else {
            continue;
        };
        if list.iter().any(|x| x.key() == target) {
            e.push(
                label,
                &k,
                format!("give {short} or set: {{{target}: ...}}, not both"),
            );
            overrides = None;
            continue;
        }
        match value.map(|v| Override::new(target, v, Origin::Lab)) {
            Some(Ok(ov)) => list.push(ov),
            _ => overrides = None,
        }
    }
    o.finish(e);
    let (name, pack_dir, overrides) = (name?, pack_dir?, overrides?);
    let pack = match load_pack_with(&pack_dir, &overrides) {
        Ok(p) => p,
        Err(errs) => {
            for err in errs.iter() {
                e.push(label, &at, err.to_string());
            }
            return None;
        }
    };
    Some(LabRun {
        id: String::new(),
        name,
        pack_dir,
        overrides,
        pack,
    })
}

/// `pack:` in the lab file's folder, then in the configs root.
fn resolve_pack(
    e: &mut Errs,
    label: &str,
    key: &str,
    pack: &str,
    lab_dir: &Path,
    configs_root: &Path,
) -> Option<PathBuf> {
    let is_pack = |d: &Path| d.join(PACK_FILES[4]).is_file();
    let here = lab_dir.join(pack);
    if is_pack(&here) {
        return Some(here);
    }
    let there = configs_root.join(pack);
    if is_pack(&there) {
        return Some(there);
    }
    e.push(
        label,
        key,
        format!(
            "no pack '{pack}' in {} or {} (a pack folder holds training.yaml)",
            lab_dir.display(),
            configs_root.display()
        ),
    );
    None
}

fn read(e: &mut Errs, label: &str, file: &Path) -> Option<Value> {
    let text = read_text(e, label, file, "lab file not found")?;
    match serde_norway::from_str::<Value>(&text) {
        Ok(v) => Some(v),
        Err(err) => {
            e.push(label, "", format!("invalid YAML: {err}"));
            None
        }
    }
}

/// Lower-case ASCII letters and digits; every other run of characters becomes one `-`.
fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() { "run".to_string() } else { s }
}

fn unique_id(base: &str, taken: &BTreeSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2..)
        .map(|k| format!("{base}-{k}"))
        .find(|id| !taken.contains(id))
        .unwrap_or_default()
}

impl Lab {
    /// The run with this id.
    pub fn run(&self, id: &str) -> Option<&LabRun> {
        self.runs.iter().find(|r| r.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_url_safe_and_unique() {
        assert_eq!(slug("with curiosity"), "with-curiosity");
        assert_eq!(slug("  ε only (fast!) "), "only-fast");
        assert_eq!(slug("—"), "run");
        let taken: BTreeSet<String> = ["a-b".to_string(), "a-b-2".to_string()].into();
        assert_eq!(unique_id("a-b", &taken), "a-b-3");
        assert_eq!(unique_id("c", &taken), "c");
    }
}
