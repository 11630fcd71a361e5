//! The vectorised Townlet world (environment.md). All meter arithmetic is f32, in exactly
//! the order the spec gives; Rust never fuses a multiply and an add on its own, and this
//! file never calls `mul_add`.

use std::ops::Range;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use townlet_config::{
    AffordanceDef, Boundary, Cascade, CascadeCategory, CmpOp, CustomAction, MeterAmount,
    Modulation, ObservationEncoding, Pack, SUBSTRATE_ACTIONS, TerminalCondition,
};

use crate::EnvError;

/// Substrate action ids (environment.md §3.1).
pub const ACTION_UP: u32 = 0;
pub const ACTION_DOWN: u32 = 1;
pub const ACTION_LEFT: u32 = 2;
pub const ACTION_RIGHT: u32 = 3;
pub const ACTION_INTERACT: u32 = 4;
pub const ACTION_WAIT: u32 = 5;
/// Number of substrate actions; custom actions start at this id.
pub const NUM_SUBSTRATE_ACTIONS: usize = SUBSTRATE_ACTIONS.len();

/// Move costs that are constants, not config (environment.md §3.1).
const MOVE_HYGIENE_COST: f32 = 0.003;
const MOVE_SATIATION_COST: f32 = 0.004;
/// `progress/10` uses this constant, not `required_ticks` (§10).
const PROGRESS_SCALE: f32 = 10.0;
const HOURS_PER_DAY: u32 = 24;
/// Guards the window size against absurd configs (a 1025×1025 window at most).
pub(crate) const MAX_VISION_RANGE: u32 = 512;
/// Sentinel in the cell → affordance table.
const NO_AFFORDANCE: u16 = u16::MAX;

/// Why an agent's episode ended. The env itself produces `Died` and `Retired`; drivers use
/// `Truncated` (max steps reached) and `Interrupted` (stop requested, D13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Died,
    Retired,
    Truncated,
    Interrupted,
}

/// Per-agent outcome of the latest `step`. Buffers are reused between steps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepResult {
    pub rewards: Vec<f32>,
    pub dones: Vec<bool>,
    /// `Died` wins when an agent dies on its retirement step.
    pub end_reasons: Vec<Option<EndReason>>,
    /// Vocabulary index of the affordance an agent interacted with successfully this step.
    pub successful_interactions: Vec<Option<usize>>,
}

/// The full state of the env's ChaCha8 generator, for exact checkpoint resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    pub seed: [u8; 32],
    pub stream: u64,
    pub word_pos: u128,
}

/// What the first slice of an observation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpatialKind {
    /// Occupancy grid, index `y·width + x` (full observability).
    FullGrid { width: usize, height: usize },
    /// POMDP window of `side × side`, row-major, centred on the agent.
    Window { side: usize },
}

/// Offsets of the slices of one agent's observation (environment.md §10), so consumers can
/// cut the vector without hard-coding numbers.
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

/// Multi-tick progress of one agent, for recorders ("ticks done / required").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionProgress {
    /// Vocabulary index.
    pub affordance: usize,
    pub ticks_done: u32,
    pub required_ticks: u32,
}

/// Immutable rules derived from the pack once, at construction.
#[derive(Debug, Clone)]
struct Rules {
    size: i32,
    boundary: Boundary,
    partial: bool,
    vision: i32,
    encoding: ObservationEncoding,
    temporal: bool,
    move_cost: f32,
    wait_cost: f32,
    interact_cost: f32,
    lifespan: u32,
    initial: Vec<f32>,
    base_depletion: Vec<f32>,
    energy: usize,
    health: usize,
    hygiene: Option<usize>,
    satiation: Option<usize>,
    money: Option<usize>,
    modulations: Vec<Modulation>,
    /// Cascades regrouped into the three fixed passes, list order kept within a pass.
    cascades: Vec<Cascade>,
    terminal: Vec<TerminalCondition>,
    affordances: Vec<AffordanceDef>,
    /// First money entry of `costs` / `costs_per_tick` per affordance (0 when none).
    instant_money_cost: Vec<f32>,
    tick_money_cost: Vec<f32>,
    custom: Vec<CustomAction>,
    /// Vocabulary indices of the deployed affordances, in vocabulary order.
    deployed: Vec<usize>,
    action_names: Vec<String>,
    meter_names: Vec<String>,
    affordance_names: Vec<String>,
    layout: ObservationLayout,
    /// sin / cos of each hour, computed in f64 and cast (§10).
    hour_sin_cos: [[f32; 2]; HOURS_PER_DAY as usize],
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

#[inline]
fn clamp01(v: f32) -> f32 {
    v.clamp(0.0, 1.0)
}

#[inline]
fn clamp_all(m: &mut [f32]) {
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
    fn from_pack(pack: &Pack) -> Result<Self, EnvError> {
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
        let (spatial_kind, spatial_len) = if partial {
            let side = (2 * vision + 1) as usize;
            (SpatialKind::Window { side }, side * side)
        } else {
            (
                SpatialKind::FullGrid {
                    width: sub.width as usize,
                    height: sub.height as usize,
                },
                cells,
            )
        };
        // POMDP always uses the relative encoding (§10).
        let encoding = if partial {
            ObservationEncoding::Relative
        } else {
            sub.observation_encoding
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
        let layout = ObservationLayout {
            spatial_kind,
            dim: t0.end,
            spatial: s0,
            position: p0,
            meters: m0,
            affordance: a0,
            temporal: t0,
        };

        let mut cascades = pack.cascades.clone();
        // Stable sort: the three passes in fixed order, file order within a pass (§8.3).
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
    fn n_meters(&self) -> usize {
        self.initial.len()
    }

    #[inline]
    fn action_dim(&self) -> usize {
        NUM_SUBSTRATE_ACTIONS + self.custom.len()
    }

    #[inline]
    fn on_grid(&self, p: [i32; 2]) -> bool {
        (0..self.size).contains(&p[0]) && (0..self.size).contains(&p[1])
    }

    #[inline]
    fn cell(&self, p: [i32; 2]) -> usize {
        (p[1] * self.size + p[0]) as usize
    }

    /// One axis of `boundary(old + delta)` (§5).
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
    fn apply_move(&self, pos: [i32; 2], d: [i32; 2]) -> [i32; 2] {
        [
            self.bound_axis(pos[0], pos[0].saturating_add(d[0])),
            self.bound_axis(pos[1], pos[1].saturating_add(d[1])),
        ]
    }

    #[inline]
    fn is_dead_for_mask(&self, m: &[f32]) -> bool {
        m[self.health] <= 0.0 || m[self.energy] <= 0.0
    }

    fn terminal(&self, m: &[f32]) -> bool {
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
}

impl Env {
    /// Builds the world for `num_agents` agents and shuffles the layout with `seed`
    /// (environment.md §6). Agents sit at `[0,0]` with initial meters until `reset()`,
    /// which draws the spawns; call `reset()` before the first `step`.
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

    /// Reshuffles the affordance layout (§6): x-major cell list, Fisher–Yates from the
    /// end with `j = rng.random_range(0..=i)` on `u32`, first `k` cells to the deployed
    /// affordances in vocabulary order. Agents keep their positions.
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

    /// Advances every agent by one step (environment.md §4). The mask is not enforced;
    /// any id in `0..action_dim` runs as written. Inputs are checked before anything changes.
    pub fn step(&mut self, actions: &[u32], multiplier: f32) -> Result<&StepResult, EnvError> {
        if actions.len() != self.n {
            return Err(EnvError::ActionCount {
                expected: self.n,
                got: actions.len(),
            });
        }
        let action_dim = self.rules.action_dim();
        if let Some((agent, &action)) = actions
            .iter()
            .enumerate()
            .find(|(_, a)| **a as usize >= action_dim)
        {
            return Err(EnvError::InvalidAction {
                agent,
                action,
                action_dim,
            });
        }
        if !(multiplier.is_finite() && multiplier > 0.0) {
            return Err(EnvError::InvalidMultiplier(multiplier));
        }

        let nm = self.rules.n_meters();
        for (a, &action) in actions.iter().enumerate() {
            let m = &mut self.meters[a * nm..(a + 1) * nm];
            let outcome = step_agent(
                &self.rules,
                &self.cell_aff,
                action,
                multiplier,
                m,
                &mut self.pos[a],
                &mut self.progress[a],
                &mut self.last_aff[a],
                &mut self.last_pos[a],
                &mut self.step_count[a],
            );
            self.result.rewards[a] = outcome.reward;
            self.result.dones[a] = outcome.end.is_some();
            self.result.end_reasons[a] = outcome.end;
            self.result.successful_interactions[a] = outcome.interaction;
        }
        // Stage 16: the clock ticks in every mode.
        self.time_of_day = (self.time_of_day + 1) % HOURS_PER_DAY;
        // Stage 17.
        self.refresh();
        Ok(&self.result)
    }

    /// Rebuilds every observation and mask from the current state.
    fn refresh(&mut self) {
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

    // ---- read access ----

    /// Observations `[N * obs_dim]`, agent-major.
    pub fn observations(&self) -> &[f32] {
        &self.obs
    }

    /// Observation of one agent.
    pub fn observation(&self, agent: usize) -> &[f32] {
        let d = self.rules.layout.dim;
        &self.obs[agent * d..(agent + 1) * d]
    }

    /// Masks `[N * action_dim]`, true = allowed (§3.2), for the current state.
    pub fn action_masks(&self) -> &[bool] {
        &self.masks
    }

    /// Mask of one agent.
    pub fn action_mask(&self, agent: usize) -> &[bool] {
        let d = self.rules.action_dim();
        &self.masks[agent * d..(agent + 1) * d]
    }

    /// Outcome of the latest step (zeros / `None` after `reset`).
    pub fn last_result(&self) -> &StepResult {
        &self.result
    }

    pub fn obs_dim(&self) -> usize {
        self.rules.layout.dim
    }

    pub fn observation_layout(&self) -> &ObservationLayout {
        &self.rules.layout
    }

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

    // ---- hooks (tests, simulate, checkpoint restore); each refreshes obs and masks ----

    fn check_agent(&self, agent: usize) -> Result<(), EnvError> {
        if agent >= self.n {
            return Err(EnvError::NoSuchAgent {
                agent,
                num_agents: self.n,
            });
        }
        Ok(())
    }

    fn check_cell(&self, pos: [i32; 2]) -> Result<(), EnvError> {
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
        if let Some((i, &v)) = values
            .iter()
            .enumerate()
            .find(|(_, v)| !(0.0..=1.0).contains(*v))
        {
            return Err(EnvError::MeterValue {
                name: self.rules.meter_names[i].clone(),
                value: v,
            });
        }
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

struct AgentOutcome {
    reward: f32,
    end: Option<EndReason>,
    interaction: Option<usize>,
}

/// Stages 1–15 for one agent (environment.md §4).
#[allow(clippy::too_many_arguments)]
#[inline]
fn step_agent(
    r: &Rules,
    cell_aff: &[u16],
    action: u32,
    mult: f32,
    m: &mut [f32],
    pos: &mut [i32; 2],
    progress: &mut u32,
    last_aff: &mut Option<usize>,
    last_pos: &mut [i32; 2],
    step_count: &mut u32,
) -> AgentOutcome {
    // Stage 1: custom actions.
    if action as usize >= NUM_SUBSTRATE_ACTIONS {
        let ca = &r.custom[action as usize - NUM_SUBSTRATE_ACTIONS];
        for c in &ca.costs {
            m[c.meter] -= c.amount;
        }
        for e in &ca.effects {
            m[e.meter] += e.amount;
        }
        if let Some(tp) = ca.teleport_to {
            *pos = tp;
        } else if let Some(d) = ca.delta {
            *pos = r.apply_move(*pos, d);
        }
        clamp_all(m);
    }
    // Stage 2: snapshot after stage 1 (so a moving custom action keeps progress, quirk 9).
    let old_pos = *pos;
    // Stage 3: movement.
    let delta = match action {
        ACTION_UP => Some([0, -1]),
        ACTION_DOWN => Some([0, 1]),
        ACTION_LEFT => Some([-1, 0]),
        ACTION_RIGHT => Some([1, 0]),
        _ => None,
    };
    if let Some(d) = delta {
        *pos = r.apply_move(*pos, d);
    }
    // Stage 4: progress reset on a change of position.
    if r.temporal && *pos != old_pos {
        *progress = 0;
        *last_aff = None;
    }
    // Stages 5–7: the action's own energy (and move) costs.
    if delta.is_some() {
        m[r.energy] -= r.move_cost;
        if let Some(h) = r.hygiene {
            m[h] -= MOVE_HYGIENE_COST;
        }
        if let Some(s) = r.satiation {
            m[s] -= MOVE_SATIATION_COST;
        }
        clamp_all(m);
    } else if action == ACTION_WAIT {
        m[r.energy] -= r.wait_cost;
        clamp_all(m);
    }
    // Stage 8: interaction.
    let mut interaction = None;
    if action == ACTION_INTERACT {
        m[r.energy] -= r.interact_cost;
        clamp_all(m);
        let cell = cell_aff[r.cell(*pos)];
        if cell != NO_AFFORDANCE {
            let ai = cell as usize;
            let aff = &r.affordances[ai];
            if r.temporal {
                let c = r.tick_money_cost[ai];
                let affordable = match r.money {
                    Some(mi) if c > 0.0 => m[mi] >= c,
                    _ => true,
                };
                if affordable {
                    if *last_aff == Some(ai) && *last_pos == *pos {
                        *progress += 1;
                    } else {
                        *progress = 1;
                        *last_aff = Some(ai);
                        *last_pos = *pos;
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
                    interaction = Some(ai);
                }
            } else {
                let c = r.instant_money_cost[ai];
                let affordable = match r.money {
                    Some(mi) if c > 0.0 => m[mi] >= c,
                    _ => true,
                };
                if affordable {
                    for e in &aff.effects {
                        m[e.meter] = clamp01(m[e.meter] + e.amount);
                    }
                    // Costs are not clamped here (quirk 4); stage 9 clamps.
                    for c in &aff.costs {
                        m[c.meter] -= c.amount;
                    }
                    interaction = Some(ai);
                }
            }
        }
    }
    // Stage 9: base depletion, the product first.
    for (v, &b) in m.iter_mut().zip(&r.base_depletion) {
        let d = b * mult;
        *v = clamp01(*v - d);
    }
    // Stage 10: modulations.
    for md in &r.modulations {
        let src = m[md.source];
        let k = md.base_multiplier + md.range * (1.0 - src);
        let d = md.baseline_depletion * k;
        m[md.target] = clamp01(m[md.target] - d);
    }
    // Stage 11: cascades, sequential and in place.
    for c in &r.cascades {
        let src = m[c.source];
        if src < c.threshold {
            let deficit = (c.threshold - src) / c.threshold;
            let p = c.strength * deficit;
            m[c.target] = clamp01(m[c.target] - p);
        }
    }
    // Stages 12–15.
    let dead = r.terminal(m);
    *step_count += 1;
    let retired = *step_count >= r.lifespan;
    let mut reward = if dead {
        0.0
    } else {
        clamp01(m[r.health]) * clamp01(m[r.energy])
    };
    if retired {
        reward += 1.0;
    }
    let end = if dead {
        Some(EndReason::Died)
    } else if retired {
        Some(EndReason::Retired)
    } else {
        None
    };
    AgentOutcome {
        reward,
        end,
        interaction,
    }
}

/// §10: builds one agent's observation into `out`.
#[allow(clippy::too_many_arguments)]
#[inline]
fn write_observation(
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

/// §3.2: mask for the current state.
#[inline]
fn write_mask(r: &Rules, cell_aff: &[u16], pos: [i32; 2], m: &[f32], t: u32, out: &mut [bool]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_reason_serde_names() {
        let names: Vec<String> = [
            EndReason::Died,
            EndReason::Retired,
            EndReason::Truncated,
            EndReason::Interrupted,
        ]
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
        assert_eq!(
            names,
            [
                r#""died""#,
                r#""retired""#,
                r#""truncated""#,
                r#""interrupted""#
            ]
        );
        let back: EndReason = serde_json::from_str(r#""retired""#).unwrap();
        assert_eq!(back, EndReason::Retired);
    }

    #[test]
    fn clamp01_bounds() {
        assert_eq!(clamp01(-0.1), 0.0);
        assert_eq!(clamp01(1.5), 1.0);
        assert_eq!(clamp01(0.25), 0.25);
    }
}
