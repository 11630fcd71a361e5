//! Recording criteria (docs/decisions.md#recording-criteria,
//! docs/decisions.md#rankings-use-extrinsic-reward): which finished episodes get a file.
//!
//! Evaluated in order periodic → stage_transitions → performance → stage_boundaries; the
//! first match gives the reason stored with the recording. The state that survives between
//! episodes is [`CriteriaState`] (serde) so the runner can keep it in a checkpoint. The
//! look-back ring of whole episodes is memory only: after a resume it starts empty.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use townlet_config::RecordingCriteria;

pub const REASON_PERIODIC: &str = "periodic";
pub const REASON_STAGE_BEFORE: &str = "stage_transition_before";
pub const REASON_STAGE_AFTER: &str = "stage_transition_after";
pub const REASON_TOP: &str = "performance_top";
pub const REASON_BOTTOM: &str = "performance_bottom";
pub const REASON_STAGE_BOUNDARY: &str = "stage_boundary";

/// Performance ranking is active once this many previous episodes are known.
pub const PERFORMANCE_MIN_HISTORY: usize = 10;

/// What the criteria remember between episodes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CriteriaState {
    /// Curriculum stage of the previous episode (a different stage now = a change).
    pub last_stage: Option<u32>,
    /// Episodes still to record after the latest stage change.
    pub after_remaining: u32,
    /// Extrinsic rewards of the previous `window` episodes, oldest first.
    pub recent_rewards: VecDeque<f32>,
    /// Episodes seen per stage (for stage_boundaries).
    pub stage_counts: BTreeMap<u32, u64>,
}

/// What the criteria decided for one episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Reason to record this episode, if any.
    pub reason: Option<&'static str>,
    /// A stage change was detected at this episode: the caller records the look-back ring.
    pub stage_changed: bool,
}

/// The criteria with their configuration and state.
#[derive(Debug, Clone)]
pub struct Criteria {
    config: RecordingCriteria,
    state: CriteriaState,
}

impl Criteria {
    pub fn new(config: RecordingCriteria) -> Self {
        Self {
            config,
            state: CriteriaState::default(),
        }
    }

    pub fn config(&self) -> &RecordingCriteria {
        &self.config
    }

    pub fn state(&self) -> &CriteriaState {
        &self.state
    }

    pub fn restore(&mut self, state: CriteriaState) {
        self.state = state;
    }

    /// Size of the look-back ring the caller should keep (stage_transitions `before`).
    pub fn lookback(&self) -> usize {
        let st = &self.config.stage_transitions;
        if st.enabled { st.before as usize } else { 0 }
    }

    /// Decides for the episode `episode_id` and updates the state with it.
    pub fn evaluate(&mut self, episode_id: u64, stage: u32, extrinsic_reward: f32) -> Decision {
        let c = &self.config;
        let s = &mut self.state;

        let stage_changed = s.last_stage.is_some_and(|last| last != stage);
        if stage_changed && c.stage_transitions.enabled {
            // The changed episode is the first of the `after` ones.
            s.after_remaining = c.stage_transitions.after;
        }

        let periodic = c.periodic.enabled
            && c.periodic.interval > 0
            && episode_id.is_multiple_of(c.periodic.interval);
        let after = c.stage_transitions.enabled && s.after_remaining > 0;
        let perf = if c.performance.enabled {
            rank(
                &s.recent_rewards,
                extrinsic_reward,
                c.performance.top_percent,
                c.performance.bottom_percent,
            )
        } else {
            None
        };
        let count = s.stage_counts.get(&stage).copied().unwrap_or(0);
        let boundary = c.stage_boundaries.enabled && count < c.stage_boundaries.first_n as u64;

        let reason = if periodic {
            Some(REASON_PERIODIC)
        } else if after {
            Some(REASON_STAGE_AFTER)
        } else if let Some(r) = perf {
            Some(r)
        } else if boundary {
            Some(REASON_STAGE_BOUNDARY)
        } else {
            None
        };

        // Update the state with this episode.
        if after {
            s.after_remaining -= 1;
        }
        s.last_stage = Some(stage);
        *s.stage_counts.entry(stage).or_insert(0) += 1;
        let window = c.performance.window as usize;
        if c.performance.enabled && window > 0 {
            if extrinsic_reward.is_finite() {
                s.recent_rewards.push_back(extrinsic_reward);
            }
            while s.recent_rewards.len() > window {
                s.recent_rewards.pop_front();
            }
        }

        Decision {
            reason,
            stage_changed: stage_changed && c.stage_transitions.enabled,
        }
    }
}

/// Top / bottom P % against the previous episodes (current excluded), strict so that a
/// run of equal rewards records nothing: top when fewer than P % of the window reached the
/// reward, bottom when fewer than P % were at or below it.
fn rank(window: &VecDeque<f32>, r: f32, top: f64, bottom: f64) -> Option<&'static str> {
    let n = window.len();
    if n < PERFORMANCE_MIN_HISTORY || !r.is_finite() {
        return None;
    }
    let at_or_above = window.iter().filter(|&&w| w >= r).count() as f64;
    let at_or_below = window.iter().filter(|&&w| w <= r).count() as f64;
    let n = n as f64;
    if at_or_above < top / 100.0 * n {
        Some(REASON_TOP)
    } else if at_or_below < bottom / 100.0 * n {
        Some(REASON_BOTTOM)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn off() -> RecordingCriteria {
        let mut c = RecordingCriteria::default();
        c.periodic.enabled = false;
        c.stage_transitions.enabled = false;
        c.performance.enabled = false;
        c.stage_boundaries.enabled = false;
        c
    }

    #[test]
    fn nothing_enabled_records_nothing() {
        let mut cr = Criteria::new(off());
        for e in 0..50 {
            let d = cr.evaluate(e, (e / 10) as u32, e as f32);
            assert_eq!(d.reason, None);
            assert!(!d.stage_changed);
        }
    }

    #[test]
    fn periodic_every_interval() {
        let mut c = off();
        c.periodic.enabled = true;
        c.periodic.interval = 25;
        let mut cr = Criteria::new(c);
        let picked: Vec<u64> = (0..101)
            .filter(|&e| cr.evaluate(e, 1, 0.0).reason == Some(REASON_PERIODIC))
            .collect();
        assert_eq!(picked, vec![0, 25, 50, 75, 100]);
    }

    #[test]
    fn stage_transition_after_window() {
        let mut c = off();
        c.stage_transitions.enabled = true;
        c.stage_transitions.before = 2;
        c.stage_transitions.after = 3;
        let mut cr = Criteria::new(c);
        assert_eq!(cr.lookback(), 2);
        let mut picked = vec![];
        let mut changes = vec![];
        for e in 0..20u64 {
            let stage = if e < 10 { 1 } else { 2 };
            let d = cr.evaluate(e, stage, 0.0);
            if d.stage_changed {
                changes.push(e);
            }
            if d.reason == Some(REASON_STAGE_AFTER) {
                picked.push(e);
            }
        }
        assert_eq!(changes, vec![10]);
        assert_eq!(picked, vec![10, 11, 12]);
    }

    #[test]
    fn performance_top_and_bottom_after_ten() {
        let mut c = off();
        c.performance.enabled = true;
        c.performance.top_percent = 10.0;
        c.performance.bottom_percent = 10.0;
        c.performance.window = 20;
        let mut cr = Criteria::new(c);
        // Fewer than 10 known: even an extreme reward is not ranked.
        for e in 0..9 {
            assert_eq!(cr.evaluate(e, 1, 5.0).reason, None);
        }
        assert_eq!(cr.evaluate(9, 1, 1000.0).reason, None, "9 known");
        // Now 10 known (nine 5.0 and one 1000.0).
        assert_eq!(cr.evaluate(10, 1, 2000.0).reason, Some(REASON_TOP));
        assert_eq!(cr.evaluate(11, 1, -3.0).reason, Some(REASON_BOTTOM));
        assert_eq!(cr.evaluate(12, 1, 5.0).reason, None, "a tie is not extreme");
        // 13 known, one of them 2000: a second 2000 is still in the top 10 % (1 < 1.3) …
        assert_eq!(cr.evaluate(13, 1, 2000.0).reason, Some(REASON_TOP));
        // … a third is not (2 of 14 reached it, 2 >= 1.4).
        assert_eq!(cr.evaluate(14, 1, 2000.0).reason, None);
        assert!(cr.state().recent_rewards.len() <= 20);
    }

    #[test]
    fn window_slides() {
        let mut c = off();
        c.performance.enabled = true;
        c.performance.top_percent = 5.0;
        c.performance.bottom_percent = 5.0;
        c.performance.window = 10;
        let mut cr = Criteria::new(c);
        cr.evaluate(0, 1, 100.0);
        for e in 1..11 {
            cr.evaluate(e, 1, 1.0);
        }
        // 100.0 has left the 10-episode window, so 50.0 is now the best.
        assert_eq!(cr.state().recent_rewards.len(), 10);
        assert_eq!(cr.evaluate(11, 1, 50.0).reason, Some(REASON_TOP));
    }

    #[test]
    fn stage_boundaries_first_n_per_stage() {
        let mut c = off();
        c.stage_boundaries.enabled = true;
        c.stage_boundaries.first_n = 2;
        let mut cr = Criteria::new(c);
        let stages = [1, 1, 1, 1, 2, 2, 2, 3, 1];
        let picked: Vec<u64> = stages
            .iter()
            .enumerate()
            .filter(|&(e, &s)| cr.evaluate(e as u64, s, 0.0).reason == Some(REASON_STAGE_BOUNDARY))
            .map(|(e, _)| e as u64)
            .collect();
        assert_eq!(picked, vec![0, 1, 4, 5, 7]);
    }

    #[test]
    fn first_match_gives_reason() {
        let mut c = off();
        c.periodic.enabled = true;
        c.periodic.interval = 5;
        c.stage_boundaries.enabled = true;
        c.stage_boundaries.first_n = 10;
        let mut cr = Criteria::new(c);
        assert_eq!(cr.evaluate(0, 1, 0.0).reason, Some(REASON_PERIODIC));
        assert_eq!(cr.evaluate(1, 1, 0.0).reason, Some(REASON_STAGE_BOUNDARY));
    }

    #[test]
    fn state_survives_serde_and_restore() {
        let mut c = off();
        c.stage_transitions.enabled = true;
        c.stage_transitions.after = 4;
        c.performance.enabled = true;
        let mut a = Criteria::new(c.clone());
        for e in 0..30 {
            a.evaluate(e, if e < 28 { 1 } else { 2 }, e as f32);
        }
        let json = serde_json::to_string(a.state()).unwrap();
        let mut b = Criteria::new(c);
        b.restore(serde_json::from_str(&json).unwrap());
        for e in 30..60 {
            let stage = if e < 45 { 2 } else { 3 };
            assert_eq!(
                a.evaluate(e, stage, (e % 7) as f32),
                b.evaluate(e, stage, (e % 7) as f32)
            );
        }
        assert_eq!(a.state(), b.state());
    }
}
