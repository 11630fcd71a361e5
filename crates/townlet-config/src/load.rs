//! `load_pack`: read the six files, check each schema (config-packs.md §3–§8), then the
//! cross-file rules (§9). Every problem is collected; the pack is built only when none
//! was found.

use crate::error::{ConfigError, ConfigErrors};
use crate::types::*;
use crate::walk::{Errs, Obj, R, as_f32, as_int, as_list, as_str, describe, render};
use serde_norway::Value;
use std::collections::BTreeSet;
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

const EXECUTION_ORDER: [&str; 4] = [
    "modulations",
    "primary_to_pivotal",
    "secondary_to_primary",
    "secondary_to_pivotal_weak",
];

/// Loads and validates the pack in `dir` plus `<dir>/../global_actions.yaml`.
///
/// All errors across all files are returned together. Never panics on any input.
pub fn load_pack(dir: &Path) -> Result<Pack, ConfigErrors> {
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

    // 1. Parse all six files.
    let docs: Vec<Option<Value>> = PACK_FILES
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
    let [sub_l, bars_l, casc_l, aff_l, train_l] = [0, 1, 2, 3, 4].map(|i| labels[i].as_str());

    // 2. Per-file schemas. bars.yaml first: the others resolve meter names against it.
    let bars = docs[1]
        .as_ref()
        .map(|v| parse_bars(&mut e, bars_l, v))
        .unwrap_or_default();
    let table = bars.table.as_ref();
    let substrate = docs[0]
        .as_ref()
        .map(|v| parse_substrate(&mut e, sub_l, v))
        .unwrap_or_default();
    let cascades = docs[2]
        .as_ref()
        .map(|v| parse_cascades(&mut e, casc_l, v, table))
        .unwrap_or_default();
    let affs = docs[3]
        .as_ref()
        .and_then(|v| parse_affordances(&mut e, aff_l, v, table));
    let train = docs[4]
        .as_ref()
        .map(|v| parse_training(&mut e, train_l, v, &name, &mut warnings))
        .unwrap_or_default();
    let custom = match (&global_doc, global_path.exists()) {
        (Some(v), _) => parse_global(&mut e, &global_label, v, table, &mut warnings),
        (None, false) => Some(Vec::new()),
        (None, true) => None, // unreadable: error already recorded
    };

    // 3. Cross-file checks (§9).
    cross_checks(
        &mut e,
        &CrossFiles {
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
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            e.push(label, "", "file not found");
            return None;
        }
        Err(err) => {
            e.push(label, "", format!("cannot read: {err}"));
            return None;
        }
    };
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

/// The parser's message without its own " at line X column Y" suffix (we print ours).
fn yaml_message(err: &serde_norway::Error) -> String {
    let full = err.to_string();
    match full.find(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
}

// ---------------------------------------------------------------------------------------
// bars.yaml

/// Meter names with their indices (None where the index itself was invalid).
#[derive(Debug, Default)]
struct MeterTable {
    entries: Vec<(String, Option<usize>)>,
}

impl MeterTable {
    fn lookup(&self, name: &str) -> Option<Option<usize>> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| *i)
    }

    fn known(&self) -> String {
        let mut sorted: Vec<&(String, Option<usize>)> = self.entries.iter().collect();
        sorted.sort_by_key(|(_, i)| i.unwrap_or(usize::MAX));
        sorted
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Resolves a meter reference. Without a meter table (bars.yaml unusable) only the type
/// is checked, so one broken bars.yaml does not flood every other file with errors.
fn resolve_meter(
    e: &mut Errs,
    file: &str,
    key: &str,
    v: &Value,
    table: Option<&MeterTable>,
) -> Option<usize> {
    let name = as_str(e, file, key, v)?;
    let table = table?;
    match table.lookup(name) {
        Some(idx) => idx,
        None => {
            e.push(
                file,
                key,
                format!("unknown meter '{name}' (known: {})", table.known()),
            );
            None
        }
    }
}

fn req_meter(e: &mut Errs, o: &mut Obj, k: &'static str, t: Option<&MeterTable>) -> Option<usize> {
    let v = o.req(e, k)?;
    resolve_meter(e, o.file, &o.key(k), v, t)
}

#[derive(Debug, Default)]
struct BarsOut {
    table: Option<MeterTable>,
    meters: Option<Vec<MeterDef>>,
    terminal: Option<Vec<TerminalCondition>>,
}

fn parse_bars(e: &mut Errs, file: &str, root: &Value) -> BarsOut {
    let mut out = BarsOut::default();
    let Some(mut o) = Obj::new(e, file, "", root) else {
        return out;
    };
    o.req_doc(e, "version");
    o.req_doc(e, "description");
    o.doc(&["notes"]);

    if let Some(items) = o.req_list(e, "bars") {
        let n = items.len();
        if n == 0 || n > 32 {
            e.push(file, "bars", format!("must list 1 to 32 meters, got {n}"));
        }
        let mut defs = Vec::new();
        let mut all_ok = true;
        // (path, name, index) per entry, for the duplicate checks after the loop.
        let mut seen: Vec<(String, Option<String>, Option<usize>)> = Vec::new();
        for (path, v) in &items {
            let Some(mut b) = Obj::new(e, file, path, v) else {
                all_ok = false;
                continue;
            };
            let name = b.req_str(e, "name").and_then(|s| {
                if s.is_empty() {
                    e.push(file, &b.key("name"), "must not be empty");
                    None
                } else {
                    Some(s.to_string())
                }
            });
            let index = b.req_int::<usize>(e, "index", 0);
            let tier = b.req_enum(e, "tier", &["pivotal", "primary", "secondary", "resource"]);
            if let Some(r) = b.get_opt("range") {
                let ok = matches!(r, Value::Sequence(s) if s.len() == 2
                    && s[0].as_f64() == Some(0.0) && s[1].as_f64() == Some(1.0));
                if !ok {
                    e.push(
                        file,
                        &b.key("range"),
                        format!("must be [0.0, 1.0], got {}", render(r)),
                    );
                    all_ok = false;
                }
            }
            let initial = b.req_f32(e, "initial", R::In(0.0, 1.0));
            let base = b.req_f32(e, "base_depletion", R::Ge(0.0));
            let description = b.req_str(e, "description");
            b.doc(&["key_insight", "special", "cascade_pattern"]);
            b.finish(e);

            seen.push((path.clone(), name.clone(), index));
            match (name, index, tier, initial, base, description) {
                (Some(name), Some(index), Some(tier), Some(initial), Some(base), Some(d)) => {
                    defs.push(MeterDef {
                        name,
                        index,
                        tier: match tier {
                            "pivotal" => Tier::Pivotal,
                            "primary" => Tier::Primary,
                            "secondary" => Tier::Secondary,
                            _ => Tier::Resource,
                        },
                        initial,
                        base_depletion: base,
                        description: d.to_string(),
                    });
                }
                _ => all_ok = false,
            }
        }
        // Duplicates are reported at every entry involved, each naming another one.
        let mut table = MeterTable::default();
        let mut names: BTreeSet<&str> = BTreeSet::new();
        let mut indices: BTreeSet<usize> = BTreeSet::new();
        for (path, name, index) in &seen {
            if let Some(nm) = name {
                if seen
                    .iter()
                    .filter(|(_, n, _)| n.as_ref() == Some(nm))
                    .count()
                    > 1
                {
                    e.push(
                        file,
                        &b_key(path, "name"),
                        format!("'{nm}' is defined twice"),
                    );
                }
                if names.insert(nm) {
                    table.entries.push((nm.clone(), *index));
                }
            }
            if let Some(i) = index {
                indices.insert(*i);
                let other = seen.iter().find(|(p, _, x)| p != path && *x == Some(*i));
                if let Some((other_path, other_name, _)) = other {
                    let other_name = other_name.as_deref().unwrap_or("?");
                    e.push(
                        file,
                        &b_key(path, "index"),
                        format!("index {i} is already used by '{other_name}' ({other_path})"),
                    );
                }
            }
        }
        let indices_read = seen.iter().filter(|(_, _, i)| i.is_some()).count();
        // Indices must be exactly 0..n-1 (only meaningful once every index was read).
        if indices_read == n && n > 0 {
            let missing: Vec<String> = (0..n)
                .filter(|i| !indices.contains(i))
                .map(|i| i.to_string())
                .collect();
            let beyond: Vec<usize> = indices.iter().copied().filter(|&i| i >= n).collect();
            if !missing.is_empty() || !beyond.is_empty() {
                let mut parts = Vec::new();
                if !missing.is_empty() {
                    let verb = if missing.len() == 1 { "is" } else { "are" };
                    parts.push(format!("{} {verb} missing", missing.join(", ")));
                }
                if !beyond.is_empty() {
                    let list: Vec<String> = beyond.iter().map(|i| i.to_string()).collect();
                    let verb = if beyond.len() == 1 { "is" } else { "are" };
                    parts.push(format!("{} {verb} out of range", list.join(", ")));
                }
                e.push(
                    file,
                    "bars",
                    format!(
                        "indices must be exactly 0..{}; {}",
                        n.saturating_sub(1),
                        parts.join(", ")
                    ),
                );
                all_ok = false;
            }
        }
        // The reward, the death mask and the action costs use these by name (ours).
        if seen.iter().all(|(_, n, _)| n.is_some()) {
            for req in ["energy", "health"] {
                if !names.contains(req) {
                    e.push(file, "bars", format!("a meter named '{req}' is required"));
                    all_ok = false;
                }
            }
        }
        if all_ok && defs.len() == n && names.len() == n && indices.len() == n {
            defs.sort_by_key(|d| d.index);
            out.meters = Some(defs);
        }
        out.table = Some(table);
    }

    if let Some(items) = o.req_list(e, "terminal_conditions") {
        let mut conds = Some(Vec::new());
        for (path, v) in &items {
            let Some(mut t) = Obj::new(e, file, path, v) else {
                conds = None;
                continue;
            };
            let meter = req_meter(e, &mut t, "meter", out.table.as_ref());
            let op = t.req_enum(e, "operator", &["<=", ">=", "<", ">", "=="]);
            let value = t.req_f32(e, "value", R::Any);
            t.req_doc(e, "description");
            t.finish(e);
            match (meter, op, value, conds.as_mut()) {
                (Some(meter), Some(op), Some(value), Some(list)) => list.push(TerminalCondition {
                    meter,
                    op: match op {
                        "<=" => CmpOp::Le,
                        ">=" => CmpOp::Ge,
                        "<" => CmpOp::Lt,
                        ">" => CmpOp::Gt,
                        _ => CmpOp::Eq,
                    },
                    value,
                }),
                _ => conds = None,
            }
        }
        out.terminal = conds;
    }
    o.finish(e);
    out
}

fn b_key(path: &str, k: &str) -> String {
    format!("{path}.{k}")
}

// ---------------------------------------------------------------------------------------
// substrate.yaml

#[derive(Debug, Default)]
struct SubstrateOut {
    /// The `type` word, when readable.
    kind: Option<&'static str>,
    /// `grid.topology`, when readable.
    topology: Option<&'static str>,
    substrate: Option<Substrate>,
}

fn parse_substrate(e: &mut Errs, file: &str, root: &Value) -> SubstrateOut {
    let mut out = SubstrateOut::default();
    let Some(mut o) = Obj::new(e, file, "", root) else {
        return out;
    };
    o.req_doc(e, "version");
    o.req_doc(e, "description");
    let kind = o.req_enum(
        e,
        "type",
        &["grid", "gridnd", "continuous", "continuousnd", "aspatial"],
    );
    out.kind = kind;
    if let Some(k) = kind
        && k != "grid"
    {
        e.push(
            file,
            "type",
            format!("'{k}' is not supported (only grid/square)"),
        );
    }
    // Exactly one section, matching `type` (continuousnd shares the `continuous` section).
    let sections = ["grid", "gridnd", "continuous", "aspatial"];
    let expected = kind.map(|k| if k == "continuousnd" { "continuous" } else { k });
    let present: Vec<&str> = sections.iter().copied().filter(|s| o.has(s)).collect();
    for s in &present {
        if let Some(x) = expected
            && *s != x
        {
            e.push(
                file,
                s,
                format!("section '{s}' does not match type '{}'", kind.unwrap_or(x)),
            );
        }
    }
    if let Some(x) = expected
        && !present.contains(&x)
    {
        e.push(
            file,
            x,
            format!("required key is missing (type is '{}')", kind.unwrap_or(x)),
        );
    }
    for s in ["gridnd", "continuous", "aspatial"] {
        // Not validated beyond being mappings: those types are rejected anyway.
        if let Some(v) = o.get_opt(s) {
            Obj::new(e, file, s, v);
        }
    }
    if let Ok(Some(mut g)) = o.opt_obj(e, "grid") {
        let topology = g.req_enum(e, "topology", &["square", "cubic"]);
        out.topology = topology;
        if let Some("cubic") = topology {
            e.push(
                file,
                "grid.topology",
                "'cubic' is not supported (only grid/square)",
            );
        }
        let width = g.req_int::<u32>(e, "width", 1);
        let height = g.req_int::<u32>(e, "height", 1);
        if let (Some(w), Some(h)) = (width, height)
            && w != h
        {
            e.push(
                file,
                "grid.height",
                format!("{h} must equal grid.width ({w})"),
            );
        }
        match (topology, g.get("depth")) {
            (Some("cubic"), None) => {
                e.push(file, "grid.depth", "required for topology 'cubic'");
            }
            (Some("cubic"), Some(v)) => {
                as_int::<u32>(e, file, "grid.depth", v, 1);
            }
            (_, Some(v)) => {
                e.push(
                    file,
                    "grid.depth",
                    format!("not allowed for topology 'square' (got {})", render(v)),
                );
            }
            (_, None) => {}
        }
        let boundary = g.req_enum(e, "boundary", &["clamp", "wrap", "bounce", "sticky"]);
        let metric = g.opt_enum(
            e,
            "distance_metric",
            "manhattan",
            &["manhattan", "euclidean", "chebyshev"],
        );
        let enc = g.opt_enum(
            e,
            "observation_encoding",
            "relative",
            &["relative", "scaled", "absolute"],
        );
        g.finish(e);
        if let (Some("grid"), Some("square"), Some(w), Some(h), Some(b), Some(m), Some(enc)) =
            (kind, topology, width, height, boundary, metric, enc)
            && w == h
        {
            out.substrate = Some(Substrate {
                width: w,
                height: h,
                boundary: match b {
                    "clamp" => Boundary::Clamp,
                    "wrap" => Boundary::Wrap,
                    "bounce" => Boundary::Bounce,
                    _ => Boundary::Sticky,
                },
                distance_metric: match m {
                    "manhattan" => DistanceMetric::Manhattan,
                    "euclidean" => DistanceMetric::Euclidean,
                    _ => DistanceMetric::Chebyshev,
                },
                observation_encoding: match enc {
                    "relative" => ObservationEncoding::Relative,
                    "scaled" => ObservationEncoding::Scaled,
                    _ => ObservationEncoding::Absolute,
                },
            });
        }
    }
    o.finish(e);
    out
}

// ---------------------------------------------------------------------------------------
// cascades.yaml

#[derive(Debug, Default)]
struct CascadesOut {
    modulations: Option<Vec<Modulation>>,
    cascades: Option<Vec<Cascade>>,
}

fn parse_cascades(e: &mut Errs, file: &str, root: &Value, t: Option<&MeterTable>) -> CascadesOut {
    let mut out = CascadesOut::default();
    let Some(mut o) = Obj::new(e, file, "", root) else {
        return out;
    };
    o.req_doc(e, "version");
    o.req_doc(e, "description");
    o.doc(&["notes", "teaching_insights"]);
    o.req_enum(e, "math_type", &["gradient_penalty", "multiplier"]);

    if let Some(items) = o.req_list(e, "modulations") {
        let mut list = Some(Vec::new());
        for (path, v) in &items {
            let Some(mut m) = Obj::new(e, file, path, v) else {
                list = None;
                continue;
            };
            let name = m.req_str(e, "name");
            m.req_doc(e, "description");
            let source = req_meter(e, &mut m, "source", t);
            let target = req_meter(e, &mut m, "target", t);
            let kind = m.req_enum(e, "type", &["depletion_multiplier"]);
            let base = m.req_f32(e, "base_multiplier", R::Gt(0.0));
            let range = m.req_f32(e, "range", R::Gt(0.0));
            let baseline = m.req_f32(e, "baseline_depletion", R::Ge(0.0));
            m.doc(&["note"]);
            m.finish(e);
            match (
                name,
                source,
                target,
                kind,
                base,
                range,
                baseline,
                list.as_mut(),
            ) {
                (
                    Some(name),
                    Some(source),
                    Some(target),
                    Some(_),
                    Some(base_multiplier),
                    Some(range),
                    Some(baseline_depletion),
                    Some(l),
                ) => l.push(Modulation {
                    name: name.to_string(),
                    source,
                    target,
                    base_multiplier,
                    range,
                    baseline_depletion,
                }),
                _ => list = None,
            }
        }
        out.modulations = list;
    }

    if let Some(items) = o.req_list(e, "cascades") {
        let mut list = Some(Vec::new());
        let mut names: BTreeSet<String> = BTreeSet::new();
        for (path, v) in &items {
            let Some(mut c) = Obj::new(e, file, path, v) else {
                list = None;
                continue;
            };
            let name = c.req_str(e, "name");
            let mut dup = false;
            if let Some(n) = name
                && !names.insert(n.to_string())
            {
                e.push(file, &c.key("name"), format!("'{n}' is defined twice"));
                dup = true;
            }
            c.req_doc(e, "description");
            let category = c.req_enum(
                e,
                "category",
                &[
                    "primary_to_pivotal",
                    "secondary_to_primary",
                    "secondary_to_pivotal_weak",
                ],
            );
            let source = req_meter(e, &mut c, "source", t);
            let target = req_meter(e, &mut c, "target", t);
            let si = c.req_int::<usize>(e, "source_index", 0);
            let ti = c.req_int::<usize>(e, "target_index", 0);
            // The original used the indices and ignored the names (ours: they must agree).
            let mut idx_ok = true;
            for (k, idx, named, nk) in [
                ("source_index", si, source, "source"),
                ("target_index", ti, target, "target"),
            ] {
                if let (Some(i), Some(m)) = (idx, named)
                    && i != m
                {
                    let mname = c
                        .get(nk)
                        .and_then(|v| v.as_str())
                        .unwrap_or("?")
                        .to_string();
                    e.push(file, &c.key(k), format!("{i} but '{mname}' has index {m}"));
                    idx_ok = false;
                }
            }
            let threshold = c.req_f32(e, "threshold", R::InOpenLo(0.0, 1.0));
            let strength = c.req_f32(e, "strength", R::Gt(0.0));
            c.doc(&["teaching_note", "why_it_matters"]);
            c.finish(e);
            match (name, category, source, target, si, ti, threshold, strength) {
                (
                    Some(name),
                    Some(cat),
                    Some(source),
                    Some(target),
                    Some(_),
                    Some(_),
                    Some(threshold),
                    Some(strength),
                ) if idx_ok && !dup => {
                    if let Some(l) = list.as_mut() {
                        l.push(Cascade {
                            name: name.to_string(),
                            category: match cat {
                                "primary_to_pivotal" => CascadeCategory::PrimaryToPivotal,
                                "secondary_to_primary" => CascadeCategory::SecondaryToPrimary,
                                _ => CascadeCategory::SecondaryToPivotalWeak,
                            },
                            source,
                            target,
                            threshold,
                            strength,
                        });
                    }
                }
                _ => list = None,
            }
        }
        out.cascades = list;
    }

    if let Some(items) = o.req_list(e, "execution_order") {
        let words: Vec<Option<&str>> = items.iter().map(|(_, v)| v.as_str()).collect();
        let ok = words.len() == EXECUTION_ORDER.len()
            && words
                .iter()
                .zip(EXECUTION_ORDER)
                .all(|(w, x)| *w == Some(x));
        if !ok {
            let got = o.get("execution_order").map(render).unwrap_or_default();
            e.push(
                file,
                "execution_order",
                format!(
                    "the order is fixed to [{}] (got {got})",
                    EXECUTION_ORDER.join(", ")
                ),
            );
        }
    }
    o.finish(e);
    out
}

// ---------------------------------------------------------------------------------------
// affordances.yaml

/// A parsed affordance with the path used for cross-file error messages.
#[derive(Debug)]
struct AffOut {
    path: String,
    def: AffordanceDef,
}

/// Returns `None` when anything in the file is invalid (errors recorded). Affordances
/// that parsed are still checked cross-file only when the whole file is valid.
fn parse_affordances(
    e: &mut Errs,
    file: &str,
    root: &Value,
    t: Option<&MeterTable>,
) -> Option<Vec<AffOut>> {
    let mut o = Obj::new(e, file, "", root)?;
    o.req_doc(e, "version");
    o.req_doc(e, "description");
    o.req_doc(e, "status");
    o.doc(&["meters", "teaching_insights", "implementation_notes"]);
    let items = o.req_list(e, "affordances");
    o.finish(e);
    let items = items?;
    let mut list = Some(Vec::new());
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    for (path, v) in &items {
        let Some(mut a) = Obj::new(e, file, path, v) else {
            list = None;
            continue;
        };
        let id = a.req_str(e, "id");
        if let Some(id) = id
            && !ids.insert(id.to_string())
        {
            e.push(file, &a.key("id"), format!("'{id}' is defined twice"));
            list = None;
        }
        let name = a.req_str(e, "name").and_then(|s| {
            if s.is_empty() {
                e.push(file, &a.key("name"), "must not be empty");
                None
            } else {
                Some(s)
            }
        });
        if let Some(n) = name
            && !names.insert(n.to_string())
        {
            e.push(file, &a.key("name"), format!("'{n}' is defined twice"));
            list = None;
        }
        let category = a.req_str(e, "category");
        let itype = a.req_enum(
            e,
            "interaction_type",
            &["instant", "multi_tick", "continuous", "dual"],
        );
        let ticks_v = a.get("required_ticks");
        let ticks: Option<Option<u32>> = match (itype, ticks_v) {
            (Some(k @ ("multi_tick" | "dual")), None) => {
                e.push(
                    file,
                    &a.key("required_ticks"),
                    format!("required for interaction_type '{k}'"),
                );
                None
            }
            (Some("multi_tick" | "dual"), Some(v)) => {
                as_int::<u32>(e, file, &a.key("required_ticks"), v, 1).map(Some)
            }
            (Some(k), Some(v)) => {
                e.push(
                    file,
                    &a.key("required_ticks"),
                    format!("not allowed for interaction_type '{k}' (got {})", render(v)),
                );
                None
            }
            (Some(_), None) => Some(None),
            (None, _) => None,
        };
        let costs = amount_list(e, &mut a, "costs", t, false, R::Ge(0.0));
        let effects = amount_list(e, &mut a, "effects", t, true, R::Any);
        let cpt = amount_list(e, &mut a, "costs_per_tick", t, false, R::Ge(0.0));
        let ept = amount_list(e, &mut a, "effects_per_tick", t, true, R::Any);
        let bonus = amount_list(e, &mut a, "completion_bonus", t, true, R::Any);
        let hours = match a.req(e, "operating_hours") {
            Some(v) => hours(e, file, &a.key("operating_hours"), v),
            None => None,
        };
        a.doc(&["teaching_note", "design_intent"]);
        a.finish(e);
        match (
            id, name, category, itype, ticks, costs, effects, cpt, ept, bonus, hours,
        ) {
            (
                Some(id),
                Some(name),
                Some(category),
                Some(itype),
                Some(required_ticks),
                Some(costs),
                Some(effects),
                Some(costs_per_tick),
                Some(effects_per_tick),
                Some(completion_bonus),
                Some(operating_hours),
            ) => {
                if let Some(l) = list.as_mut() {
                    l.push(AffOut {
                        path: path.clone(),
                        def: AffordanceDef {
                            id: id.to_string(),
                            name: name.to_string(),
                            category: category.to_string(),
                            interaction_type: match itype {
                                "instant" => InteractionType::Instant,
                                "multi_tick" => InteractionType::MultiTick,
                                "continuous" => InteractionType::Continuous,
                                _ => InteractionType::Dual,
                            },
                            required_ticks,
                            costs,
                            effects,
                            costs_per_tick,
                            effects_per_tick,
                            completion_bonus,
                            operating_hours,
                        },
                    });
                }
            }
            _ => list = None,
        }
    }
    list
}

/// A list of `{meter, amount[, type]}`; absent means empty.
fn amount_list(
    e: &mut Errs,
    a: &mut Obj,
    k: &'static str,
    t: Option<&MeterTable>,
    allow_type: bool,
    r: R,
) -> Option<Vec<MeterAmount>> {
    let items = a.opt_list(e, k)?;
    let mut out = Some(Vec::new());
    for (path, v) in &items {
        let Some(mut m) = Obj::new(e, a.file, path, v) else {
            out = None;
            continue;
        };
        let meter = req_meter(e, &mut m, "meter", t);
        let amount = m.req_f32(e, "amount", r);
        if allow_type && let Some(tv) = m.get_opt("type") {
            // Accepted and never read; still must be a string.
            as_str(e, a.file, &m.key("type"), tv);
        }
        m.finish(e);
        match (meter, amount, out.as_mut()) {
            (Some(meter), Some(amount), Some(l)) => l.push(MeterAmount { meter, amount }),
            _ => out = None,
        }
    }
    out
}

fn int_list(e: &mut Errs, file: &str, key: &str, v: &Value) -> Option<Vec<i64>> {
    let items = as_list(e, file, key, v)?;
    let mut out = Some(Vec::new());
    for (p, item) in &items {
        match (
            as_int::<i64>(e, file, p, item, i128::from(i64::MIN)),
            out.as_mut(),
        ) {
            (Some(x), Some(l)) => l.push(x),
            _ => out = None,
        }
    }
    out
}

fn hours(e: &mut Errs, file: &str, key: &str, v: &Value) -> Option<[u8; 2]> {
    let list = int_list(e, file, key, v)?;
    let [open, close] = list[..] else {
        e.push(
            file,
            key,
            format!("expected [open, close], got {}", render(v)),
        );
        return None;
    };
    let mut ok = true;
    if !(0..=23).contains(&open) {
        e.push(file, key, format!("open {open} is outside 0..23"));
        ok = false;
    }
    if !(1..=28).contains(&close) {
        e.push(file, key, format!("close {close} is outside 1..28"));
        ok = false;
    }
    if ok && close <= 24 && open >= close {
        e.push(
            file,
            key,
            format!("open {open} must be before close {close}"),
        );
        ok = false;
    }
    if ok && close > 24 && close - 24 >= open {
        e.push(
            file,
            key,
            format!(
                "close {close} wraps past midnight to {}, which must be before open {open}",
                close - 24
            ),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    Some([u8::try_from(open).ok()?, u8::try_from(close).ok()?])
}

// ---------------------------------------------------------------------------------------
// global_actions.yaml

fn parse_global(
    e: &mut Errs,
    file: &str,
    root: &Value,
    t: Option<&MeterTable>,
    warnings: &mut Vec<String>,
) -> Option<Vec<CustomAction>> {
    let mut o = Obj::new(e, file, "", root)?;
    o.doc(&["version", "description"]);
    let items = o.req_list(e, "custom_actions");
    o.finish(e);
    let items = items?;
    let mut out = Some(Vec::new());
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut skipped: BTreeSet<String> = BTreeSet::new();
    for (path, v) in &items {
        let Some(mut a) = Obj::new(e, file, path, v) else {
            out = None;
            continue;
        };
        let name = a.req_str(e, "name").and_then(|s| {
            if s.is_empty() {
                e.push(file, &a.key("name"), "must not be empty");
                None
            } else if SUBSTRATE_ACTIONS.contains(&s) {
                e.push(
                    file,
                    &a.key("name"),
                    format!("'{s}' is a substrate action name"),
                );
                None
            } else if !names.insert(s.to_string()) {
                e.push(file, &a.key("name"), format!("'{s}' is defined twice"));
                None
            } else {
                Some(s)
            }
        });
        let kind = a.req_enum(
            e,
            "type",
            &["movement", "interaction", "passive", "transaction"],
        );
        let costs = a
            .req(e, "costs")
            .and_then(|v| meter_map(e, file, &a.key("costs"), v, t, &mut skipped));
        let effects = a
            .req(e, "effects")
            .and_then(|v| meter_map(e, file, &a.key("effects"), v, t, &mut skipped));
        let mut pair = |a: &mut Obj, k: &'static str| -> Option<Option<[i32; 2]>> {
            match a.get_opt(k) {
                None => Some(None),
                Some(v) => {
                    let key = a.key(k);
                    let l = int_list(e, file, &key, v)?;
                    let [x, y] = l[..] else {
                        e.push(file, &key, format!("expected [x, y], got {}", render(v)));
                        return None;
                    };
                    match (i32::try_from(x), i32::try_from(y)) {
                        (Ok(x), Ok(y)) => Some(Some([x, y])),
                        _ => {
                            e.push(file, &key, format!("{} is too large", render(v)));
                            None
                        }
                    }
                }
            }
        };
        let delta = pair(&mut a, "delta");
        let teleport = pair(&mut a, "teleport_to");
        let description = match a.get_opt("description") {
            None => Some(None),
            Some(v) => as_str(e, file, &a.key("description"), v).map(|s| Some(s.to_string())),
        };
        let icon = match a.get_opt("icon") {
            None => Some(None),
            Some(v) => as_str(e, file, &a.key("icon"), v).and_then(|s| {
                if s.chars().count() > 10 {
                    e.push(
                        file,
                        &a.key("icon"),
                        format!("\"{s}\" is longer than 10 characters"),
                    );
                    None
                } else {
                    Some(Some(s.to_string()))
                }
            }),
        };
        let mut shape_ok = true;
        if let Some(k) = kind {
            let has_delta = a.has("delta");
            let has_tp = a.has("teleport_to");
            if k == "movement" && !has_delta && !has_tp {
                e.push(file, path, "type 'movement' needs delta or teleport_to");
                shape_ok = false;
            }
            if k != "movement" {
                for (present, key) in [(has_delta, "delta"), (has_tp, "teleport_to")] {
                    if present {
                        e.push(
                            file,
                            &a.key(key),
                            format!("only allowed for type 'movement' (this is '{k}')"),
                        );
                        shape_ok = false;
                    }
                }
            }
        }
        a.finish(e);
        match (
            name,
            kind,
            costs,
            effects,
            delta,
            teleport,
            description,
            icon,
        ) {
            (
                Some(name),
                Some(kind),
                Some(costs),
                Some(effects),
                Some(delta),
                Some(teleport_to),
                Some(description),
                Some(icon),
            ) if shape_ok => {
                if let Some(l) = out.as_mut() {
                    l.push(CustomAction {
                        name: name.to_string(),
                        kind: match kind {
                            "movement" => CustomActionKind::Movement,
                            "interaction" => CustomActionKind::Interaction,
                            "passive" => CustomActionKind::Passive,
                            _ => CustomActionKind::Transaction,
                        },
                        costs,
                        effects,
                        delta,
                        teleport_to,
                        description,
                        icon,
                    });
                }
            }
            _ => out = None,
        }
    }
    if !skipped.is_empty() {
        let list: Vec<&str> = skipped.iter().map(String::as_str).collect();
        warnings.push(format!(
            "{file}: meters not in this pack are skipped: {}",
            list.join(", ")
        ));
    }
    out
}

/// `meter: amount` mapping. Meters the pack lacks are skipped (the file is shared).
fn meter_map(
    e: &mut Errs,
    file: &str,
    key: &str,
    v: &Value,
    t: Option<&MeterTable>,
    skipped: &mut BTreeSet<String>,
) -> Option<Vec<MeterAmount>> {
    let Value::Mapping(m) = v else {
        e.push(
            file,
            key,
            format!("expected a mapping of meter: amount, got {}", describe(v)),
        );
        return None;
    };
    let mut out = Some(Vec::new());
    for (k, amount) in m {
        let Some(name) = k.as_str() else {
            e.push(
                file,
                key,
                format!("meter names must be strings, got {}", describe(k)),
            );
            out = None;
            continue;
        };
        let akey = format!("{key}.{name}");
        let amount = as_f32(e, file, &akey, amount, R::Any);
        let idx = t.map(|t| t.lookup(name));
        match (amount, idx, out.as_mut()) {
            (Some(amount), Some(Some(Some(meter))), Some(l)) => {
                l.push(MeterAmount { meter, amount });
            }
            (Some(_), Some(None), _) => {
                skipped.insert(name.to_string());
            }
            _ => out = None,
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// training.yaml

#[derive(Debug, Default)]
struct TrainOut {
    run_metadata: Option<RunMetadata>,
    environment: Option<EnvironmentConfig>,
    population: Option<PopulationConfig>,
    curriculum: Option<CurriculumConfig>,
    exploration: Option<ExplorationConfig>,
    training: Option<TrainingConfig>,
    recording: Option<RecordingConfig>,
    /// `environment.partial_observability`, for cross checks even when other keys fail.
    pomdp: Option<bool>,
    grid_size: Option<u32>,
    temporal: Option<bool>,
    /// `Some(None)` = `enabled_affordances: null` (all); inner entries are (path, name).
    enabled: Option<Option<Vec<(String, String)>>>,
}

fn parse_training(
    e: &mut Errs,
    file: &str,
    root: &Value,
    pack_name: &str,
    warnings: &mut Vec<String>,
) -> TrainOut {
    let mut out = TrainOut::default();
    let Some(mut o) = Obj::new(e, file, "", root) else {
        return out;
    };

    // run_metadata (optional)
    match o.opt_obj(e, "run_metadata") {
        Ok(None) => {
            out.run_metadata = Some(RunMetadata {
                output_subdir: pack_name.to_string(),
            })
        }
        Ok(Some(mut m)) => {
            let sub = match m.get_opt("output_subdir") {
                None => Some(pack_name.to_string()),
                Some(v) => as_str(e, file, &m.key("output_subdir"), v).and_then(|s| {
                    if s.is_empty() {
                        e.push(file, &m.key("output_subdir"), "must not be empty");
                        None
                    } else {
                        Some(s.to_string())
                    }
                }),
            };
            m.finish(e);
            out.run_metadata = sub.map(|output_subdir| RunMetadata { output_subdir });
        }
        Err(()) => {}
    }

    // environment
    if let Some(mut env) = o.req_obj(e, "environment") {
        let grid_size = env.req_int::<u32>(e, "grid_size", 1);
        let pomdp = env.req_bool(e, "partial_observability");
        let vision = env.req_int::<u32>(e, "vision_range", 0);
        let temporal = env.opt_bool(e, "enable_temporal_mechanics", false);
        let enabled: Option<Option<Vec<(String, String)>>> =
            match env.get_opt("enabled_affordances") {
                None => Some(None),
                Some(v) => {
                    let key = env.key("enabled_affordances");
                    as_list(e, file, &key, v).and_then(|items| {
                        let mut names = Some(Vec::new());
                        let mut seen = BTreeSet::new();
                        for (p, item) in &items {
                            match as_str(e, file, p, item) {
                                Some(s) if !seen.insert(s.to_string()) => {
                                    e.push(file, p, format!("'{s}' is listed twice"));
                                    names = None;
                                }
                                Some(s) => {
                                    if let Some(l) = names.as_mut() {
                                        l.push((p.clone(), s.to_string()));
                                    }
                                }
                                None => names = None,
                            }
                        }
                        names.map(Some)
                    })
                }
            };
        let mv = env.req_f32(e, "energy_move_depletion", R::In(0.0, 1.0));
        let wait = env.req_f32(e, "energy_wait_depletion", R::In(0.0, 1.0));
        let interact = env.req_f32(e, "energy_interact_depletion", R::In(0.0, 1.0));
        let lifespan = env.opt_int::<u32>(e, "agent_lifespan", 1000, 1);
        env.finish(e);
        let mut wait_ok = true;
        if let (Some(m), Some(w)) = (mv, wait)
            && w >= m
        {
            e.push(
                file,
                "environment.energy_wait_depletion",
                format!("{w} must be less than environment.energy_move_depletion ({m})"),
            );
            wait_ok = false;
        }
        out.pomdp = pomdp;
        out.grid_size = grid_size;
        out.temporal = temporal;
        out.enabled = enabled.clone();
        if let (Some(g), Some(p), Some(v), Some(t), Some(en), Some(m), Some(w), Some(i), Some(l)) = (
            grid_size, pomdp, vision, temporal, enabled, mv, wait, interact, lifespan,
        ) && wait_ok
        {
            out.environment = Some(EnvironmentConfig {
                grid_size: g,
                partial_observability: p,
                vision_range: v,
                enable_temporal_mechanics: t,
                enabled_affordances: en.map(|l| l.into_iter().map(|(_, n)| n).collect()),
                energy_move_depletion: m,
                energy_wait_depletion: w,
                energy_interact_depletion: i,
                agent_lifespan: l,
            });
        }
    }

    // population
    let mut network: Option<NetworkType> = None;
    if let Some(mut p) = o.req_obj(e, "population") {
        let n = p.req_int::<usize>(e, "num_agents", 1);
        let lr = p.req_f64(e, "learning_rate", R::Gt(0.0));
        let gamma = p.req_f64(e, "gamma", R::In(0.0, 1.0));
        let cap = p.req_int::<usize>(e, "replay_buffer_capacity", 1);
        let net = p.req_enum(e, "network_type", &["simple", "recurrent"]);
        p.finish(e);
        network = net.map(|n| {
            if n == "recurrent" {
                NetworkType::Recurrent
            } else {
                NetworkType::Simple
            }
        });
        if network == Some(NetworkType::Recurrent) && out.pomdp == Some(false) {
            e.push(
                file,
                "population.network_type",
                "'recurrent' requires environment.partial_observability: true",
            );
        }
        if let (Some(n), Some(lr), Some(g), Some(c), Some(net)) = (n, lr, gamma, cap, network) {
            out.population = Some(PopulationConfig {
                num_agents: n,
                learning_rate: lr,
                gamma: g,
                replay_buffer_capacity: c,
                network_type: net,
            });
        }
    }

    // curriculum
    if let Some(mut c) = o.req_obj(e, "curriculum") {
        let max_steps = c.req_int::<u32>(e, "max_steps_per_episode", 1);
        let adv = c.req_f64(e, "survival_advance_threshold", R::In(0.0, 1.0));
        let ret = c.req_f64(e, "survival_retreat_threshold", R::In(0.0, 1.0));
        let gate: Option<Option<f64>> = match c.req(e, "entropy_gate") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => crate::walk::as_f64(e, file, "curriculum.entropy_gate", v, R::In(0.0, 1.0))
                .map(Some),
        };
        // `min_steps_at_stage` is the original name; it always counted episodes.
        let new = c.get("min_episodes_at_stage");
        let old = c.get("min_steps_at_stage");
        let min_eps: Option<u32> = match (new, old) {
            (Some(_), Some(_)) => {
                e.push(
                    file,
                    "curriculum.min_steps_at_stage",
                    "give either min_episodes_at_stage or its alias min_steps_at_stage, not both",
                );
                None
            }
            (Some(v), None) => as_int(e, file, "curriculum.min_episodes_at_stage", v, 0),
            (None, Some(v)) => as_int(e, file, "curriculum.min_steps_at_stage", v, 0),
            (None, None) => {
                e.push(
                    file,
                    "curriculum.min_episodes_at_stage",
                    "required key is missing",
                );
                None
            }
        };
        let window: Option<u32> = match c.get_opt("evaluation_window") {
            None => min_eps.map(|m| m.clamp(1, 100)),
            Some(v) => as_int(e, file, "curriculum.evaluation_window", v, 1),
        };
        let kind = c.opt_enum(e, "kind", "adversarial", &["adversarial", "static"]);
        let stage: Option<u8> = match c.get_opt("static_stage") {
            None => Some(4),
            Some(v) => as_int::<u8>(e, file, "curriculum.static_stage", v, 1).and_then(|s| {
                if s > 5 {
                    e.push(
                        file,
                        "curriculum.static_stage",
                        format!("{s} is outside 1..5"),
                    );
                    None
                } else {
                    Some(s)
                }
            }),
        };
        c.finish(e);
        if let (Some(m), Some(a), Some(r), Some(g), Some(me), Some(w), Some(k), Some(s)) =
            (max_steps, adv, ret, gate, min_eps, window, kind, stage)
        {
            out.curriculum = Some(CurriculumConfig {
                max_steps_per_episode: m,
                survival_advance_threshold: a,
                survival_retreat_threshold: r,
                entropy_gate: g,
                min_episodes_at_stage: me,
                evaluation_window: w,
                kind: if k == "static" {
                    CurriculumKind::Static
                } else {
                    CurriculumKind::Adversarial
                },
                static_stage: s,
            });
        }
    }

    // exploration
    if let Some(mut x) = o.req_obj(e, "exploration") {
        let embed = x.req_int::<usize>(e, "embed_dim", 1);
        let w0 = x.req_f64(e, "initial_intrinsic_weight", R::Ge(0.0));
        let var = x.req_f64(e, "variance_threshold", R::Ge(0.0));
        let sw = x.req_int::<usize>(e, "survival_window", 1);
        let rnd_lr = x.opt_f64(e, "rnd_learning_rate", 1e-4, R::Gt(0.0));
        let rnd_bs = x.opt_int::<usize>(e, "rnd_batch_size", 128, 1);
        let decay = x.opt_f64(e, "intrinsic_decay", 0.99, R::InOpenLo(0.0, 1.0));
        let wmin = x.opt_f64(e, "min_intrinsic_weight", 0.0, R::Ge(0.0));
        let msa = x.opt_f64(e, "min_survival_for_annealing", 50.0, R::Ge(0.0));
        x.finish_with(e, |k| {
            k.starts_with("epsilon_")
                .then_some("epsilon_* belong under training:")
        });
        if let (
            Some(embed_dim),
            Some(initial_intrinsic_weight),
            Some(variance_threshold),
            Some(survival_window),
            Some(rnd_learning_rate),
            Some(rnd_batch_size),
            Some(intrinsic_decay),
            Some(min_intrinsic_weight),
            Some(min_survival_for_annealing),
        ) = (embed, w0, var, sw, rnd_lr, rnd_bs, decay, wmin, msa)
        {
            out.exploration = Some(ExplorationConfig {
                embed_dim,
                initial_intrinsic_weight,
                variance_threshold,
                survival_window,
                rnd_learning_rate,
                rnd_batch_size,
                intrinsic_decay,
                min_intrinsic_weight,
                min_survival_for_annealing,
            });
        }
    }

    // training
    if let Some(mut t) = o.req_obj(e, "training") {
        let device = t
            .opt_enum(e, "device", "flex", &["flex", "ndarray", "cpu", "cuda"])
            .map(|d| match d {
                "ndarray" => DeviceKind::Ndarray,
                "cuda" => {
                    warnings.push(format!(
                        "{file}: training.device: 'cuda' is not built; using flex"
                    ));
                    DeviceKind::Flex
                }
                // `cpu` is the original's name for the CPU backend.
                _ => DeviceKind::Flex,
            });
        let max_episodes: Option<Option<u64>> = match t.get_opt("max_episodes") {
            None => Some(None),
            Some(v) => as_int::<u64>(e, file, "training.max_episodes", v, 1).map(Some),
        };
        let train_freq = t.req_int::<u32>(e, "train_frequency", 1);
        let target_freq = t.req_int::<u32>(e, "target_update_frequency", 1);
        let grad = t.req_f64(e, "max_grad_norm", R::Gt(0.0));
        let default_bs = if network == Some(NetworkType::Recurrent) {
            16
        } else {
            64
        };
        let bs = t.opt_int::<usize>(e, "batch_size", default_bs, 1);
        let seq = t.opt_int::<usize>(e, "sequence_length", 8, 1);
        let eps_start = t.req_f64(e, "epsilon_start", R::In(0.0, 1.0));
        let eps_decay = t.req_f64(e, "epsilon_decay", R::InOpenLo(0.0, 1.0));
        let eps_min = t.req_f64(e, "epsilon_min", R::In(0.0, 1.0));
        let mut eps_ok = true;
        if let (Some(s), Some(m)) = (eps_start, eps_min)
            && m > s
        {
            e.push(
                file,
                "training.epsilon_min",
                format!("{m} is greater than training.epsilon_start ({s})"),
            );
            eps_ok = false;
        }
        let ckpt = t.opt_int::<u64>(e, "checkpoint_interval", 100, 1);
        let keep = t.opt_int::<usize>(e, "keep_checkpoints", 5, 0);
        let seed = t.opt_int::<u64>(e, "seed", 0, 0);
        let loss = t.opt_enum(e, "loss", "mse", &["mse", "huber"]).map(|l| {
            if l == "huber" {
                LossKind::Huber
            } else {
                LossKind::Mse
            }
        });
        let huber = t.opt_f64(e, "huber_delta", 1.0, R::Gt(0.0));
        let ddqn = t.opt_bool(e, "double_dqn", false);
        let adam = t.opt_f64(e, "adam_epsilon", 1e-8, R::Gt(0.0));
        let burn_in = t.opt_int::<usize>(e, "burn_in", 0, 0);
        let reshuffle: Option<Option<u64>> = match t.get("reshuffle_layout_at_episode") {
            None => Some(Some(5000)),
            Some(Value::Null) => Some(None),
            Some(v) => {
                as_int::<u64>(e, file, "training.reshuffle_layout_at_episode", v, 0).map(Some)
            }
        };
        t.finish(e);
        if let (
            Some(device),
            Some(max_episodes),
            Some(train_frequency),
            Some(target_update_frequency),
            Some(max_grad_norm),
            Some(batch_size),
            Some(sequence_length),
            Some(epsilon_start),
            Some(epsilon_decay),
            Some(epsilon_min),
            Some(checkpoint_interval),
            Some(keep_checkpoints),
            Some(seed),
            Some(loss),
            Some(huber_delta),
            Some(double_dqn),
            Some(adam_epsilon),
            Some(burn_in),
            Some(reshuffle_layout_at_episode),
        ) = (
            device,
            max_episodes,
            train_freq,
            target_freq,
            grad,
            bs,
            seq,
            eps_start,
            eps_decay,
            eps_min,
            ckpt,
            keep,
            seed,
            loss,
            huber,
            ddqn,
            adam,
            burn_in,
            reshuffle,
        ) && eps_ok
        {
            out.training = Some(TrainingConfig {
                device,
                max_episodes,
                train_frequency,
                target_update_frequency,
                max_grad_norm,
                batch_size,
                sequence_length,
                epsilon_start,
                epsilon_decay,
                epsilon_min,
                checkpoint_interval,
                keep_checkpoints,
                seed,
                loss,
                huber_delta,
                double_dqn,
                adam_epsilon,
                burn_in,
                reshuffle_layout_at_episode,
            });
        }
    }

    // recording (optional)
    match o.opt_obj(e, "recording") {
        Ok(None) => out.recording = Some(RecordingConfig::default()),
        Ok(Some(r)) => out.recording = parse_recording(e, r),
        Err(()) => {}
    }
    o.finish(e);
    out
}

fn parse_recording(e: &mut Errs, mut r: Obj) -> Option<RecordingConfig> {
    let d = RecordingConfig::default();
    let enabled = r.opt_bool(e, "enabled", d.enabled);
    let output_dir = match r.get_opt("output_dir") {
        None => Some(d.output_dir.clone()),
        Some(v) => as_str(e, r.file, &r.key("output_dir"), v).map(str::to_string),
    };
    let queue = r.opt_int::<usize>(e, "max_queue_size", d.max_queue_size, 1);
    let compression = r
        .opt_enum(e, "compression", "lz4", &["lz4", "none"])
        .map(|c| {
            if c == "none" {
                Compression::None
            } else {
                Compression::Lz4
            }
        });
    let criteria = match r.opt_obj(e, "criteria") {
        Err(()) => None,
        Ok(None) => Some(d.criteria.clone()),
        Ok(Some(c)) => parse_criteria(e, c),
    };
    r.finish(e);
    Some(RecordingConfig {
        enabled: enabled?,
        output_dir: output_dir?,
        max_queue_size: queue?,
        compression: compression?,
        criteria: criteria?,
    })
}

fn parse_criteria(e: &mut Errs, mut c: Obj) -> Option<RecordingCriteria> {
    let d = RecordingCriteria::default();
    let periodic = match c.opt_obj(e, "periodic") {
        Err(()) => None,
        Ok(None) => Some(d.periodic.clone()),
        Ok(Some(mut p)) => {
            let enabled = p.opt_bool(e, "enabled", d.periodic.enabled);
            let interval = p.opt_int::<u64>(e, "interval", d.periodic.interval, 1);
            p.finish(e);
            enabled
                .zip(interval)
                .map(|(enabled, interval)| PeriodicCriterion { enabled, interval })
        }
    };
    let transitions = match c.opt_obj(e, "stage_transitions") {
        Err(()) => None,
        Ok(None) => Some(d.stage_transitions.clone()),
        Ok(Some(mut s)) => {
            let x = &d.stage_transitions;
            let enabled = s.opt_bool(e, "enabled", x.enabled);
            let before = s.opt_int::<u32>(e, "before", x.before, 0);
            let after = s.opt_int::<u32>(e, "after", x.after, 0);
            s.finish(e);
            match (enabled, before, after) {
                (Some(enabled), Some(before), Some(after)) => Some(StageTransitionsCriterion {
                    enabled,
                    before,
                    after,
                }),
                _ => None,
            }
        }
    };
    let performance = match c.opt_obj(e, "performance") {
        Err(()) => None,
        Ok(None) => Some(d.performance.clone()),
        Ok(Some(mut p)) => {
            let x = &d.performance;
            let enabled = p.opt_bool(e, "enabled", x.enabled);
            let top = p.opt_f64(e, "top_percent", x.top_percent, R::InOpenLo(0.0, 100.0));
            let bottom = p.opt_f64(
                e,
                "bottom_percent",
                x.bottom_percent,
                R::InOpenLo(0.0, 100.0),
            );
            let window = p.opt_int::<u32>(e, "window", x.window, 10);
            p.finish(e);
            match (enabled, top, bottom, window) {
                (Some(enabled), Some(top_percent), Some(bottom_percent), Some(window)) => {
                    Some(PerformanceCriterion {
                        enabled,
                        top_percent,
                        bottom_percent,
                        window,
                    })
                }
                _ => None,
            }
        }
    };
    let boundaries = match c.opt_obj(e, "stage_boundaries") {
        Err(()) => None,
        Ok(None) => Some(d.stage_boundaries.clone()),
        Ok(Some(mut b)) => {
            let x = &d.stage_boundaries;
            let enabled = b.opt_bool(e, "enabled", x.enabled);
            let first_n = b.opt_int::<u32>(e, "first_n", x.first_n, 1);
            b.finish(e);
            enabled
                .zip(first_n)
                .map(|(enabled, first_n)| StageBoundariesCriterion { enabled, first_n })
        }
    };
    c.finish(e);
    Some(RecordingCriteria {
        periodic: periodic?,
        stage_transitions: transitions?,
        performance: performance?,
        stage_boundaries: boundaries?,
    })
}

// ---------------------------------------------------------------------------------------
// §9 cross-file checks

struct CrossFiles<'a> {
    sub: &'a str,
    aff: &'a str,
    train: &'a str,
    global: &'a str,
}

fn cross_checks(
    e: &mut Errs,
    f: &CrossFiles,
    sub: &SubstrateOut,
    affs: Option<&[AffOut]>,
    train: &TrainOut,
    custom: Option<&[CustomAction]>,
) {
    // 2. POMDP needs a 2-D grid.
    if train.pomdp == Some(true) {
        let bad = match (sub.kind, sub.topology) {
            (Some(k), _) if k != "grid" => Some(format!("substrate.yaml type is '{k}'")),
            (_, Some("cubic")) => Some("substrate.yaml grid.topology is 'cubic'".to_string()),
            _ => None,
        };
        if let Some(what) = bad {
            e.push(
                f.train,
                "environment.partial_observability",
                format!("POMDP needs a 2-D grid, but {what}"),
            );
        }
        // 3. POMDP needs the relative position encoding.
        if let Some(s) = &sub.substrate
            && s.observation_encoding != ObservationEncoding::Relative
        {
            let got = match s.observation_encoding {
                ObservationEncoding::Scaled => "scaled",
                _ => "absolute",
            };
            e.push(
                f.sub,
                "grid.observation_encoding",
                format!("must be 'relative' when partial_observability is true (got '{got}')"),
            );
        }
    }
    // 4. grid_size must equal the substrate's width.
    if let (Some(s), Some(g)) = (&sub.substrate, train.grid_size)
        && s.width != g
    {
        e.push(
            f.train,
            "environment.grid_size",
            format!("{g} but substrate.yaml grid.width is {}", s.width),
        );
    }
    // teleport_to must land on the grid (ours): the step sets the position directly.
    if let (Some(s), Some(custom)) = (&sub.substrate, custom) {
        for (i, a) in custom.iter().enumerate() {
            if let Some([x, y]) = a.teleport_to {
                let inside = |v: i32, n: u32| v >= 0 && i64::from(v) < i64::from(n);
                if !inside(x, s.width) || !inside(y, s.height) {
                    e.push(
                        f.global,
                        &format!("custom_actions[{i}].teleport_to"),
                        format!(
                            "[{x}, {y}] is outside the {}×{} grid of this pack",
                            s.width, s.height
                        ),
                    );
                }
            }
        }
    }
    // The affordance checks need both files readable, and a valid enabled list.
    let (Some(affs), Some(enabled)) = (affs, &train.enabled) else {
        return;
    };
    // enabled_affordances must name affordances (ours); deployment keeps file order.
    let mut deployed: Vec<&AffOut> = affs.iter().collect();
    if let Some(names) = enabled {
        let mut all_known = true;
        for (p, n) in names {
            if !affs.iter().any(|a| a.def.name == *n) {
                e.push(
                    f.train,
                    p,
                    format!("no affordance named '{n}' in affordances.yaml"),
                );
                all_known = false;
            }
        }
        if !all_known {
            return;
        }
        deployed.retain(|a| names.iter().any(|(_, n)| *n == a.def.name));
    }
    // 5. Each deployed affordance needs a cell, and one cell must stay free.
    if let Some(s) = &sub.substrate {
        let cells = u64::from(s.width) * u64::from(s.height);
        let n = deployed.len() as u64;
        if n >= cells {
            e.push(
                f.train,
                "environment.enabled_affordances",
                format!(
                    "{n} affordances need {n} cells plus one free cell, but the {}×{} grid has {cells}",
                    s.width, s.height
                ),
            );
        }
    }
    // 6. Temporal mechanics run only multi-tick interactions (ours).
    if train.temporal == Some(true) {
        for a in &deployed {
            let k = match a.def.interaction_type {
                InteractionType::Instant => "instant",
                InteractionType::Continuous => "continuous",
                _ => continue,
            };
            e.push(
                f.aff,
                &format!("{}.interaction_type", a.path),
                format!("'{k}' cannot run with enable_temporal_mechanics: true"),
            );
        }
    }
}
