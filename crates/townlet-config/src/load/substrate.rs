//! `substrate.yaml`: the space the agents live in. Only a square 2-D grid is supported;
//! the other types are recognised so that the error says so plainly.

use crate::types::{Boundary, DistanceMetric, ObservationEncoding, Substrate};
use crate::walk::{Errs, Obj, as_int, render, word};
use serde::{Deserialize, Serialize};
use serde_norway::Value;

/// The `type` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum SubstrateType {
    Grid,
    GridNd,
    Continuous,
    ContinuousNd,
    Aspatial,
}

impl SubstrateType {
    /// The section holding this type's settings (continuousnd shares `continuous`).
    fn section(self) -> String {
        match self {
            SubstrateType::ContinuousNd => word(&SubstrateType::Continuous),
            other => word(&other),
        }
    }
}

/// `grid.topology`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Topology {
    Square,
    Cubic,
}

#[derive(Debug, Default)]
pub(super) struct SubstrateOut {
    /// The `type` word, when readable.
    pub kind: Option<SubstrateType>,
    /// `grid.topology`, when readable.
    pub topology: Option<Topology>,
    pub substrate: Option<Substrate>,
}

pub(super) fn parse(e: &mut Errs, file: &str, root: &Value) -> SubstrateOut {
    let mut out = SubstrateOut::default();
    let Some(mut o) = Obj::new(e, file, "", root) else {
        return out;
    };
    o.req_doc(e, "version");
    o.req_doc(e, "description");
    let kind: Option<SubstrateType> = o.req_word(e, "type");
    out.kind = kind;
    if let Some(k) = kind
        && k != SubstrateType::Grid
    {
        e.push(
            file,
            "type",
            format!("'{}' is not supported (only grid/square)", word(&k)),
        );
    }
    // Exactly one section, matching `type`.
    let sections = [
        SubstrateType::Grid,
        SubstrateType::GridNd,
        SubstrateType::Continuous,
        SubstrateType::Aspatial,
    ]
    .map(|s| s.section());
    let expected = kind.map(SubstrateType::section);
    let present: Vec<&str> = sections
        .iter()
        .map(String::as_str)
        .filter(|s| o.has(s))
        .collect();
    let kind_word = kind.map(|k| word(&k)).unwrap_or_default();
    for s in &present {
        if let Some(x) = &expected
            && s != x
        {
            e.push(
                file,
                s,
                format!("section '{s}' does not match type '{kind_word}'"),
            );
        }
    }
    if let Some(x) = &expected
        && !present.contains(&x.as_str())
    {
        e.push(
            file,
            x,
            format!("required key is missing (type is '{kind_word}')"),
        );
    }
    for s in ["gridnd", "continuous", "aspatial"] {
        // Not validated beyond being mappings: those types are rejected anyway.
        if let Some(v) = o.get_opt(s) {
            Obj::new(e, file, s, v);
        }
    }
    if let Ok(Some(mut g)) = o.opt_obj(e, "grid") {
        let topology: Option<Topology> = g.req_word(e, "topology");
        out.topology = topology;
        if topology == Some(Topology::Cubic) {
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
            (Some(Topology::Cubic), None) => {
                e.push(file, "grid.depth", "required for topology 'cubic'");
            }
            (Some(Topology::Cubic), Some(v)) => {
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
        let boundary: Option<Boundary> = g.req_word(e, "boundary");
        let metric = g.opt_word(e, "distance_metric", DistanceMetric::Manhattan);
        let enc = g.opt_word(e, "observation_encoding", ObservationEncoding::Relative);
        g.finish(e);
        if let (
            Some(SubstrateType::Grid),
            Some(Topology::Square),
            Some(width),
            Some(height),
            Some(boundary),
            Some(distance_metric),
            Some(observation_encoding),
        ) = (kind, topology, width, height, boundary, metric, enc)
            && width == height
        {
            out.substrate = Some(Substrate {
                width,
                height,
                boundary,
                distance_metric,
                observation_encoding,
            });
        }
    }
    o.finish(e);
    out
}
