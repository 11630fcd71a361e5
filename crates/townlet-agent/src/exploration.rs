//! Masked ε-greedy (docs/training.md#epsilon-greedy-with-masks) and the ε schedule.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Pick an action for one agent. Returns `(action, explored)`.
///
/// Draw `u` in [0,1); if `u < ε`, a uniform pick among valid actions (one more draw);
/// otherwise the valid action with the largest Q (ties → lowest index). No valid action
/// (a dead agent) → action 0.
pub fn select_action(q: &[f32], mask: &[bool], epsilon: f64, rng: &mut ChaCha8Rng) -> (u32, bool) {
    let u: f64 = rng.random();
    let n_valid = mask.iter().filter(|&&m| m).count();
    if n_valid == 0 {
        return (0, false);
    }
    if u < epsilon {
        let k = rng.random_range(0..n_valid);
        let a = mask
            .iter()
            .enumerate()
            .filter(|(_, m)| **m)
            .nth(k)
            .map(|(i, _)| i)
            .unwrap_or(0);
        return (a as u32, true);
    }
    (greedy(q, mask).unwrap_or(0), false)
}

/// Valid action with the largest Q; ties go to the lowest index.
pub fn greedy(q: &[f32], mask: &[bool]) -> Option<u32> {
    let mut best: Option<(usize, f32)> = None;
    for (i, (&v, &ok)) in q.iter().zip(mask).enumerate() {
        if ok && best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i as u32)
}

/// `max(min, ε × decay)`, applied once per finished (non-interrupted) episode.
pub fn decay_epsilon(epsilon: f64, decay: f64, min: f64) -> f64 {
    (epsilon * decay).max(min)
}

/// Normalised entropy of softmax(Q) over the valid actions
/// (docs/training.md#advance-and-retreat):
/// `H / ln(n_valid)`, 0 when at most one action is valid.
pub fn masked_entropy(q: &[f32], mask: &[bool]) -> f32 {
    let n = mask.iter().filter(|&&m| m).count();
    if n <= 1 {
        return 0.0;
    }
    let max = q
        .iter()
        .zip(mask)
        .filter(|(_, m)| **m)
        .map(|(v, _)| *v as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut z = 0.0f64;
    for (v, m) in q.iter().zip(mask) {
        if *m {
            z += ((*v as f64) - max).exp();
        }
    }
    let mut h = 0.0f64;
    for (v, m) in q.iter().zip(mask) {
        if *m {
            let p = ((*v as f64) - max).exp() / z;
            if p > 0.0 {
                h -= p * p.ln();
            }
        }
    }
    (h / (n as f64).ln()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{STREAM_ACTION, stream};

    #[test]
    fn never_picks_a_masked_action() {
        let mut rng = stream(9, STREAM_ACTION);
        let q = [10.0, -1.0, 5.0, 7.0, 100.0, 0.0, 0.0, 3.0];
        let mask = [false, true, false, true, false, true, true, false];
        for eps in [0.0, 0.3, 1.0] {
            for _ in 0..2000 {
                let (a, explored) = select_action(&q, &mask, eps, &mut rng);
                assert!(mask[a as usize], "picked masked action {a}");
                if eps == 0.0 {
                    assert!(!explored);
                    assert_eq!(a, 3);
                }
            }
        }
    }

    #[test]
    fn random_branch_covers_every_valid_action() {
        let mut rng = stream(2, STREAM_ACTION);
        let q = [0.0; 8];
        let mask = [true, false, true, false, true, false, true, false];
        let mut seen = [0usize; 8];
        for _ in 0..4000 {
            let (a, explored) = select_action(&q, &mask, 1.0, &mut rng);
            assert!(explored);
            seen[a as usize] += 1;
        }
        for i in [0, 2, 4, 6] {
            assert!(seen[i] > 800, "action {i} drawn {} times", seen[i]);
        }
    }

    #[test]
    fn ties_go_to_lowest_index_and_dead_agent_takes_zero() {
        assert_eq!(greedy(&[1.0, 3.0, 3.0], &[true, true, true]), Some(1));
        let mut rng = stream(0, STREAM_ACTION);
        assert_eq!(
            select_action(&[1.0, 2.0], &[false, false], 0.5, &mut rng),
            (0, false)
        );
    }

    #[test]
    fn epsilon_schedule_matches_the_milestones() {
        // Decay 0.995 → first episode below 0.1 is 460; floor 0.01 at 919
        // (docs/training.md#epsilon-greedy-with-masks).
        let mut eps = 1.0;
        let mut first_below = None;
        let mut at_floor = None;
        for n in 0..2000 {
            if first_below.is_none() && eps < 0.1 {
                first_below = Some(n);
            }
            if at_floor.is_none() && eps <= 0.01 {
                at_floor = Some(n);
            }
            eps = decay_epsilon(eps, 0.995, 0.01);
        }
        assert_eq!(first_below, Some(460));
        assert_eq!(at_floor, Some(919));
        assert_eq!(eps, 0.01);
    }

    #[test]
    fn entropy_bounds() {
        let m = [true; 4];
        assert!((masked_entropy(&[1.0; 4], &m) - 1.0).abs() < 1e-6);
        assert!(masked_entropy(&[100.0, 0.0, 0.0, 0.0], &m) < 1e-3);
        assert_eq!(masked_entropy(&[1.0, 2.0], &[true, false]), 0.0);
    }
}
