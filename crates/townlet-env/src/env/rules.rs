//! The rules of the world, fixed from the pack at construction: action ids and their
//! constant costs, movement on the grid, meters, affordance effects and costs,
//! modulations, cascades and terminal conditions. All meter arithmetic is f32, in exactly
//! the order the rules give; Rust never fuses a multiply and an add on its own, and this
//! file never calls `mul_add`.

use townlet_config::{
    AffordanceDef, Boundary, Cascade, CascadeCategory, CmpOp, CustomAction, MeterAmount,
    Modulation, ObservationEncoding, Pack, SUBSTRATE_ACTIONS, TerminalCondition,
};

use super::observation::{ObservationLayout, SpatialKind};
use crate::EnvError;

/// Substrate action ids (docs/world.md#actions).
pub const ACTION_UP: u32 = 0;
pub const ACTION_DOWN: u32 = 1;
pub const ACTION_LEFT: u32 = 2;
pub const ACTION_RIGHT: u32 = 3;
pub const ACTION_INTERACT: u32 = 4;
pub const ACTION_WAIT: u32 = 5;
/// Number of substrate actions; custom actions start at this id.
pub const NUM_SUBSTRATE_ACTIONS: usize = SUBSTRATE_ACTIONS.len();

/// Move costs that are constants, not config (docs/world.md#actions).
pub(super) const MOVE_HYGIENE_COST: f32 = 0.003;
pub(super) const MOVE_SATIATION_COST: f32 = 0.004;
pub(super) const HOURS_PER_DAY: u32 = 24;
/// Guards the window size against absurd configs (a 1025×1025 window at most).
pub(crate) const MAX_VISION_RANGE: u32 = 512;
/// Sentinel in the cell → affordance table.
pub(super) const NO_AFFORDANCE: u16 = u16::MAX;

/// Immutable rules derived from the pack once, at construction.
#[derive(Debug, Clone)]
pub(super) struct Rules {
    pub(super) size: i32,
    pub(super) boundary: Boundary,
    pub(super) partial: bool,
    pub(super) vision: i32,
    pub(super) encoding: ObservationEncoding,
    pub(super) temporal: bool,
    pub(super) move_cost: f32,
    pub(super) wait_cost: f32,
    pub(super) interact_cost: f32,
    pub(super) lifespan: u32,
    pub(super) initial: Vec<f32>,
    pub(super) base_depletion: Vec<f32>,
    pub(super) energy: usize,
    pub(super) health: usize,
    pub(super) hygiene: Option<usize>,
    pub(super) satiation: Option<usize>,
    pub(super) money: Option<usize>,
    pub(super) modulations: Vec<Modulation>,
    /// Cascades regrouped into the three fixed passes, list order kept within a pass.
    pub(super) cascades: Vec<Cascade>,
    pub(super) terminal: Vec<TerminalCondition>,
    pub(super) affordances: Vec<AffordanceDef>,
    /// First money entry of `costs` / `costs_per_tick` per affordance (0 when none).
    pub(super) instant_money_cost: Vec<f32>,
    pub(super) tick_money_cost: Vec<f32>,
    pub(super) custom: Vec<CustomAction>,
    /// Vocabulary indices of the deployed affordances, in vocabulary order.
    pub(super) deployed: Vec<usize>,
    pub(super) action_names: Vec<String>,
    pub(super) meter_names: Vec<String>,
    pub(super) affordance_names: Vec<String>,
    pub(super) layout: ObservationLayout,
    /// sin / cos of each hour, computed in f64 and cast (docs/world.md#observations).
    pub(super) hour_sin_cos: [[f32; 2]; HOURS_PER_DAY as usize],
}

#[inline]
pub(super) fn clamp01(v: f32) -> f32 {
    v.clamp(0.0, 1.0)
}

#[inline]
pub(super) fn clamp_all(m: &mut [f32]) {
    for v in m {
        *v = clamp01(*v);
    }
}

fn first_money(list: &[MeterAmount], money: Option<usize>) -> f32 {
    money
        .and_then(|mi| list.iter().find(|e| e.meter == mi))
        .map_or(0.0, |e| e.amount)
}

fn cascade_pass(c: CascadeCategory) -> u8 {
    match c {
        CascadeCategory::PrimaryToPivotal => 0,
        CascadeCategory::SecondaryToPrimary => 1,
        CascadeCategory::SecondaryToPivotalWeak => 2,
    }
}

impl Rules {
    pub(super) fn from_pack(pack: &Pack) -> Result<Self, EnvError> {
        let sub = &pack.substrate;
        if sub.width != sub.height || sub.width == 0 || sub.width > 4096 {
            return Err(EnvError::BadGrid {
                width: sub.width,
                height: sub.height,
            });
        }
        let size = sub.width as i32;
        let cells = (sub.width * sub.height) as usize;
        let deployed = pack.deployed_affordances();
        if deployed.len() >= cells {
            return Err(EnvError::TooManyAffordances {
                deployed: deployed.len(),
                cells,
            });
        }
        let energy = pack
            .meter_index("energy")
            .ok_or(EnvError::MissingMeter("energy"))?;
        let health = pack
            .meter_index("health")
            .ok_or(EnvError::MissingMeter("health"))?;
        let money = pack.meter_index("money");
        for a in &pack.custom_actions {
            if let Some(t) = a.teleport_to
                && !((0..size).contains(&t[0]) && (0..size).contains(&t[1]))
            {
                return Err(EnvError::TeleportOffGrid {
                    action: a.name.clone(),
                    pos: t,
                    size,
                });
            }
        }

        let env_cfg = &pack.environment;
        let partial = env_cfg.partial_observability;
        if partial && env_cfg.vision_range > MAX_VISION_RANGE {
            return Err(EnvError::VisionTooLarge(env_cfg.vision_range));
        }
        let vision = env_cfg.vision_range as i32;
        let n_meters = pack.meters.len();
        let vocab = pack.affordances.len();
        let spatial_kind = if partial {
            SpatialKind::Window {
                side: (2 * vision + 1) as usize,
            }
        } else {
            SpatialKind::FullGrid {
                width: sub.width as usize,
                height: sub.height as usize,
            }
        };
        // POMDP always uses the relative encoding (docs/world.md#observations).
        let encoding = if partial {
            ObservationEncoding::Relative
        } else {
            sub.observation_encoding
        };
        let layout = ObservationLayout::new(spatial_kind, encoding, n_meters, vocab);

        let mut cascades = pack.cascades.clone();
        // Stable sort: the three passes in fixed order, file order within a pass
        // (docs/world.md#cascades).
        cascades.sort_by_key(|c| cascade_pass(c.category));

        let mut hour_sin_cos = [[0.0f32; 2]; HOURS_PER_DAY as usize];
        for (t, sc) in hour_sin_cos.iter_mut().enumerate() {
            let a = ((t as f64 / 24.0) * 2.0) * std::f64::consts::PI;
            *sc = [a.sin() as f32, a.cos() as f32];
        }

        Ok(Rules {
            size,
            boundary: sub.boundary,
            partial,
            vision,
            encoding,
            temporal: env_cfg.enable_temporal_mechanics,
            move_cost: env_cfg.energy_move_depletion,
            wait_cost: env_cfg.energy_wait_depletion,
            interact_cost: env_cfg.energy_interact_depletion,
            lifespan: env_cfg.agent_lifespan,
            initial: pack.meters.iter().map(|m| m.initial).collect(),
            base_depletion: pack.meters.iter().map(|m| m.base_depletion).collect(),
            energy,
            health,
            hygiene: pack.meter_index("hygiene"),
            satiation: pack.meter_index("satiation"),
            money,
            modulations: pack.modulations.clone(),
            cascades,
            terminal: pack.terminal_conditions.clone(),
            instant_money_cost: pack
                .affordances
                .iter()
                .map(|a| first_money(&a.costs, money))
                .collect(),
            tick_money_cost: pack
                .affordances
                .iter()
                .map(|a| first_money(&a.costs_per_tick, money))
                .collect(),
            affordances: pack.affordances.clone(),
            custom: pack.custom_actions.clone(),
            deployed,
            action_names: pack.action_names(),
            meter_names: pack.meter_names(),
            affordance_names: pack.affordances.iter().map(|a| a.name.clone()).collect(),
            layout,
            hour_sin_cos,
        })
    }

    #[inline]
    pub(super) fn n_meters(&self) -> usize {
        self.initial.len()
    }

    #[inline]
    pub(super) fn action_dim(&self) -> usize {
        NUM_SUBSTRATE_ACTIONS + self.custom.len()
    }

    #[inline]
    pub(super) fn on_grid(&self, p: [i32; 2]) -> bool {
        (0..self.size).contains(&p[0]) && (0..self.size).contains(&p[1])
    }

    #[inline]
    pub(super) fn cell(&self, p: [i32; 2]) -> usize {
        (p[1] * self.size + p[0]) as usize
    }

    /// One axis of `boundary(old + delta)` (docs/world.md#movement-and-boundaries).
    #[inline]
    fn bound_axis(&self, old: i32, p: i32) -> i32 {
        let s = self.size;
        match self.boundary {
            Boundary::Clamp => p.clamp(0, s - 1),
            Boundary::Wrap => p.rem_euclid(s),
            // A delta longer than the grid could bounce off the far side; the clamp keeps
            // the position on the grid in that case and is a no-op otherwise.
            Boundary::Bounce => {
                let b = if p < 0 {
                    -p
                } else if p >= s {
                    2 * (s - 1) - p
                } else {
                    p
                };
                b.clamp(0, s - 1)
            }
            Boundary::Sticky => {
                if (0..s).contains(&p) {
                    p
                } else {
                    old
                }
            }
        }
    }

    #[inline]
    pub(super) fn apply_move(&self, pos: [i32; 2], d: [i32; 2]) -> [i32; 2] {
        [
            self.bound_axis(pos[0], pos[0].saturating_add(d[0])),
            self.bound_axis(pos[1], pos[1].saturating_add(d[1])),
        ]
    }

    #[inline]
    pub(super) fn is_dead_for_mask(&self, m: &[f32]) -> bool {
        m[self.health] <= 0.0 || m[self.energy] <= 0.0
    }

    pub(super) fn terminal(&self, m: &[f32]) -> bool {
        self.terminal.iter().any(|c| {
            let a = m[c.meter];
            let b = c.value;
            match c.op {
                CmpOp::Le => a <= b,
                CmpOp::Ge => a >= b,
                CmpOp::Lt => a < b,
                CmpOp::Gt => a > b,
                CmpOp::Eq => (a - b).abs() <= 1e-8 + 1e-5 * b.abs(),
            }
        })
    }
    // ---- the meter arithmetic of one agent's step, stage by stage ----

    /// Stage 1: a custom action's costs, effects and move (teleport or delta), then a clamp.
    #[inline]
    pub(super) fn apply_custom_action(&self, custom: usize, m: &mut [f32], pos: &mut [i32; 2]) {
        let ca = &self.custom[custom];
        for c in &ca.costs {
            m[c.meter] -= c.amount;
        }
        for e in &ca.effects {
            m[e.meter] += e.amount;
        }
        if let Some(tp) = ca.teleport_to {
            *pos = tp;
        } else if let Some(d) = ca.delta {
            *pos = self.apply_move(*pos, d);
        }
        clamp_all(m);
    }

    /// Stages 5–7 for a move: energy, hygiene and satiation.
    #[inline]
    pub(super) fn apply_move_costs(&self, m: &mut [f32]) {
        m[self.energy] -= self.move_cost;
        if let Some(h) = self.hygiene {
            m[h] -= MOVE_HYGIENE_COST;
        }
        if let Some(s) = self.satiation {
            m[s] -= MOVE_SATIATION_COST;
        }
        clamp_all(m);
    }

    /// Stages 5–7 for WAIT.
    #[inline]
    pub(super) fn apply_wait_cost(&self, m: &mut [f32]) {
        m[self.energy] -= self.wait_cost;
        clamp_all(m);
    }

    /// Stage 8, first part: INTERACT costs energy wherever the agent stands.
    #[inline]
    pub(super) fn apply_interact_cost(&self, m: &mut [f32]) {
        m[self.energy] -= self.interact_cost;
        clamp_all(m);
    }

    /// Whether the agent can pay a money cost `c` (no money meter or no cost: yes).
    #[inline]
    fn affordable(&self, m: &[f32], c: f32) -> bool {
        match self.money {
            Some(mi) if c > 0.0 => m[mi] >= c,
            _ => true,
        }
    }

    /// Stage 8 outside temporal mode: effects (each clamped), then the costs, unclamped
    /// until stage 9 (quirk 4). False when the agent cannot pay.
    #[inline]
    pub(super) fn interact_instant(&self, ai: usize, m: &mut [f32]) -> bool {
        if !self.affordable(m, self.instant_money_cost[ai]) {
            return false;
        }
        let aff = &self.affordances[ai];
        for e in &aff.effects {
            m[e.meter] = clamp01(m[e.meter] + e.amount);
        }
        for c in &aff.costs {
            m[c.meter] -= c.amount;
        }
        true
    }

    /// Stage 8 in temporal mode: one tick of a multi-tick interaction (per-tick costs and
    /// effects, the completion bonus on the last tick). False when the agent cannot pay.
    #[inline]
    pub(super) fn interact_tick(
        &self,
        ai: usize,
        m: &mut [f32],
        pos: [i32; 2],
        progress: &mut u32,
        last_aff: &mut Option<usize>,
        last_pos: &mut [i32; 2],
    ) -> bool {
        if !self.affordable(m, self.tick_money_cost[ai]) {
            return false;
        }
        let aff = &self.affordances[ai];
        if *last_aff == Some(ai) && *last_pos == pos {
            *progress += 1;
        } else {
            *progress = 1;
            *last_aff = Some(ai);
            *last_pos = pos;
        }
        let required = aff.required_ticks.unwrap_or(1);
        let tick = *progress - 1;
        for c in &aff.costs_per_tick {
            m[c.meter] -= c.amount;
        }
        for e in &aff.effects_per_tick {
            m[e.meter] += e.amount;
        }
        if tick + 1 == required {
            for e in &aff.completion_bonus {
                m[e.meter] += e.amount;
            }
        }
        clamp_all(m);
        if *progress >= required {
            *progress = 0;
            *last_aff = None;
        }
        true
    }

    /// Stages 9–11: base depletion (the product first), modulations, then the cascades,
    /// sequential and in place.
    #[inline]
    pub(super) fn deplete(&self, m: &mut [f32], mult: f32) {
        for (v, &b) in m.iter_mut().zip(&self.base_depletion) {
            let d = b * mult;
            *v = clamp01(*v - d);
        }
        for md in &self.modulations {
            let src = m[md.source];
            let k = md.base_multiplier + md.range * (1.0 - src);
            let d = md.baseline_depletion * k;
            m[md.target] = clamp01(m[md.target] - d);
        }
        for c in &self.cascades {
            let src = m[c.source];
            if src < c.threshold {
                let deficit = (c.threshold - src) / c.threshold;
                let p = c.strength * deficit;
                m[c.target] = clamp01(m[c.target] - p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp01_bounds() {
        assert_eq!(clamp01(-0.1), 0.0);
        assert_eq!(clamp01(1.5), 1.0);
        assert_eq!(clamp01(0.25), 0.25);
    }
}
