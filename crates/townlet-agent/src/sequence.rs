//! Episode-sequence replay for the recurrent net
//! (docs/training.md#episode-sequence-replay): whole episodes with the acting state before
//! every step, capacity in transitions, oldest evicted, windows drawn uniformly over every
//! valid `(episode, start)` pair.

use crate::recurrent::STATE_LEN;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// One finished episode of one agent: `T` steps, `T + 1` observations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRecord {
    /// `o_0 … o_T`, row-major `(T + 1) × D`; the last row is the final `obs'`.
    pub obs: Vec<f32>,
    pub action: Vec<u32>,
    pub r_ext: Vec<f32>,
    /// Raw RND novelty (the weight is applied when sampling).
    pub novelty: Vec<f32>,
    /// Acting state before each step, `T × 256` (cell then hidden).
    pub state: Vec<f32>,
    /// Death or retirement on the last step; false for truncated or interrupted episodes.
    pub terminal: bool,
}

impl EpisodeRecord {
    /// Number of steps `T`.
    pub fn len(&self) -> usize {
        self.action.len()
    }

    pub fn is_empty(&self) -> bool {
        self.action.is_empty()
    }
}

/// An episode under construction (one per agent while the episode runs).
#[derive(Debug, Clone, Default)]
pub struct EpisodeBuilder {
    obs: Vec<f32>,
    action: Vec<u32>,
    r_ext: Vec<f32>,
    novelty: Vec<f32>,
    state: Vec<f32>,
    last_next_obs: Vec<f32>,
    terminal: bool,
}

impl EpisodeBuilder {
    /// Append step `t`: the observation the action was chosen from, the action, its reward
    /// and novelty, the acting state before the step, and what the env returned.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        obs: &[f32],
        action: u32,
        r_ext: f32,
        novelty: f32,
        state_before: &[f32],
        next_obs: &[f32],
        terminal: bool,
    ) {
        self.obs.extend_from_slice(obs);
        self.action.push(action);
        self.r_ext.push(r_ext);
        self.novelty.push(novelty);
        self.state.extend_from_slice(state_before);
        self.last_next_obs.clear();
        self.last_next_obs.extend_from_slice(next_obs);
        self.terminal = terminal;
    }

    pub fn len(&self) -> usize {
        self.action.len()
    }

    pub fn is_empty(&self) -> bool {
        self.action.is_empty()
    }

    /// Close the episode (terminal iff the last step was) and reset the builder.
    pub fn finish(&mut self) -> Option<EpisodeRecord> {
        if self.action.is_empty() {
            return None;
        }
        let mut b = std::mem::take(self);
        b.obs.extend_from_slice(&b.last_next_obs);
        Some(EpisodeRecord {
            obs: b.obs,
            action: b.action,
            r_ext: b.r_ext,
            novelty: b.novelty,
            state: b.state,
            terminal: b.terminal,
        })
    }
}

/// Sampled windows, flat and ready to become one tensor per field
/// (docs/training.md#the-recurrent-update).
#[derive(Debug, Clone, Default)]
pub struct SeqBatch {
    pub batch: usize,
    pub seq_len: usize,
    /// Longest burn-in of the batch, `K`.
    pub burn: usize,
    /// `[B, K, D]`, right-aligned: window `b` uses its last `k_b` slots.
    pub burn_obs: Vec<f32>,
    /// `[B, K]`, 1.0 where the slot is a real burn-in step.
    pub burn_mask: Vec<f32>,
    /// `[B, 256]` stored acting state at `s − k_b` (cell then hidden).
    pub start_state: Vec<f32>,
    /// `[B, L + 1, D]`: `o_s … o_{s+L}`.
    pub obs: Vec<f32>,
    /// `[B, L]`.
    pub action: Vec<i64>,
    /// `[B, L]`: `r_ext + w × novelty`.
    pub reward: Vec<f32>,
    /// `[B, L]`: 1.0 only on a terminal episode's last step.
    pub terminal: Vec<f32>,
    /// `(stored episode index, start s)` of each window.
    pub windows: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceBuffer {
    capacity: usize,
    obs_dim: usize,
    seq_len: usize,
    episodes: VecDeque<EpisodeRecord>,
    transitions: usize,
}

impl SequenceBuffer {
    pub fn new(capacity: usize, obs_dim: usize, seq_len: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            obs_dim,
            seq_len: seq_len.max(1),
            episodes: VecDeque::new(),
            transitions: 0,
        }
    }

    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Stored transitions (sum of `T`).
    pub fn transitions(&self) -> usize {
        self.transitions
    }

    pub fn episodes(&self) -> impl ExactSizeIterator<Item = &EpisodeRecord> {
        self.episodes.iter()
    }

    pub fn num_episodes(&self) -> usize {
        self.episodes.len()
    }

    /// Episodes long enough to give a window (`T ≥ L`).
    pub fn sampleable_episodes(&self) -> usize {
        self.episodes
            .iter()
            .filter(|e| e.len() >= self.seq_len)
            .count()
    }

    /// Ready to train: at least `batch` stored episodes with `T ≥ L`.
    pub fn is_ready(&self, batch: usize) -> bool {
        self.sampleable_episodes() >= batch.max(1)
    }

    /// Store a finished episode, then evict the oldest while the total exceeds the
    /// capacity. The episode just stored is always kept (a single episode longer than the
    /// capacity would otherwise leave the buffer empty).
    pub fn push(&mut self, ep: EpisodeRecord) {
        if ep.is_empty() {
            return;
        }
        debug_assert_eq!(ep.obs.len(), (ep.len() + 1) * self.obs_dim);
        debug_assert_eq!(ep.state.len(), ep.len() * STATE_LEN);
        self.transitions += ep.len();
        self.episodes.push_back(ep);
        while self.transitions > self.capacity && self.episodes.len() > 1 {
            if let Some(old) = self.episodes.pop_front() {
                self.transitions -= old.len();
            }
        }
    }

    /// Draw `b` windows with replacement, uniformly over every `(episode, s)` with
    /// `0 ≤ s ≤ T − L` (one replay-RNG draw each), and gather them into `out`.
    /// Leaves `out.windows` empty when no episode is long enough.
    pub fn sample_into(
        &self,
        b: usize,
        burn_in: usize,
        w: f32,
        rng: &mut ChaCha8Rng,
        out: &mut SeqBatch,
    ) {
        let l = self.seq_len;
        let d = self.obs_dim;
        out.windows.clear();
        let starts: Vec<usize> = self
            .episodes
            .iter()
            .map(|e| (e.len() + 1).saturating_sub(l))
            .collect();
        let total: usize = starts.iter().sum();
        if total == 0 {
            return;
        }
        for _ in 0..b {
            let mut u = rng.random_range(0..total);
            let mut ep = 0;
            while u >= starts[ep] {
                u -= starts[ep];
                ep += 1;
            }
            out.windows.push((ep, u));
        }
        let kmax = out
            .windows
            .iter()
            .map(|&(_, s)| burn_in.min(s))
            .max()
            .unwrap_or(0);
        out.batch = b;
        out.seq_len = l;
        out.burn = kmax;
        out.burn_obs.clear();
        out.burn_obs.resize(b * kmax * d, 0.0);
        out.burn_mask.clear();
        out.burn_mask.resize(b * kmax, 0.0);
        out.start_state.clear();
        out.obs.clear();
        out.action.clear();
        out.reward.clear();
        out.terminal.clear();
        for (i, &(ep, s)) in out.windows.iter().enumerate() {
            let e = &self.episodes[ep];
            let k = burn_in.min(s);
            let first = s - k;
            out.start_state
                .extend_from_slice(&e.state[first * STATE_LEN..(first + 1) * STATE_LEN]);
            for j in 0..k {
                let slot = i * kmax + (kmax - k + j);
                let t = first + j;
                out.burn_mask[slot] = 1.0;
                out.burn_obs[slot * d..(slot + 1) * d].copy_from_slice(&e.obs[t * d..(t + 1) * d]);
            }
            out.obs.extend_from_slice(&e.obs[s * d..(s + l + 1) * d]);
            let last = e.len() - 1;
            for t in s..s + l {
                out.action.push(i64::from(e.action[t]));
                out.reward.push(e.r_ext[t] + w * e.novelty[t]);
                out.terminal
                    .push(if e.terminal && t == last { 1.0 } else { 0.0 });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{STREAM_REPLAY, stream};

    /// An episode whose every value encodes (episode id, step) so a sample can be traced.
    fn episode(id: u32, t: usize, terminal: bool) -> EpisodeRecord {
        let mut b = EpisodeBuilder::default();
        let tag = |k: usize| (id * 1000) as f32 + k as f32;
        for k in 0..t {
            b.push(
                &[tag(k), id as f32],
                id * 1000 + k as u32,
                tag(k),
                1.0,
                &vec![tag(k); STATE_LEN],
                &[tag(k + 1), id as f32],
                terminal && k + 1 == t,
            );
        }
        b.finish().expect("non-empty")
    }

    #[test]
    fn builder_keeps_the_final_observation_and_the_end_kind() {
        let e = episode(3, 4, true);
        assert_eq!(e.len(), 4);
        assert_eq!(e.obs.len(), 5 * 2);
        assert_eq!(e.obs[8], 3004.0);
        assert!(e.terminal);
        assert_eq!(e.state.len(), 4 * STATE_LEN);
        let mut empty = EpisodeBuilder::default();
        assert!(empty.finish().is_none());
    }

    #[test]
    fn capacity_counts_transitions_and_evicts_the_oldest() {
        let mut buf = SequenceBuffer::new(25, 2, 4);
        buf.push(episode(1, 10, false));
        buf.push(episode(2, 10, false));
        assert_eq!(buf.transitions(), 20);
        buf.push(episode(3, 10, true));
        // 30 > 25: episode 1 goes
        assert_eq!(buf.transitions(), 20);
        let ids: Vec<u32> = buf.episodes().map(|e| e.action[0] / 1000).collect();
        assert_eq!(ids, vec![2, 3]);
        // an episode longer than the capacity is kept alone
        buf.push(episode(4, 40, false));
        assert_eq!(buf.num_episodes(), 1);
        assert_eq!(buf.transitions(), 40);
    }

    #[test]
    fn ready_only_with_enough_long_episodes() {
        let mut buf = SequenceBuffer::new(1000, 2, 8);
        buf.push(episode(1, 7, true));
        buf.push(episode(2, 8, true));
        assert_eq!(buf.sampleable_episodes(), 1);
        assert!(!buf.is_ready(2));
        buf.push(episode(3, 30, false));
        assert!(buf.is_ready(2));
    }

    #[test]
    fn windows_never_cross_an_episode_boundary() {
        let mut buf = SequenceBuffer::new(10_000, 2, 8);
        let lens = [3usize, 8, 9, 20, 7, 50, 12];
        for (i, &t) in lens.iter().enumerate() {
            buf.push(episode(i as u32 + 1, t, i.is_multiple_of(2)));
        }
        let mut rng = stream(5, STREAM_REPLAY);
        let mut out = SeqBatch::default();
        let (l, d) = (8, 2);
        for _ in 0..200 {
            buf.sample_into(16, 0, 0.5, &mut rng, &mut out);
            assert_eq!(out.windows.len(), 16);
            for (i, &(ep, s)) in out.windows.iter().enumerate() {
                let e = &buf.episodes[ep];
                let id = e.action[0] / 1000;
                assert!(s + l <= e.len(), "window past the episode end");
                // every observation of the window (L + 1 rows) belongs to the same episode
                for r in 0..=l {
                    let row = &out.obs[(i * (l + 1) + r) * d..(i * (l + 1) + r + 1) * d];
                    assert_eq!(row[1], id as f32);
                    assert_eq!(row[0], (id * 1000) as f32 + (s + r) as f32);
                }
                for t in 0..l {
                    let a = out.action[i * l + t] as u32;
                    assert_eq!(a, id * 1000 + (s + t) as u32);
                    assert_eq!(out.reward[i * l + t], (a as f32) + 0.5);
                    let last = s + t + 1 == e.len();
                    let term = out.terminal[i * l + t] == 1.0;
                    assert_eq!(term, last && e.terminal);
                }
                assert_eq!(
                    out.start_state[i * STATE_LEN],
                    (id * 1000 + s as u32) as f32
                );
            }
        }
    }

    #[test]
    fn windows_are_uniform_over_valid_pairs() {
        // episode A: T = 8 → 1 start; episode B: T = 17 → 10 starts. A start-in-A should
        // be drawn about 1/11 of the time (an episode-first draw would give 1/2).
        let mut buf = SequenceBuffer::new(10_000, 2, 8);
        buf.push(episode(1, 8, false));
        buf.push(episode(2, 17, false));
        let mut rng = stream(9, STREAM_REPLAY);
        let mut out = SeqBatch::default();
        let mut in_a = 0;
        let n = 200;
        for _ in 0..n {
            buf.sample_into(11, 0, 0.0, &mut rng, &mut out);
            in_a += out.windows.iter().filter(|w| w.0 == 0).count();
        }
        let frac = in_a as f64 / (n * 11) as f64;
        assert!(frac > 0.05 && frac < 0.14, "fraction {frac}");
    }

    #[test]
    fn burn_in_starts_earlier_and_is_right_aligned() {
        let mut buf = SequenceBuffer::new(10_000, 2, 4);
        buf.push(episode(1, 30, false));
        let mut rng = stream(1, STREAM_REPLAY);
        let mut out = SeqBatch::default();
        for _ in 0..50 {
            buf.sample_into(8, 3, 0.0, &mut rng, &mut out);
            let kmax = out.burn;
            for (i, &(_, s)) in out.windows.iter().enumerate() {
                let k = s.min(3);
                let first = s - k;
                assert_eq!(out.start_state[i * STATE_LEN], 1000.0 + first as f32);
                let real: Vec<f32> = (0..kmax)
                    .filter(|&j| out.burn_mask[i * kmax + j] == 1.0)
                    .map(|j| out.burn_obs[(i * kmax + j) * 2])
                    .collect();
                let want: Vec<f32> = (first..s).map(|t| 1000.0 + t as f32).collect();
                assert_eq!(real, want);
            }
        }
    }

    #[test]
    fn sampling_is_deterministic_per_seed() {
        let mut buf = SequenceBuffer::new(10_000, 2, 4);
        for i in 0..5 {
            buf.push(episode(i + 1, 10 + i as usize * 3, false));
        }
        let draw = |seed| {
            let mut rng = stream(seed, STREAM_REPLAY);
            let mut out = SeqBatch::default();
            buf.sample_into(16, 0, 0.0, &mut rng, &mut out);
            out.windows
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }
}
