//! Probing the world for a viewer's "ask the agent" questions (docs/usage.md#asking-the-agent):
//! the observation an agent would receive in a given state, and the same state with the
//! agent placed on every cell of the grid. Pure functions of the env's rules and layout;
//! nothing here changes the env.

use super::Env;
use super::observation::{write_mask, write_observation};
use crate::EnvError;

/// The state of one agent a probe asks about: where it is, its meters, the clock, the
/// multi-tick progress and its age. `step_count` is the number of steps already lived
/// (the observation's lifetime feature).
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeState {
    pub position: [i32; 2],
    pub meters: Vec<f32>,
    /// Hour of day (ignored outside temporal packs).
    pub time_of_day: u32,
    /// Ticks done of the multi-tick interaction in progress at `position` (0 when idle).
    pub progress_ticks: u32,
    pub step_count: u32,
}

/// Observations and masks of one state with the agent placed on each cell in turn.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeBatch {
    /// Row `i` of `obs` / `masks` places the agent on `cells[i]`; row-major over the grid.
    pub cells: Vec<[i32; 2]>,
    /// `[cells, obs_dim]` flat.
    pub obs: Vec<f32>,
    /// `[cells, action_dim]` flat, true = allowed.
    pub masks: Vec<bool>,
}

impl Env {
    /// Checks a probe state against the pack: position on the grid, one value in [0, 1]
    /// per meter, an hour of the day.
    pub fn check_probe_state(&self, s: &ProbeState) -> Result<(), EnvError> {
        self.check_cell(s.position)?;
        let nm = self.rules.n_meters();
        if s.meters.len() != nm {
            return Err(EnvError::MeterCount {
                expected: nm,
                got: s.meters.len(),
            });
        }
        self.check_meter_values(&s.meters)?;
        if s.time_of_day >= super::rules::HOURS_PER_DAY {
            return Err(EnvError::InvalidTimeOfDay(s.time_of_day));
        }
        Ok(())
    }

    /// The observation and action mask an agent in state `s` receives, on this env's
    /// layout: exactly what `observations()` / `action_masks()` give for that state.
    pub fn observe_state(&self, s: &ProbeState) -> Result<(Vec<f32>, Vec<bool>), EnvError> {
        self.check_probe_state(s)?;
        let mut obs = vec![0.0; self.rules.layout.dim];
        let mut mask = vec![false; self.rules.action_dim()];
        self.write_probe(s, s.position, s.progress_ticks, &mut obs, &mut mask);
        Ok((obs, mask))
    }

    /// State `s` with the agent placed on every cell of the grid (row-major). The
    /// multi-tick progress is kept on the agent's own cell only: anywhere else the agent
    /// would have walked there, which resets it.
    pub fn probe_batch(&self, s: &ProbeState) -> Result<ProbeBatch, EnvError> {
        self.check_probe_state(s)?;
        let side = self.rules.size;
        let (dim, ad) = (self.rules.layout.dim, self.rules.action_dim());
        let n = (side * side) as usize;
        let mut batch = ProbeBatch {
            cells: Vec::with_capacity(n),
            obs: vec![0.0; n * dim],
            masks: vec![false; n * ad],
        };
        for y in 0..side {
            for x in 0..side {
                let i = batch.cells.len();
                let cell = [x, y];
                let progress = if cell == s.position {
                    s.progress_ticks
                } else {
                    0
                };
                self.write_probe(
                    s,
                    cell,
                    progress,
                    &mut batch.obs[i * dim..(i + 1) * dim],
                    &mut batch.masks[i * ad..(i + 1) * ad],
                );
                batch.cells.push(cell);
            }
        }
        Ok(batch)
    }

    /// Ticks done from a recorded `interaction_progress` (ticks done / required) at
    /// `position`: the required ticks of the affordance there (1 when none).
    pub fn progress_ticks_from_fraction(&self, position: [i32; 2], fraction: f32) -> u32 {
        let required = self
            .affordance_at(position)
            .and_then(|a| self.rules.affordances[a].required_ticks)
            .unwrap_or(1);
        (fraction * required as f32).round().max(0.0) as u32
    }

    fn write_probe(
        &self,
        s: &ProbeState,
        pos: [i32; 2],
        progress: u32,
        obs: &mut [f32],
        mask: &mut [bool],
    ) {
        let t = if self.rules.temporal {
            s.time_of_day
        } else {
            0
        };
        write_observation(
            &self.rules,
            &self.cell_aff,
            &self.base_grid,
            pos,
            &s.meters,
            progress,
            s.step_count,
            t,
            obs,
        );
        write_mask(&self.rules, &self.cell_aff, pos, &s.meters, t, mask);
    }
}
