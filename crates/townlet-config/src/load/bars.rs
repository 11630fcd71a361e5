//! `bars.yaml`: the meters (names, indices 0..n-1, tiers, start values, depletion) and
//! the terminal conditions. Its meter table resolves meter names in the other files.

use crate::types::{MeterDef, TerminalCondition};
use crate::walk::{Errs, Obj, R, as_str, render};
use serde_norway::Value;
use std::collections::BTreeSet;

/// Meter names with their indices (None where the index itself was invalid).
#[derive(Debug, Default)]
pub(super) struct MeterTable {
    entries: Vec<(String, Option<usize>)>,
}

impl MeterTable {
    pub(super) fn lookup(&self, name: &str) -> Option<Option<usize>> {
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
pub(super) fn resolve_meter(
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

pub(super) fn req_meter(
    e: &mut Errs,
    o: &mut Obj,
    k: &'static str,
    t: Option<&MeterTable>,
) -> Option<usize> {
    let v = o.req(e, k)?;
    resolve_meter(e, o.file, &o.key(k), v, t)
}

#[derive(Debug, Default)]
pub(super) struct BarsOut {
    pub table: Option<MeterTable>,
    pub meters: Option<Vec<MeterDef>>,
    pub terminal: Option<Vec<TerminalCondition>>,
}

pub(super) fn parse(e: &mut Errs, file: &str, root: &Value) -> BarsOut {
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
            let name = b.req_nonempty(e, "name").map(str::to_string);
            let index = b.req_int::<usize>(e, "index", 0);
            let tier = b.req_word(e, "tier");
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
                        tier,
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
            let op = t.req_word(e, "operator");
            let value = t.req_f32(e, "value", R::Any);
            t.req_doc(e, "description");
            t.finish(e);
            match (meter, op, value, conds.as_mut()) {
                (Some(meter), Some(op), Some(value), Some(list)) => {
                    list.push(TerminalCondition { meter, op, value })
                }
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
