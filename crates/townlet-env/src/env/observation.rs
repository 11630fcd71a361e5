//! What an agent sees: the observation vector (spatial slice, position, meters, the
//! affordance under the agent, temporal tail) and the action mask.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use townlet_config::ObservationEncoding;

use super::Env;
use super::rules::{
    ACTION_DOWN, ACTION_INTERACT, ACTION_LEFT, ACTION_RIGHT, ACTION_UP, NO_AFFORDANCE, Rules,
    clamp01,
};

/// `progress/10` uses this constant, not `required_ticks`.
const PROGRESS_SCALE: f32 = 10.0;

/// What the first slice of an observation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpatialKind {
    /// Occupancy grid, index `y·width + x` (full observability).
    FullGrid { width: usize, height: usize },
    /// POMDP window of `side × side`, row-major, centred on the agent.
    Window { side: usize },
}

/// Offsets of the slices of one agent's observation (docs/world.md#observations), so
/// consumers can cut the vector without hard-coding numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationLayout {
    pub spatial_kind: SpatialKind,
    pub spatial: Range<usize>,
    pub position: Range<usize>,
    pub meters: Range<usize>,
    /// One-hot over the whole vocabulary plus a final "none" slot.
    pub affordance: Range<usize>,
    /// `sin(t)`, `cos(t)`, `progress/10`, `lifetime`.
    pub temporal: Range<usize>,
    pub dim: usize,
}

impl ObservationLayout {
    /// The slices for a spatial part of `spatial_kind`, a position in `encoding`,
    /// `n_meters` meters and a vocabulary of `vocab` affordances.
    pub(super) fn new(
        spatial_kind: SpatialKind,
        encoding: ObservationEncoding,
        n_meters: usize,
        vocab: usize,
    ) -> Self {
        let spatial_len = match spatial_kind {
            SpatialKind::Window { side } => side * side,
            SpatialKind::FullGrid { width, height } => width * height,
        };
        let pos_len = match encoding {
            ObservationEncoding::Scaled => 4,
            ObservationEncoding::Relative | ObservationEncoding::Absolute => 2,
        };
        let s0 = 0..spatial_len;
        let p0 = s0.end..s0.end + pos_len;
        let m0 = p0.end..p0.end + n_meters;
        let a0 = m0.end..m0.end + vocab + 1;
        let t0 = a0.end..a0.end + 4;
        ObservationLayout {
            spatial_kind,
            dim: t0.end,
            spatial: s0,
            position: p0,
            meters: m0,
            affordance: a0,
            temporal: t0,
        }
    }
}

impl Env {
    /// Rebuilds every observation and mask from the current state.
    pub(super) fn refresh(&mut self) {
        let dim = self.rules.layout.dim;
        let ad = self.rules.action_dim();
        let nm = self.rules.n_meters();
        for a in 0..self.n {
            let m = &self.meters[a * nm..(a + 1) * nm];
            write_observation(
                &self.rules,
                &self.cell_aff,
                &self.base_grid,
                self.pos[a],
                m,
                self.progress[a],
                self.step_count[a],
                self.time_of_day,
                &mut self.obs[a * dim..(a + 1) * dim],
            );
            write_mask(
                &self.rules,
                &self.cell_aff,
                self.pos[a],
                m,
                self.time_of_day,
                &mut self.masks[a * ad..(a + 1) * ad],
            );
        }
    }

    /// Observations `[N * obs_dim]`, agent-major.
    pub fn observations(&self) -> &[f32] {
        &self.obs
    }

    /// Observation of one agent.
    pub fn observation(&self, agent: usize) -> &[f32] {
        let d = self.rules.layout.dim;
        &self.obs[agent * d..(agent + 1) * d]
    }

    /// Masks `[N * action_dim]`, true = allowed (docs/world.md#action-masks), for the
    /// current state.
    pub fn action_masks(&self) -> &[bool] {
        &self.masks
    }

    /// Mask of one agent.
    pub fn action_mask(&self, agent: usize) -> &[bool] {
        let d = self.rules.action_dim();
        &self.masks[agent * d..(agent + 1) * d]
    }

    pub fn obs_dim(&self) -> usize {
        self.rules.layout.dim
    }

    pub fn observation_layout(&self) -> &ObservationLayout {
        &self.rules.layout
    }
}

/// Builds one agent's observation into `out` (docs/world.md#observations).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn write_observation(
    r: &Rules,
    cell_aff: &[u16],
    base_grid: &[f32],
    pos: [i32; 2],
    m: &[f32],
    progress: u32,
    step_count: u32,
    t: u32,
    out: &mut [f32],
) {
    let lay = &r.layout;
    let spatial = &mut out[lay.spatial.clone()];
    if r.partial {
        let v = r.vision;
        let mut i = 0;
        for dy in -v..=v {
            for dx in -v..=v {
                let p = [pos[0] + dx, pos[1] + dy];
                spatial[i] = if r.on_grid(p) && cell_aff[r.cell(p)] != NO_AFFORDANCE {
                    1.0
                } else {
                    0.0
                };
                i += 1;
            }
        }
    } else {
        spatial.copy_from_slice(base_grid);
        let c = r.cell(pos);
        spatial[c] = (spatial[c] + 1.0).min(2.0);
    }
    let p = &mut out[lay.position.clone()];
    let (x, y) = (pos[0] as f32, pos[1] as f32);
    let div = (r.size - 1).max(1) as f32;
    match r.encoding {
        ObservationEncoding::Relative => {
            p[0] = x / div;
            p[1] = y / div;
        }
        ObservationEncoding::Scaled => {
            p[0] = x / div;
            p[1] = y / div;
            p[2] = r.size as f32;
            p[3] = r.size as f32;
        }
        ObservationEncoding::Absolute => {
            p[0] = x;
            p[1] = y;
        }
    }
    out[lay.meters.clone()].copy_from_slice(m);
    let onehot = &mut out[lay.affordance.clone()];
    onehot.fill(0.0);
    let here = cell_aff[r.cell(pos)];
    let idx = if here == NO_AFFORDANCE {
        onehot.len() - 1
    } else {
        here as usize
    };
    onehot[idx] = 1.0;
    let tail = &mut out[lay.temporal.clone()];
    let (hour, prog) = if r.temporal {
        (t as usize, progress as f32 / PROGRESS_SCALE)
    } else {
        (0, 0.0)
    };
    tail[0] = r.hour_sin_cos[hour][0];
    tail[1] = r.hour_sin_cos[hour][1];
    tail[2] = prog;
    tail[3] = clamp01(step_count as f32 / r.lifespan.max(1) as f32);
}

/// Mask for the current state (docs/world.md#action-masks).
#[inline]
pub(super) fn write_mask(
    r: &Rules,
    cell_aff: &[u16],
    pos: [i32; 2],
    m: &[f32],
    t: u32,
    out: &mut [bool],
) {
    if r.is_dead_for_mask(m) {
        out.fill(false);
        return;
    }
    out.fill(true);
    let last = r.size - 1;
    out[ACTION_UP as usize] = pos[1] != 0;
    out[ACTION_DOWN as usize] = pos[1] != last;
    out[ACTION_LEFT as usize] = pos[0] != 0;
    out[ACTION_RIGHT as usize] = pos[0] != last;
    let here = cell_aff[r.cell(pos)];
    out[ACTION_INTERACT as usize] =
        here != NO_AFFORDANCE && (!r.temporal || r.affordances[here as usize].is_open(t));
}
