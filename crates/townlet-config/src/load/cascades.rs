//! `cascades.yaml`: modulations (one meter scales another's depletion) and cascades (a
//! meter below its threshold drains another), run in a fixed order each step.

use super::bars::{MeterTable, req_meter};
use crate::types::{Cascade, CascadeCategory, Modulation};
use crate::walk::{Errs, Obj, R, render, word};
use serde::{Deserialize, Serialize};
use serde_norway::Value;
use std::collections::BTreeSet;

/// `math_type`: accepted for compatibility, the step uses the multiplier form.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MathType {
    GradientPenalty,
    Multiplier,
}

/// A modulation's `type` (one kind exists).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ModulationType {
    DepletionMultiplier,
}

/// The passes of one step, in the only order accepted for `execution_order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Pass {
    Modulations,
    PrimaryToPivotal,
    SecondaryToPrimary,
    SecondaryToPivotalWeak,
}

const EXECUTION_ORDER: [Pass; 4] = [
    Pass::Modulations,
    Pass::PrimaryToPivotal,
    Pass::SecondaryToPrimary,
    Pass::SecondaryToPivotalWeak,
];

#[derive(Debug, Default)]
pub(super) struct CascadesOut {
    pub modulations: Option<Vec<Modulation>>,
    pub cascades: Option<Vec<Cascade>>,
}

pub(super) fn parse(e: &mut Errs, file: &str, root: &Value, t: Option<&MeterTable>) -> CascadesOut {
    let mut out = CascadesOut::default();
    let Some(mut o) = Obj::new(e, file, "", root) else {
        return out;
    };
    o.req_doc(e, "version");
    o.req_doc(e, "description");
    o.doc(&["notes", "teaching_insights"]);
    o.req_word::<MathType>(e, "math_type");

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
            let kind: Option<ModulationType> = m.req_word(e, "type");
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
            let category: Option<CascadeCategory> = c.req_word(e, "category");
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
                    Some(category),
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
                            category,
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
        let expected: Vec<String> = EXECUTION_ORDER.iter().map(word).collect();
        let ok = items.len() == expected.len()
            && items
                .iter()
                .zip(&expected)
                .all(|((_, w), x)| w.as_str() == Some(x.as_str()));
        if !ok {
            let got = o.get("execution_order").map(render).unwrap_or_default();
            e.push(
                file,
                "execution_order",
                format!(
                    "the order is fixed to [{}] (got {got})",
                    expected.join(", ")
                ),
            );
        }
    }
    o.finish(e);
    out
}
