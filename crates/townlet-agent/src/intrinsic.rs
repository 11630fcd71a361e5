//! Adaptive intrinsic weight (docs/training.md#adaptive-intrinsic-weight).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use townlet_config::ExplorationConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveIntrinsic {
    pub weight: f64,
    history: VecDeque<u32>,
    window: usize,
    variance_threshold: f64,
    min_survival: f64,
    decay: f64,
    min_weight: f64,
}

impl AdaptiveIntrinsic {
    pub fn new(cfg: &ExplorationConfig) -> Self {
        Self {
            weight: cfg.initial_intrinsic_weight,
            history: VecDeque::with_capacity(cfg.survival_window),
            window: cfg.survival_window.max(1),
            variance_threshold: cfg.variance_threshold,
            min_survival: cfg.min_survival_for_annealing,
            decay: cfg.intrinsic_decay,
            min_weight: cfg.min_intrinsic_weight,
        }
    }

    /// Push a finished episode's length `T` and apply the annealing test. Returns true when
    /// the weight was annealed.
    pub fn on_episode(&mut self, length: u32) -> bool {
        self.history.push_back(length);
        while self.history.len() > self.window {
            self.history.pop_front();
        }
        if self.history.len() < self.window || self.window < 2 {
            return false;
        }
        let n = self.history.len() as f64;
        let mean = self.history.iter().map(|&t| f64::from(t)).sum::<f64>() / n;
        let var = self
            .history
            .iter()
            .map(|&t| (f64::from(t) - mean).powi(2))
            .sum::<f64>()
            / (n - 1.0);
        if var < self.variance_threshold && mean > self.min_survival {
            self.weight = (self.weight * self.decay).max(self.min_weight);
            return true;
        }
        false
    }

    pub fn history(&self) -> impl Iterator<Item = u32> + '_ {
        self.history.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(window: usize) -> ExplorationConfig {
        ExplorationConfig {
            embed_dim: 8,
            initial_intrinsic_weight: 1.0,
            variance_threshold: 100.0,
            survival_window: window,
            rnd_learning_rate: 1e-4,
            rnd_batch_size: 128,
            intrinsic_decay: 0.99,
            min_intrinsic_weight: 0.0,
            min_survival_for_annealing: 50.0,
        }
    }

    #[test]
    fn anneals_only_with_a_full_low_variance_long_history() {
        let mut w = AdaptiveIntrinsic::new(&cfg(5));
        for _ in 0..4 {
            assert!(!w.on_episode(500));
        }
        assert_eq!(w.weight, 1.0); // window not full yet
        assert!(w.on_episode(500));
        assert!((w.weight - 0.99).abs() < 1e-12);
        assert!(w.on_episode(500));
        assert!((w.weight - 0.99 * 0.99).abs() < 1e-12);
    }

    #[test]
    fn high_variance_or_short_survival_blocks_annealing() {
        let mut w = AdaptiveIntrinsic::new(&cfg(4));
        for t in [100, 300, 100, 300, 100] {
            w.on_episode(t);
        }
        assert_eq!(w.weight, 1.0);
        let mut short = AdaptiveIntrinsic::new(&cfg(4));
        for _ in 0..10 {
            short.on_episode(40); // variance 0 but mean ≤ 50
        }
        assert_eq!(short.weight, 1.0);
    }

    #[test]
    fn floor_is_respected() {
        let mut c = cfg(2);
        c.min_intrinsic_weight = 0.5;
        c.intrinsic_decay = 0.1;
        let mut w = AdaptiveIntrinsic::new(&c);
        for _ in 0..5 {
            w.on_episode(200);
        }
        assert_eq!(w.weight, 0.5);
    }
}
