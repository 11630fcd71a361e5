//! `affordances.yaml`: the places agents use (a bed, a job, a fridge): how an
//! interaction runs, what it costs and gives, and when the place is open.

use super::bars::{MeterTable, req_meter};
use crate::types::{AffordanceDef, InteractionType, MeterAmount};
use crate::walk::{Errs, Obj, R, as_int, as_str, int_list, render, word};
use serde_norway::Value;
use std::collections::BTreeSet;

/// A parsed affordance with the path used for cross-file error messages.
#[derive(Debug)]
pub(super) struct AffOut {
    pub path: String,
    pub def: AffordanceDef,
}

/// Returns `None` when anything in the file is invalid (errors recorded). Affordances
/// that parsed are still checked cross-file only when the whole file is valid.
pub(super) fn parse(
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
        let name = a.req_nonempty(e, "name");
        if let Some(n) = name
            && !names.insert(n.to_string())
        {
            e.push(file, &a.key("name"), format!("'{n}' is defined twice"));
            list = None;
        }
        let category = a.req_str(e, "category");
        let itype: Option<InteractionType> = a.req_word(e, "interaction_type");
        // Multi-tick and dual interactions take `required_ticks`; the others must not.
        let multi = itype.map(|k| {
            (
                matches!(k, InteractionType::MultiTick | InteractionType::Dual),
                word(&k),
            )
        });
        let ticks_v = a.get("required_ticks");
        let ticks: Option<Option<u32>> = match (multi, ticks_v) {
            (Some((true, k)), None) => {
                e.push(
                    file,
                    &a.key("required_ticks"),
                    format!("required for interaction_type '{k}'"),
                );
                None
            }
            (Some((true, _)), Some(v)) => {
                as_int::<u32>(e, file, &a.key("required_ticks"), v, 1).map(Some)
            }
            (Some((false, k)), Some(v)) => {
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
                            interaction_type: itype,
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
