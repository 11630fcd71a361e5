//! The vectorised Townlet world: the `Env` type, construction, reset and read access.
//! The rules, the step, the observations and the scripting hooks live in the submodules.

mod hooks;
mod observation;
mod probe;
mod rules;
mod step;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use townlet_config::Pack;

pub use hooks::RngState;
pub use observation::{ObservationLayout, SpatialKind};
pub use probe::{ProbeBatch, ProbeState};
pub(crate) use rules::MAX_VISION_RANGE;
pub use rules::{
    ACTION_DOWN, ACTION_INTERACT, ACTION_LEFT, ACTION_RIGHT, ACTION_UP, ACTION_WAIT,
    NUM_SUBSTRATE_ACTIONS,
};
use rules::{NO_AFFORDANCE, Rules};
pub use step::StepResult;

use crate::EnvError;

/// Multi-tick progress of one agent, for recorders ("ticks done / required").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionProgress {
    /// Vocabulary index.
    pub affordance: usize,
    pub ticks_done: u32,
    pub required_ticks: u32,
}

/// A Townlet world with `N` independent agents sharing one layout and one clock.
#[derive(Debug, Clone)]
pub struct Env {
    rules: Rules,
    n: usize,
    rng: ChaCha8Rng,
    /// Cell of each deployed affordance, parallel to `rules.deployed`.
    aff_cells: Vec<[i32; 2]>,
    /// Vocabulary index of the affordance on each cell (`y·W + x`), or `NO_AFFORDANCE`.
    cell_aff: Vec<u16>,
    /// Occupancy grid of the affordances alone (full observability base image).
    base_grid: Vec<f32>,
    pos: Vec<[i32; 2]>,
    meters: Vec<f32>,
    step_count: Vec<u32>,
    progress: Vec<u32>,
    last_aff: Vec<Option<usize>>,
    last_pos: Vec<[i32; 2]>,
    time_of_day: u32,
    obs: Vec<f32>,
    masks: Vec<bool>,
    result: StepResult,
    /// Scratch for the layout shuffle.
    cells: Vec<[i32; 2]>,
}

impl Env {
    /// Builds the world for `num_agents` agents and shuffles the layout with `seed`
    /// (docs/world.md#layout-randomness-and-reset). Agents sit at `[0,0]` with initial
    /// meters until `reset()`, which draws the spawns; call `reset()` before the first
    /// `step`.
    pub fn new(pack: &Pack, num_agents: usize, seed: u64) -> Result<Env, EnvError> {
        if num_agents == 0 {
            return Err(EnvError::NoAgents);
        }
        let rules = Rules::from_pack(pack)?;
        let n = num_agents;
        let nm = rules.n_meters();
        let cells = (rules.size * rules.size) as usize;
        let mut meters = Vec::with_capacity(n * nm);
        for _ in 0..n {
            meters.extend_from_slice(&rules.initial);
        }
        let mut env = Env {
            n,
            rng: ChaCha8Rng::seed_from_u64(seed),
            aff_cells: vec![[0, 0]; rules.deployed.len()],
            cell_aff: vec![NO_AFFORDANCE; cells],
            base_grid: vec![0.0; cells],
            pos: vec![[0, 0]; n],
            meters,
            step_count: vec![0; n],
            progress: vec![0; n],
            last_aff: vec![None; n],
            last_pos: vec![[0, 0]; n],
            time_of_day: 0,
            obs: vec![0.0; n * rules.layout.dim],
            masks: vec![false; n * rules.action_dim()],
            result: StepResult {
                rewards: vec![0.0; n],
                dones: vec![false; n],
                end_reasons: vec![None; n],
                successful_interactions: vec![None; n],
            },
            cells: Vec::with_capacity(cells),
            rules,
        };
        env.randomize_layout();
        Ok(env)
    }

    /// Loads the pack folder with `townlet_config::load_pack` and builds the env on it.
    /// A pack that does not load gives `EnvError::Config` with every validation error.
    pub fn load(pack_dir: &std::path::Path, num_agents: usize, seed: u64) -> Result<Env, EnvError> {
        let pack = townlet_config::load_pack(pack_dir)?;
        Env::new(&pack, num_agents, seed)
    }

    /// Reshuffles the affordance layout (docs/world.md#layout-randomness-and-reset):
    /// x-major cell list, Fisher–Yates from the end with `j = rng.random_range(0..=i)` on
    /// `u32`, first `k` cells to the deployed affordances in vocabulary order. Agents keep
    /// their positions.
    pub fn randomize_layout(&mut self) {
        let s = self.rules.size;
        self.cells.clear();
        for x in 0..s {
            for y in 0..s {
                self.cells.push([x, y]);
            }
        }
        for i in (1..self.cells.len()).rev() {
            let j = self.rng.random_range(0..=i as u32) as usize;
            self.cells.swap(i, j);
        }
        let k = self.rules.deployed.len();
        self.aff_cells.copy_from_slice(&self.cells[..k]);
        self.rebuild_cell_tables();
        self.refresh();
    }

    fn rebuild_cell_tables(&mut self) {
        self.cell_aff.fill(NO_AFFORDANCE);
        self.base_grid.fill(0.0);
        for (slot, &vocab) in self.rules.deployed.iter().enumerate() {
            let c = self.rules.cell(self.aff_cells[slot]);
            self.cell_aff[c] = vocab as u16;
            self.base_grid[c] = 1.0;
        }
    }

    /// Spawns every agent (for each agent in order: `x = rng.random_range(0..W)`, then
    /// `y = rng.random_range(0..H)`, both on `u32`), restores initial meters and counters,
    /// and returns the observations `[N * obs_dim]`. The layout is kept.
    pub fn reset(&mut self) -> &[f32] {
        let s = self.rules.size as u32;
        let nm = self.rules.n_meters();
        for a in 0..self.n {
            let x = self.rng.random_range(0..s) as i32;
            let y = self.rng.random_range(0..s) as i32;
            self.pos[a] = [x, y];
            self.meters[a * nm..(a + 1) * nm].copy_from_slice(&self.rules.initial);
            self.step_count[a] = 0;
            // Always 0 outside temporal mode, so resetting it there changes nothing.
            self.progress[a] = 0;
            self.last_aff[a] = None;
            self.result.rewards[a] = 0.0;
            self.result.dones[a] = false;
            self.result.end_reasons[a] = None;
            self.result.successful_interactions[a] = None;
        }
        if self.rules.temporal {
            self.time_of_day = 0;
        }
        self.refresh();
        &self.obs
    }

    // ---- read access ----

    pub fn action_dim(&self) -> usize {
        self.rules.action_dim()
    }

    pub fn num_agents(&self) -> usize {
        self.n
    }

    pub fn num_meters(&self) -> usize {
        self.rules.n_meters()
    }

    pub fn action_names(&self) -> &[String] {
        &self.rules.action_names
    }

    /// Action id for a name (exact match, then ASCII case-insensitive).
    pub fn action_id(&self, name: &str) -> Option<u32> {
        let names = &self.rules.action_names;
        names
            .iter()
            .position(|n| n == name)
            .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(name)))
            .map(|i| i as u32)
    }

    /// Meter names in index order.
    pub fn meter_names(&self) -> &[String] {
        &self.rules.meter_names
    }

    pub fn meter_index(&self, name: &str) -> Option<usize> {
        self.rules.meter_names.iter().position(|n| n == name)
    }

    /// The observation vocabulary: every affordance of the pack, in affordances.yaml order.
    pub fn affordance_names(&self) -> &[String] {
        &self.rules.affordance_names
    }

    /// Vocabulary indices of the deployed affordances.
    pub fn deployed_affordances(&self) -> &[usize] {
        &self.rules.deployed
    }

    pub fn grid_size(&self) -> u32 {
        self.rules.size as u32
    }

    pub fn temporal(&self) -> bool {
        self.rules.temporal
    }

    pub fn agent_lifespan(&self) -> u32 {
        self.rules.lifespan
    }

    pub fn positions(&self) -> &[[i32; 2]] {
        &self.pos
    }

    /// Meters of one agent, in index order.
    pub fn meters(&self, agent: usize) -> &[f32] {
        let nm = self.rules.n_meters();
        &self.meters[agent * nm..(agent + 1) * nm]
    }

    /// All meters `[N * num_meters]`, agent-major.
    pub fn all_meters(&self) -> &[f32] {
        &self.meters
    }

    pub fn time_of_day(&self) -> u32 {
        self.time_of_day
    }

    /// Raw multi-tick counter (0 when idle and always outside temporal mode).
    pub fn progress(&self, agent: usize) -> u32 {
        self.progress[agent]
    }

    /// `required_ticks` of the multi-tick interaction in progress, if any.
    pub fn required_ticks_of_current(&self, agent: usize) -> Option<u32> {
        self.current_interaction(agent).map(|p| p.required_ticks)
    }

    /// The multi-tick interaction in progress, if any.
    pub fn current_interaction(&self, agent: usize) -> Option<InteractionProgress> {
        let aff = self.last_aff[agent]?;
        if self.progress[agent] == 0 {
            return None;
        }
        Some(InteractionProgress {
            affordance: aff,
            ticks_done: self.progress[agent],
            required_ticks: self.rules.affordances[aff].required_ticks.unwrap_or(1),
        })
    }

    pub fn step_count(&self, agent: usize) -> u32 {
        self.step_count[agent]
    }

    /// Vocabulary index of the deployed affordance on a cell.
    pub fn affordance_at(&self, pos: [i32; 2]) -> Option<usize> {
        if !self.rules.on_grid(pos) {
            return None;
        }
        match self.cell_aff[self.rules.cell(pos)] {
            NO_AFFORDANCE => None,
            v => Some(v as usize),
        }
    }

    /// Each deployed affordance with its cell, in vocabulary order.
    pub fn layout(&self) -> Vec<(String, [i32; 2])> {
        self.rules
            .deployed
            .iter()
            .zip(&self.aff_cells)
            .map(|(&v, &c)| (self.rules.affordance_names[v].clone(), c))
            .collect()
    }
}
