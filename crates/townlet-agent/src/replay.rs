//! Uniform replay buffer (docs/training.md#uniform-replay): struct of arrays in plain
//! memory, FIFO overwrite, sampling with replacement into contiguous batch `Vec`s.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayBuffer {
    capacity: usize,
    obs_dim: usize,
    obs: Vec<f32>,
    next_obs: Vec<f32>,
    action: Vec<u32>,
    r_ext: Vec<f32>,
    /// Raw RND novelty; the weight is applied when a batch is drawn (change b).
    novelty: Vec<f32>,
    terminal: Vec<u8>,
    write: usize,
    size: usize,
}

/// One sampled batch, ready to become one tensor per field.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub obs: Vec<f32>,
    pub next_obs: Vec<f32>,
    pub action: Vec<i64>,
    /// `r_ext + w × novelty`.
    pub reward: Vec<f32>,
    /// 1.0 for terminal, else 0.0.
    pub terminal: Vec<f32>,
    /// The target net's bootstrap value of each `next_obs` (`max_a Q_target`), when the
    /// agent computed them before handing the batch to the learner thread
    /// (docs/training.md#overlapped-updates); `None`: the update computes them.
    pub bootstrap: Option<Vec<f32>>,
}

impl ReplayBuffer {
    pub fn new(capacity: usize, obs_dim: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            obs_dim,
            obs: vec![0.0; capacity * obs_dim],
            next_obs: vec![0.0; capacity * obs_dim],
            action: vec![0; capacity],
            r_ext: vec![0.0; capacity],
            novelty: vec![0.0; capacity],
            terminal: vec![0; capacity],
            write: 0,
            size: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    pub fn push(
        &mut self,
        obs: &[f32],
        action: u32,
        r_ext: f32,
        novelty: f32,
        next_obs: &[f32],
        terminal: bool,
    ) {
        let d = self.obs_dim;
        let i = self.write;
        self.obs[i * d..(i + 1) * d].copy_from_slice(obs);
        self.next_obs[i * d..(i + 1) * d].copy_from_slice(next_obs);
        self.action[i] = action;
        self.r_ext[i] = r_ext;
        self.novelty[i] = novelty;
        self.terminal[i] = u8::from(terminal);
        self.write = (self.write + 1) % self.capacity;
        self.size = (self.size + 1).min(self.capacity);
    }

    /// Draw `b` indices uniformly with replacement from `[0, size)` (replay RNG) and copy the
    /// rows into `out`, reusing its allocations.
    pub fn sample_into(&self, b: usize, w: f32, rng: &mut ChaCha8Rng, out: &mut Batch) {
        let d = self.obs_dim;
        out.obs.clear();
        out.next_obs.clear();
        out.action.clear();
        out.reward.clear();
        out.terminal.clear();
        out.bootstrap = None;
        if self.size == 0 {
            return;
        }
        for _ in 0..b {
            let i = rng.random_range(0..self.size);
            out.obs.extend_from_slice(&self.obs[i * d..(i + 1) * d]);
            out.next_obs
                .extend_from_slice(&self.next_obs[i * d..(i + 1) * d]);
            out.action.push(i64::from(self.action[i]));
            out.reward.push(self.r_ext[i] + w * self.novelty[i]);
            out.terminal.push(f32::from(self.terminal[i]));
        }
    }

    /// Row `i` as (obs, action, r_ext, novelty, next_obs, terminal), for tests and tools.
    pub fn row(&self, i: usize) -> (&[f32], u32, f32, f32, &[f32], bool) {
        let d = self.obs_dim;
        (
            &self.obs[i * d..(i + 1) * d],
            self.action[i],
            self.r_ext[i],
            self.novelty[i],
            &self.next_obs[i * d..(i + 1) * d],
            self.terminal[i] != 0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{STREAM_REPLAY, stream};

    #[test]
    fn wraps_around_and_overwrites_the_oldest() {
        let mut b = ReplayBuffer::new(3, 2);
        for k in 0..5u32 {
            let v = k as f32;
            b.push(&[v, v], k, v, 0.0, &[v + 1.0, v], k.is_multiple_of(2));
        }
        assert_eq!(b.len(), 3);
        // writes went to 0,1,2,0,1 → slots hold 3,4,2
        assert_eq!(b.row(0).1, 3);
        assert_eq!(b.row(1).1, 4);
        assert_eq!(b.row(2).1, 2);
        assert_eq!(b.row(2).0, &[2.0, 2.0]);
        assert!(b.row(2).5);
    }

    #[test]
    fn samples_only_stored_rows_with_weighted_novelty() {
        let mut b = ReplayBuffer::new(100, 1);
        for k in 0..10u32 {
            b.push(&[k as f32], k, 1.0, 2.0, &[k as f32 + 0.5], false);
        }
        let mut rng = stream(1, STREAM_REPLAY);
        let mut out = Batch::default();
        b.sample_into(64, 0.5, &mut rng, &mut out);
        assert_eq!(out.action.len(), 64);
        assert_eq!(out.obs.len(), 64);
        for (j, &a) in out.action.iter().enumerate() {
            assert!(a < 10);
            assert_eq!(out.obs[j], a as f32);
            assert_eq!(out.next_obs[j], a as f32 + 0.5);
            assert_eq!(out.reward[j], 2.0);
            assert_eq!(out.terminal[j], 0.0);
        }
        // with replacement over 10 rows, 64 draws must repeat something and cover several rows
        let distinct: std::collections::BTreeSet<_> = out.action.iter().collect();
        assert!(distinct.len() > 3 && distinct.len() <= 10);
    }

    #[test]
    fn sampling_is_deterministic_per_seed() {
        let mut b = ReplayBuffer::new(50, 1);
        for k in 0..50u32 {
            b.push(&[k as f32], k, 0.0, 0.0, &[0.0], false);
        }
        let draw = |seed| {
            let mut rng = stream(seed, STREAM_REPLAY);
            let mut out = Batch::default();
            b.sample_into(16, 0.0, &mut rng, &mut out);
            out.action
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }
}
