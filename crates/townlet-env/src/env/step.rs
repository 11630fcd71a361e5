//! One step of the world: every agent's action, its costs, interactions, depletion,
//! modulations, cascades, death and retirement, then the clock.

use super::Env;
use super::rules::{
    ACTION_DOWN, ACTION_INTERACT, ACTION_LEFT, ACTION_RIGHT, ACTION_UP, ACTION_WAIT, HOURS_PER_DAY,
    NO_AFFORDANCE, NUM_SUBSTRATE_ACTIONS, Rules, clamp01,
};
use crate::{EndReason, EnvError};

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

impl Env {
    /// Outcome of the latest step (zeros / `None` after `reset`).
    pub fn last_result(&self) -> &StepResult {
        &self.result
    }

    /// Advances every agent by one step (docs/world.md#one-step-stage-by-stage). The mask
    /// is not enforced; any id in `0..action_dim` runs as written. Inputs are checked
    /// before anything changes.
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
}

struct AgentOutcome {
    reward: f32,
    end: Option<EndReason>,
    interaction: Option<usize>,
}

/// Stages 1–15 for one agent, in order; the meter arithmetic of each stage is in
/// [`Rules`].
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
        r.apply_custom_action(action as usize - NUM_SUBSTRATE_ACTIONS, m, pos);
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
        r.apply_move_costs(m);
    } else if action == ACTION_WAIT {
        r.apply_wait_cost(m);
    }
    // Stage 8: interaction.
    let mut interaction = None;
    if action == ACTION_INTERACT {
        r.apply_interact_cost(m);
        let cell = cell_aff[r.cell(*pos)];
        if cell != NO_AFFORDANCE {
            let ai = cell as usize;
            let done = if r.temporal {
                r.interact_tick(ai, m, *pos, progress, last_aff, last_pos)
            } else {
                r.interact_instant(ai, m)
            };
            if done {
                interaction = Some(ai);
            }
        }
    }
    // Stages 9–11: base depletion, modulations, cascades.
    r.deplete(m, mult);
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
