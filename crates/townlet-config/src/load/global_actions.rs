//! `global_actions.yaml` (in the configs root, shared by its packs): the custom actions
//! that follow the six substrate actions. Meters a pack lacks are skipped with a warning.

use super::bars::MeterTable;
use crate::types::{CustomAction, CustomActionKind, MeterAmount, SUBSTRATE_ACTIONS};
use crate::walk::{Errs, Obj, R, as_f32, as_str, describe, int_list, render, word};
use serde_norway::Value;
use std::collections::BTreeSet;

pub(super) fn parse(
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
        let name = a.req_nonempty(e, "name").and_then(|s| {
            if SUBSTRATE_ACTIONS.contains(&s) {
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
        let kind: Option<CustomActionKind> = a.req_word(e, "type");
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
            let movement = k == CustomActionKind::Movement;
            if movement && !has_delta && !has_tp {
                e.push(file, path, "type 'movement' needs delta or teleport_to");
                shape_ok = false;
            }
            if !movement {
                for (present, key) in [(has_delta, "delta"), (has_tp, "teleport_to")] {
                    if present {
                        e.push(
                            file,
                            &a.key(key),
                            format!("only allowed for type 'movement' (this is '{}')", word(&k)),
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
                        kind,
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
