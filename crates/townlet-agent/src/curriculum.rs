//! The adversarial curriculum (docs/training.md#advance-and-retreat: decided at episode
//! ends on a window of survival fractions), and the static variant
//! (docs/training.md#a-fixed-stage).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use townlet_config::{CurriculumConfig, CurriculumKind};

/// Depletion multiplier per stage 1..=5 (docs/training.md#stages; not configurable).
pub fn stage_multiplier(stage: u8) -> f32 {
    match stage {
        0 | 1 => 0.2,
        2 => 0.5,
        3 => 0.8,
        _ => 1.0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionReason {
    Advance,
    Retreat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTransition {
    pub episode: u64,
    pub agent: u32,
    pub from: u8,
    pub to: u8,
    pub reason: TransitionReason,
    pub survival_mean: f64,
    pub entropy_mean: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curriculum {
    pub stage: u8,
    pub episodes_at_stage: u32,
    survival: VecDeque<f64>,
    entropy: VecDeque<f64>,
    pub transitions: Vec<StageTransition>,
    cfg: CurriculumConfig,
    agent: u32,
}

impl Curriculum {
    pub fn new(cfg: &CurriculumConfig, agent: u32) -> Self {
        let stage = match cfg.kind {
            CurriculumKind::Adversarial => 1,
            CurriculumKind::Static => cfg.static_stage.clamp(1, 5),
        };
        Self {
            stage,
            episodes_at_stage: 0,
            survival: VecDeque::new(),
            entropy: VecDeque::new(),
            transitions: Vec::new(),
            cfg: cfg.clone(),
            agent,
        }
    }

    pub fn multiplier(&self) -> f32 {
        stage_multiplier(self.stage)
    }

    /// Moves to `stage` (a teacher's lock): the windows start over there.
    pub fn force_stage(&mut self, stage: u8) {
        if self.stage != stage {
            self.stage = stage.clamp(1, 5);
            self.episodes_at_stage = 0;
            self.survival.clear();
            self.entropy.clear();
        }
    }

    /// Record a finished episode of length `length` (mean policy entropy `entropy`) and apply
    /// the stage rule. Returns the transition when the stage changed.
    pub fn on_episode(
        &mut self,
        episode: u64,
        length: u32,
        entropy: f64,
    ) -> Option<StageTransition> {
        let cap = f64::from(self.cfg.max_steps_per_episode.max(1));
        let f = f64::from(length).min(cap) / cap;
        let window = self.cfg.evaluation_window.max(1) as usize;
        self.survival.push_back(f);
        self.entropy.push_back(entropy);
        while self.survival.len() > window {
            self.survival.pop_front();
            self.entropy.pop_front();
        }
        self.episodes_at_stage += 1;
        if self.cfg.kind == CurriculumKind::Static {
            return None;
        }
        if self.episodes_at_stage < self.cfg.min_episodes_at_stage || self.survival.len() < window {
            return None;
        }
        let n = self.survival.len() as f64;
        let s = self.survival.iter().sum::<f64>() / n;
        let h = self.entropy.iter().sum::<f64>() / n;
        let (to, reason) = if self.stage > 1 && s < self.cfg.survival_retreat_threshold {
            (self.stage - 1, TransitionReason::Retreat)
        } else if self.stage < 5
            && s >= self.cfg.survival_advance_threshold
            && self.cfg.entropy_gate.is_none_or(|g| h < g)
        {
            (self.stage + 1, TransitionReason::Advance)
        } else {
            return None;
        };
        let t = StageTransition {
            episode,
            agent: self.agent,
            from: self.stage,
            to,
            reason,
            survival_mean: s,
            entropy_mean: Some(h),
        };
        self.stage = to;
        self.episodes_at_stage = 0;
        self.survival.clear();
        self.entropy.clear();
        self.transitions.push(t.clone());
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(min: u32, window: u32) -> CurriculumConfig {
        CurriculumConfig {
            max_steps_per_episode: 100,
            survival_advance_threshold: 0.7,
            survival_retreat_threshold: 0.3,
            entropy_gate: None,
            min_episodes_at_stage: min,
            evaluation_window: window,
            kind: CurriculumKind::Adversarial,
            static_stage: 4,
        }
    }

    #[test]
    fn advances_at_the_earliest_possible_episode() {
        let mut c = Curriculum::new(&cfg(10, 5), 0);
        let mut changes = vec![];
        for e in 0..40u64 {
            if let Some(t) = c.on_episode(e, 100, 0.9) {
                changes.push((e, t.from, t.to, t.reason));
            }
        }
        // min 10 episodes per stage → changes after episodes 9, 19, 29, 39
        assert_eq!(
            changes,
            vec![
                (9, 1, 2, TransitionReason::Advance),
                (19, 2, 3, TransitionReason::Advance),
                (29, 3, 4, TransitionReason::Advance),
                (39, 4, 5, TransitionReason::Advance),
            ]
        );
        assert_eq!(c.multiplier(), 1.0);
        // never beyond 5
        for e in 40..80 {
            assert!(c.on_episode(e, 100, 0.0).is_none());
        }
        assert_eq!(c.stage, 5);
    }

    #[test]
    fn retreats_when_survival_collapses_and_is_checked_first() {
        let mut c = Curriculum::new(&cfg(3, 3), 0);
        for e in 0..3 {
            c.on_episode(e, 100, 0.0);
        }
        assert_eq!(c.stage, 2);
        for e in 3..6 {
            c.on_episode(e, 10, 0.0);
        }
        assert_eq!(c.stage, 1);
        assert_eq!(c.transitions[1].reason, TransitionReason::Retreat);
        // at stage 1 there is no retreat
        for e in 6..20 {
            c.on_episode(e, 10, 0.0);
        }
        assert_eq!(c.stage, 1);
    }

    #[test]
    fn middle_survival_keeps_the_stage_and_window_must_be_full() {
        let mut c = Curriculum::new(&cfg(0, 4), 0);
        for e in 0..3 {
            assert!(c.on_episode(e, 100, 0.0).is_none()); // window not full
        }
        let mut c2 = Curriculum::new(&cfg(0, 4), 0);
        for e in 0..50 {
            assert!(c2.on_episode(e, 50, 0.0).is_none()); // 0.5: between thresholds
        }
    }

    #[test]
    fn entropy_gate_blocks_advance_when_set() {
        let mut g = cfg(2, 2);
        g.entropy_gate = Some(0.5);
        let mut c = Curriculum::new(&g, 0);
        for e in 0..10 {
            c.on_episode(e, 100, 0.9);
        }
        assert_eq!(c.stage, 1);
        c.on_episode(10, 100, 0.1);
        c.on_episode(11, 100, 0.1);
        assert_eq!(c.stage, 2);
    }

    #[test]
    fn survival_fraction_is_capped_and_static_never_moves() {
        let mut s = cfg(0, 2);
        s.kind = CurriculumKind::Static;
        s.static_stage = 4;
        let mut c = Curriculum::new(&s, 0);
        assert_eq!(c.stage, 4);
        for e in 0..20 {
            assert!(c.on_episode(e, 1000, 0.0).is_none());
            assert!(c.on_episode(e, 0, 0.0).is_none());
        }
        assert_eq!(c.stage, 4);
        assert_eq!(stage_multiplier(1), 0.2);
        assert_eq!(stage_multiplier(3), 0.8);
    }
}
