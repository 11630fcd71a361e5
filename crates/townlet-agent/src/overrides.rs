//! Live training overrides (docs/decisions.md#training-events): values a teacher sets on a
//! running agent — a fixed ε, the learning rate, a fixed intrinsic weight, a locked
//! curriculum stage, a depletion multiplier. The schedules keep running underneath a
//! fixed ε or intrinsic weight, so "back to the schedule" continues where the schedule
//! would be now.

use crate::agent::{DqnAgent, QModel};
use crate::curriculum::stage_multiplier;
use serde::{Deserialize, Serialize};

/// The overrides in force; `None` everywhere is the pack's behaviour. Saved in
/// checkpoints by the runner so a resume continues with them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingOverrides {
    /// A fixed ε (the decay schedule continues underneath).
    pub epsilon: Option<f64>,
    /// The optimizer's learning rate instead of `population.learning_rate`.
    pub learning_rate: Option<f64>,
    /// A fixed intrinsic weight (the annealing continues underneath).
    pub intrinsic_weight: Option<f64>,
    /// The curriculum stays at this stage (1..=5).
    pub stage: Option<u8>,
    /// The env's depletion multiplier instead of the stage's.
    pub depletion_multiplier: Option<f32>,
}

impl DqnAgent {
    /// The overrides in force.
    pub fn overrides(&self) -> &TrainingOverrides {
        &self.overrides
    }

    /// Applies every override of `o` (a resume restoring a checkpoint's overrides).
    pub fn apply_overrides(&mut self, o: &TrainingOverrides) {
        self.set_fixed_epsilon(o.epsilon);
        if let Some(lr) = o.learning_rate {
            self.set_learning_rate(lr);
        }
        self.overrides.learning_rate = o.learning_rate;
        self.set_fixed_intrinsic_weight(o.intrinsic_weight);
        self.lock_stage(o.stage);
        self.set_depletion_multiplier(o.depletion_multiplier);
    }

    /// ε used from now on: `Some(v)` fixed, `None` the schedule again.
    pub fn set_fixed_epsilon(&mut self, epsilon: Option<f64>) {
        self.overrides.epsilon = epsilon;
    }

    /// The learning rate every later optimizer step uses.
    pub fn set_learning_rate(&mut self, lr: f64) {
        match &mut self.model {
            QModel::Simple(m) => m.learner.settings.lr = lr,
            QModel::Recurrent(m) => m.learner.settings.lr = lr,
        }
        self.overrides.learning_rate = Some(lr);
    }

    /// The learning rate the optimizer steps with now.
    pub fn learning_rate(&self) -> f64 {
        match &self.model {
            QModel::Simple(m) => m.learner.settings.lr,
            QModel::Recurrent(m) => m.learner.settings.lr,
        }
    }

    /// Intrinsic weight used from now on: `Some(w)` fixed, `None` the annealed value.
    pub fn set_fixed_intrinsic_weight(&mut self, weight: Option<f64>) {
        self.overrides.intrinsic_weight = weight;
    }

    /// `Some(s)`: every agent's curriculum moves to stage `s` (clamped to 1..=5) and stays
    /// there; `None`: the curriculum rule applies again from the stage it is at.
    pub fn lock_stage(&mut self, stage: Option<u8>) {
        let stage = stage.map(|s| s.clamp(1, 5));
        if let Some(s) = stage {
            for c in &mut self.curricula {
                c.force_stage(s);
            }
        }
        self.overrides.stage = stage;
    }

    /// Depletion multiplier used from now on: `Some(m)` fixed, `None` the stage's.
    pub fn set_depletion_multiplier(&mut self, multiplier: Option<f32>) {
        self.overrides.depletion_multiplier = multiplier;
    }

    /// The stage's multiplier unless overridden.
    pub(crate) fn effective_multiplier(&self) -> f32 {
        self.overrides
            .depletion_multiplier
            .unwrap_or_else(|| stage_multiplier(self.curricula[0].stage))
    }
}
