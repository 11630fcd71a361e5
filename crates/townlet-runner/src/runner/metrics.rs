//! What the runner reports: one [`EpisodeReport`] per episode, a [`RunSummary`] at the
//! end, and cumulative [`PhaseTimes`] for the benchmarks.

use super::DemoRunner;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use townlet_recording::EndReason;

/// One finished episode, for progress bars, summaries and learn-check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpisodeReport {
    pub episode: u64,
    pub length: u32,
    pub end_reason: EndReason,
    pub extrinsic_reward: f32,
    pub intrinsic_reward: f32,
    pub stage: u8,
    pub multiplier: f32,
    pub epsilon: f64,
    pub intrinsic_weight: f64,
    pub total_steps: u64,
    pub loss_mean: Option<f32>,
    pub stage_changed_to: Option<u8>,
    /// Thread CPU time spent on this episode's steps (ns;
    /// docs/decisions.md#measuring-training-slowdown).
    pub cpu_ns: u64,
    pub wall_ns: u64,
    /// Lengths of the greedy evaluation episodes played after this one, if due.
    #[serde(default)]
    pub evaluation: Option<Vec<u32>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub episodes_run: u64,
    pub next_episode: u64,
    pub interrupted: bool,
    pub last_checkpoint: Option<PathBuf>,
}

/// Where the training thread's wall-clock time went in this process (nanoseconds): the
/// runner's own phases plus the agent's ([`townlet_agent::AgentPhaseTimes`]). For the benchmark's phase
/// shares; always on (a clock read is ~25 ns against a ~150 µs step).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PhaseTimes {
    /// Q forward + action selection.
    pub act_ns: u64,
    /// `Env::step` and reading observations/masks.
    pub env_ns: u64,
    /// `record_step` and `finish_episode` (the recorder's share on this thread; waits for a
    /// full writer queue are included and counted separately by the recorder).
    pub record_ns: u64,
    /// Storing transitions in the replay buffer.
    pub store_ns: u64,
    /// DQN updates on this thread: sampling and the updates, or, when updates overlap
    /// acting (docs/training.md#overlapped-updates), the waits for the learner thread.
    pub learn_ns: u64,
    /// The updates themselves, on whichever thread they ran.
    pub update_ns: u64,
    /// RND novelty + predictor training.
    pub rnd_ns: u64,
    /// End-of-episode bookkeeping: curriculum, annealing, checkpoints.
    pub episode_end_ns: u64,
    /// Everything in `run_episode` (the phases above plus loop overhead).
    pub total_ns: u64,
    /// The training thread's CPU time over the same span (thread CPU clock,
    /// docs/decisions.md#measuring-training-slowdown).
    pub cpu_ns: u64,
    pub env_steps: u64,
    pub updates: u64,
}

impl DemoRunner {
    /// Cumulative time per phase in this process (see [`PhaseTimes`]).
    pub fn phase_times(&self) -> PhaseTimes {
        let a = self.agent.phase_times();
        PhaseTimes {
            act_ns: a.act_ns,
            store_ns: a.store_ns,
            learn_ns: a.learn_ns,
            update_ns: a.update_ns,
            rnd_ns: a.rnd_ns,
            updates: a.updates,
            ..self.phase
        }
    }
}

pub(super) fn elapsed_ns(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
