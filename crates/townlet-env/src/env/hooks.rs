//! Hooks that set the state directly, for tests, scripted episodes (`townlet-simulate`)
//! and checkpoint restore. Each checks its input before changing anything and refreshes
//! the observations and masks.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Env;
use super::rules::HOURS_PER_DAY;
use crate::EnvError;

/// The full state of the env's ChaCha8 generator, for exact checkpoint resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    pub seed: [u8; 32],
    pub stream: u64,
    pub word_pos: u128,
}

impl Env {
    pub fn rng_state(&self) -> RngState {
        RngState {
            seed: self.rng.get_seed(),
            stream: self.rng.get_stream(),
            word_pos: self.rng.get_word_pos(),
        }
    }

    pub fn set_rng_state(&mut self, state: &RngState) {
        let mut rng = ChaCha8Rng::from_seed(state.seed);
        rng.set_stream(state.stream);
        rng.set_word_pos(state.word_pos);
        self.rng = rng;
    }

    fn check_agent(&self, agent: usize) -> Result<(), EnvError> {
        if agent >= self.n {
            return Err(EnvError::NoSuchAgent {
                agent,
                num_agents: self.n,
            });
        }
        Ok(())
    }

    pub(super) fn check_cell(&self, pos: [i32; 2]) -> Result<(), EnvError> {
        if !self.rules.on_grid(pos) {
            return Err(EnvError::OffGrid {
                pos,
                size: self.rules.size,
            });
        }
        Ok(())
    }

    fn deployed_slot(&self, name: &str) -> Result<usize, EnvError> {
        let vocab = self
            .rules
            .affordance_names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| EnvError::UnknownAffordance(name.to_string()))?;
        self.rules
            .deployed
            .iter()
            .position(|&v| v == vocab)
            .ok_or_else(|| EnvError::NotDeployed(name.to_string()))
    }

    /// Moves one deployed affordance. The target cell must be on the grid and free of
    /// other affordances.
    pub fn set_affordance_position(&mut self, name: &str, pos: [i32; 2]) -> Result<(), EnvError> {
        let slot = self.deployed_slot(name)?;
        self.check_cell(pos)?;
        if let Some(other) = self.affordance_at(pos)
            && other != self.rules.deployed[slot]
        {
            return Err(EnvError::CellTaken {
                name: name.to_string(),
                other: self.rules.affordance_names[other].clone(),
                pos,
            });
        }
        self.aff_cells[slot] = pos;
        self.rebuild_cell_tables();
        self.refresh();
        Ok(())
    }

    /// Replaces the whole layout. Every deployed affordance must appear exactly once, on
    /// its own cell. Nothing changes on error.
    pub fn set_layout(&mut self, layout: &[(String, [i32; 2])]) -> Result<(), EnvError> {
        let k = self.rules.deployed.len();
        let mut cells: Vec<Option<[i32; 2]>> = vec![None; k];
        for (name, pos) in layout {
            let slot = self.deployed_slot(name)?;
            self.check_cell(*pos)?;
            if cells[slot].is_some() {
                return Err(EnvError::DuplicateInLayout(name.clone()));
            }
            if let Some(other) = cells.iter().position(|c| *c == Some(*pos)) {
                return Err(EnvError::CellTaken {
                    name: name.clone(),
                    other: self.rules.affordance_names[self.rules.deployed[other]].clone(),
                    pos: *pos,
                });
            }
            cells[slot] = Some(*pos);
        }
        let missing: Vec<String> = cells
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_none())
            .map(|(s, _)| self.rules.affordance_names[self.rules.deployed[s]].clone())
            .collect();
        if !missing.is_empty() {
            return Err(EnvError::LayoutIncomplete(missing));
        }
        for (slot, c) in cells.into_iter().enumerate() {
            if let Some(c) = c {
                self.aff_cells[slot] = c;
            }
        }
        self.rebuild_cell_tables();
        self.refresh();
        Ok(())
    }

    /// Places an agent. Like any position change it does not touch multi-tick progress;
    /// only a move inside `step` resets it.
    pub fn set_position(&mut self, agent: usize, pos: [i32; 2]) -> Result<(), EnvError> {
        self.check_agent(agent)?;
        self.check_cell(pos)?;
        self.pos[agent] = pos;
        self.refresh();
        Ok(())
    }

    /// Sets all meters of one agent (index order, each in [0, 1]).
    pub fn set_meters(&mut self, agent: usize, values: &[f32]) -> Result<(), EnvError> {
        self.check_agent(agent)?;
        let nm = self.rules.n_meters();
        if values.len() != nm {
            return Err(EnvError::MeterCount {
                expected: nm,
                got: values.len(),
            });
        }
        self.check_meter_values(values)?;
        self.meters[agent * nm..(agent + 1) * nm].copy_from_slice(values);
        self.refresh();
        Ok(())
    }

    /// Sets one meter of one agent by name (value in [0, 1]).
    pub fn set_meter(&mut self, agent: usize, name: &str, value: f32) -> Result<(), EnvError> {
        self.check_agent(agent)?;
        let i = self
            .meter_index(name)
            .ok_or_else(|| EnvError::UnknownMeter(name.to_string()))?;
        if !(0.0..=1.0).contains(&value) {
            return Err(EnvError::MeterValue {
                name: name.to_string(),
                value,
            });
        }
        let nm = self.rules.n_meters();
        self.meters[agent * nm + i] = value;
        self.refresh();
        Ok(())
    }

    pub fn set_time_of_day(&mut self, t: u32) -> Result<(), EnvError> {
        if t >= HOURS_PER_DAY {
            return Err(EnvError::InvalidTimeOfDay(t));
        }
        self.time_of_day = t;
        self.refresh();
        Ok(())
    }
}

impl Env {
    /// Every meter value in [0, 1], else the first one outside, by name (scripted
    /// episodes and probes share this rule).
    pub(crate) fn check_meter_values(&self, values: &[f32]) -> Result<(), EnvError> {
        match values
            .iter()
            .enumerate()
            .find(|(_, v)| !(0.0..=1.0).contains(*v))
        {
            Some((i, &v)) => Err(EnvError::MeterValue {
                name: self.rules.meter_names[i].clone(),
                value: v,
            }),
            None => Ok(()),
        }
    }
}
