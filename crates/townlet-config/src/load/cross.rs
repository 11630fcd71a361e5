//! Rules that span files: what training.yaml asks of the substrate and the affordances,
//! and where custom actions may teleport to.

use super::affordances::AffOut;
use super::substrate::{SubstrateOut, SubstrateType, Topology};
use super::training::TrainOut;
use crate::types::{CustomAction, InteractionType, ObservationEncoding};
use crate::walk::{Errs, word};

/// The labels of the files the messages name.
pub(super) struct Files<'a> {
    pub sub: &'a str,
    pub aff: &'a str,
    pub train: &'a str,
    pub global: &'a str,
}

pub(super) fn check(
    e: &mut Errs,
    f: &Files,
    sub: &SubstrateOut,
    affs: Option<&[AffOut]>,
    train: &TrainOut,
    custom: Option<&[CustomAction]>,
) {
    // 2. POMDP needs a 2-D grid.
    if train.pomdp == Some(true) {
        let bad = match (sub.kind, sub.topology) {
            (Some(k), _) if k != SubstrateType::Grid => {
                Some(format!("substrate.yaml type is '{}'", word(&k)))
            }
            (_, Some(Topology::Cubic)) => {
                Some("substrate.yaml grid.topology is 'cubic'".to_string())
            }
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
            let got = word(&s.observation_encoding);
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
            let k = a.def.interaction_type;
            if !matches!(k, InteractionType::Instant | InteractionType::Continuous) {
                continue;
            }
            let k = word(&k);
            e.push(
                f.aff,
                &format!("{}.interaction_type", a.path),
                format!("'{k}' cannot run with enable_temporal_mechanics: true"),
            );
        }
    }
}
