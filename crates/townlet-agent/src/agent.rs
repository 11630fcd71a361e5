//! `DqnAgent`: everything the runner drives per step and per episode
//! (docs/training.md#the-training-loop).

use crate::curriculum::{Curriculum, StageTransition};
use crate::device::TrainDevice;
use crate::drqn::RecurrentLearner;
use crate::exploration::{decay_epsilon, masked_entropy, select_action};
use crate::intrinsic::AdaptiveIntrinsic;
use crate::learner::{DqnLearner, Learner, LearnerNet, LearnerSettings, UpdateStats};
use crate::overlap::Overlap;
use crate::qnet::SimpleQNetwork;
use crate::recurrent::{ObsSlices, RecurrentQNetwork, STATE_LEN};
use crate::replay::{Batch, ReplayBuffer};
use crate::rnd::{Rnd, RndNet};
use crate::rng::{RngState, STREAM_ACTION, STREAM_INIT, STREAM_REPLAY, stream};
use crate::sequence::{EpisodeBuilder, SeqBatch, SequenceBuffer};
use burn::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;
use townlet_config::{DeviceKind, GradientMode, NetworkType, Pack};

/// burn's weight generator is process-global and lazy: seeding and building nets happens
/// under this lock so parallel tests cannot interleave draws
/// (docs/training.md#randomness-and-reproducibility).
pub static INIT_LOCK: Mutex<()> = Mutex::new(());

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("{0}")]
    Shape(String),
}

/// The per-step choice for one agent (docs/training.md#what-the-learner-reports).
#[derive(Debug, Clone, PartialEq)]
pub struct ActDecision {
    pub action: u32,
    pub explored: bool,
    pub q_values: Vec<f32>,
    /// Raw RND novelty of the pre-step observation.
    pub novelty: f32,
}

/// What an env step returned, per agent, for the learner.
#[derive(Debug, Clone, Copy)]
pub struct StepFeedback<'a> {
    pub obs: &'a [f32],
    pub next_obs: &'a [f32],
    pub rewards: &'a [f32],
    /// Death or retirement (no bootstrap). Truncation and interruption are not terminal.
    pub terminal: &'a [bool],
    /// Agents that were alive before this step and so produce a transition.
    pub active: &'a [bool],
}

/// Result of closing an episode.
#[derive(Debug, Clone, Default)]
pub struct EpisodeEnd {
    pub transitions: Vec<StageTransition>,
    pub annealed: bool,
}

/// Loss/TD summary of the updates made during one episode
/// (docs/decisions.md#episode-metadata).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LossSummary {
    pub updates: u32,
    pub loss_mean: Option<f32>,
    pub td_error_mean: Option<f32>,
    pub q_mean: Option<f32>,
    pub grad_norm_mean: Option<f32>,
}

/// The feed-forward learner with its uniform replay (docs/training.md#uniform-replay), and
/// the learner thread when updates overlap acting (docs/training.md#overlapped-updates).
pub(crate) struct SimpleModel {
    pub(crate) learner: DqnLearner,
    pub(crate) buffer: ReplayBuffer,
    batch: Batch,
    /// The batch buffers back from the learner thread, filled next time but one.
    spare: Batch,
    overlap: Option<Overlap<SimpleQNetwork>>,
}

/// The recurrent learner with its episode-sequence replay
/// (docs/training.md#episode-sequence-replay), the acting state carried between `act`
/// calls, and the episodes being recorded.
pub(crate) struct RecurrentModel {
    pub(crate) learner: RecurrentLearner,
    pub(crate) buffer: SequenceBuffer,
    batch: SeqBatch,
    burn_in: usize,
    /// `[N, 256]`: the state after the last `act` (zeros after `begin_episode`).
    state: Vec<f32>,
    /// `[N, 256]`: the state the last `act` started from, stored with the step.
    pre_state: Vec<f32>,
    building: Vec<EpisodeBuilder>,
    pub(crate) slices: ObsSlices,
}

/// Which Q-network the agent trains; chosen by `population.network_type`.
// Built once per agent and never moved in a hot path, so the size difference is harmless.
#[allow(clippy::large_enum_variant)]
pub(crate) enum QModel {
    Simple(SimpleModel),
    Recurrent(Box<RecurrentModel>),
}

impl QModel {
    pub(crate) fn network_name(&self) -> &'static str {
        match self {
            QModel::Simple(_) => "simple",
            QModel::Recurrent(_) => "recurrent",
        }
    }
}

pub struct DqnAgent {
    pub(crate) device: TrainDevice,
    pub(crate) model: QModel,
    pub(crate) rnd: Rnd,
    pub(crate) epsilon: f64,
    pub(crate) intrinsic: AdaptiveIntrinsic,
    pub(crate) curricula: Vec<Curriculum>,
    pub(crate) action_rng: ChaCha8Rng,
    pub(crate) replay_rng: ChaCha8Rng,
    pub(crate) total_steps: u64,
    pub(crate) updates: u64,
    pub(crate) obs_dim: usize,
    pub(crate) action_dim: usize,
    pub(crate) num_agents: usize,
    pub(crate) batch_size: usize,
    pub(crate) train_frequency: u64,
    pub(crate) target_update_frequency: u64,
    pub(crate) epsilon_decay: f64,
    pub(crate) epsilon_min: f64,
    // per-episode accumulators
    entropy_sum: Vec<f64>,
    entropy_n: Vec<u32>,
    ep_loss: (u32, f64, f64, f64, f64),
    pub(crate) last_update: Option<UpdateStats>,
    pub(crate) adam_epsilon: f64,
    phase: AgentPhaseTimes,
    /// Live overrides set by a teacher (`overrides.rs`).
    pub(crate) overrides: crate::overrides::TrainingOverrides,
}

/// Where the agent's wall-clock time went since it was built (nanoseconds), for the
/// training benchmark's phase shares. Reading the clock costs a few tens of ns per call,
/// noise next to a step's ~150 µs, so it is always on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentPhaseTimes {
    /// Q-network forward and action selection (`act`, without RND novelty).
    pub act_ns: u64,
    /// RND: novelty forward in `act` plus predictor training in `observe`.
    pub rnd_ns: u64,
    /// Storing transitions (replay buffer / episode records).
    pub store_ns: u64,
    /// DQN updates on the agent's thread: batch sampling and the updates themselves, or,
    /// when updates overlap acting, the waits for the learner thread.
    pub learn_ns: u64,
    /// The updates themselves (forward/backward, clipping, Adam, target sync), on
    /// whichever thread they ran.
    pub update_ns: u64,
    /// Number of DQN updates in `update_ns`.
    pub updates: u64,
}

fn elapsed_ns(t: std::time::Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl DqnAgent {
    /// Build a fresh agent for `pack` (obs/action dims from the env built from it).
    pub fn new(
        pack: &Pack,
        obs_dim: usize,
        action_dim: usize,
        device: DeviceKind,
        seed: u64,
    ) -> Result<Self, AgentError> {
        let device = TrainDevice::new(device);
        let ex = &pack.exploration;
        let tr = &pack.training;
        let recurrent = pack.population.network_type == NetworkType::Recurrent;
        let slices = if recurrent {
            let s = ObsSlices::from_pack(pack).ok_or_else(|| {
                AgentError::Shape(
                    "the recurrent network needs environment.partial_observability: true"
                        .to_string(),
                )
            })?;
            if s.dim != obs_dim {
                return Err(AgentError::Shape(format!(
                    "observation has {obs_dim} values but the pack's layout gives {} \
                     (window {}², position 2, meters {}, affordance {}, temporal 4)",
                    s.dim,
                    s.side,
                    s.meters.len(),
                    s.affordance.len()
                )));
            }
            Some(s)
        } else {
            None
        };
        #[allow(clippy::large_enum_variant)]
        enum Online {
            Simple(SimpleQNetwork),
            Recurrent(RecurrentQNetwork, ObsSlices),
        }
        let (online, fixed, predictor) = {
            let _guard = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            let mut init = stream(seed, STREAM_INIT);
            device.base.seed(init.random::<u64>());
            // Online Q-net, RND fixed, RND predictor, each forced right away
            // (docs/training.md#randomness-and-reproducibility).
            let online = match slices {
                Some(s) => {
                    let net = RecurrentQNetwork::new(&s, action_dim, &device.ad);
                    let _ = net.clone().into_record();
                    Online::Recurrent(net, s)
                }
                None => {
                    let net = SimpleQNetwork::new(obs_dim, action_dim, &device.ad);
                    let _ = net.clone().into_record();
                    Online::Simple(net)
                }
            };
            let fixed = RndNet::new(obs_dim, ex.embed_dim, &device.base);
            let _ = fixed.clone().into_record();
            let predictor = RndNet::new(obs_dim, ex.embed_dim, &device.ad);
            let _ = predictor.clone().into_record();
            (online, fixed, predictor)
        };
        let settings = LearnerSettings {
            gamma: pack.population.gamma as f32,
            lr: pack.population.learning_rate,
            max_grad_norm: tr.max_grad_norm as f32,
            loss: tr.loss,
            huber_delta: tr.huber_delta as f32,
            double_dqn: tr.double_dqn,
            gradients: tr.gradients,
        };
        let n = pack.population.num_agents.max(1);
        let adam = tr.adam_epsilon;
        let model = match online {
            Online::Recurrent(net, slices) => QModel::Recurrent(Box::new(RecurrentModel {
                learner: new_learner(net, &settings, adam, obs_dim, action_dim, &device),
                buffer: SequenceBuffer::new(
                    pack.population.replay_buffer_capacity,
                    obs_dim,
                    tr.sequence_length,
                ),
                batch: SeqBatch::default(),
                burn_in: tr.burn_in,
                state: vec![0.0; n * STATE_LEN],
                pre_state: vec![0.0; n * STATE_LEN],
                building: vec![EpisodeBuilder::default(); n],
                slices,
            })),
            Online::Simple(net) => {
                let learner = new_learner(net, &settings, adam, obs_dim, action_dim, &device);
                let overlap = (tr.overlap_updates && learner.is_manual())
                    .then(Overlap::start)
                    .flatten();
                QModel::Simple(SimpleModel {
                    learner,
                    buffer: ReplayBuffer::new(pack.population.replay_buffer_capacity, obs_dim),
                    batch: Batch::default(),
                    spare: Batch::default(),
                    overlap,
                })
            }
        };
        let rnd = Rnd::new(
            fixed,
            predictor,
            obs_dim,
            ex.rnd_batch_size,
            ex.rnd_learning_rate,
            tr.adam_epsilon,
            tr.gradients == GradientMode::Manual,
            device.base.clone(),
            device.ad.clone(),
        );
        Ok(Self {
            model,
            rnd,
            epsilon: tr.epsilon_start,
            intrinsic: AdaptiveIntrinsic::new(ex),
            curricula: (0..n)
                .map(|a| Curriculum::new(&pack.curriculum, a as u32))
                .collect(),
            action_rng: stream(seed, STREAM_ACTION),
            replay_rng: stream(seed, STREAM_REPLAY),
            total_steps: 0,
            updates: 0,
            obs_dim,
            action_dim,
            num_agents: n,
            batch_size: tr.batch_size.max(1),
            train_frequency: u64::from(tr.train_frequency.max(1)),
            target_update_frequency: u64::from(tr.target_update_frequency.max(1)),
            epsilon_decay: tr.epsilon_decay,
            epsilon_min: tr.epsilon_min,
            entropy_sum: vec![0.0; n],
            entropy_n: vec![0; n],
            ep_loss: (0, 0.0, 0.0, 0.0, 0.0),
            last_update: None,
            adam_epsilon: tr.adam_epsilon,
            phase: AgentPhaseTimes::default(),
            overrides: Default::default(),
            device,
        })
    }

    /// Start of an episode (after `env.reset()`): resets per-episode state. The recurrent
    /// network resets its carried hidden state here and only here
    /// (docs/training.md#per-step).
    pub fn begin_episode(&mut self) {
        self.entropy_sum.iter_mut().for_each(|v| *v = 0.0);
        self.entropy_n.iter_mut().for_each(|v| *v = 0);
        if let QModel::Recurrent(m) = &mut self.model {
            m.state.iter_mut().for_each(|v| *v = 0.0);
            m.pre_state.iter_mut().for_each(|v| *v = 0.0);
            // A step recorded without a matching end_episode (e.g. inference) is dropped.
            m.building
                .iter_mut()
                .for_each(|b| *b = EpisodeBuilder::default());
        }
    }

    /// Stages 1–4 of the per-step loop: Q forward on the policy snapshot, masked ε-greedy
    /// with the action RNG, and the novelty of the pre-step observation.
    /// `obs` is `[N, obs_dim]` flat, `masks` `[N, action_dim]` flat.
    pub fn act(&mut self, obs: &[f32], masks: &[bool]) -> Vec<ActDecision> {
        self.act_with(obs, masks, self.epsilon(), true)
    }

    /// Like [`act`](Self::act) with an explicit ε (0 = greedy evaluation). `track` adds the
    /// step's policy entropy to the episode statistics.
    pub fn act_with(
        &mut self,
        obs: &[f32],
        masks: &[bool],
        epsilon: f64,
        track: bool,
    ) -> Vec<ActDecision> {
        let a = self.action_dim;
        let t_act = std::time::Instant::now();
        let q = match &mut self.model {
            QModel::Simple(m) => m.learner.q_values(obs),
            QModel::Recurrent(m) => {
                let rows = obs.len() / self.obs_dim;
                // A caller with a different agent count gets a fresh zero state.
                if m.state.len() != rows * STATE_LEN {
                    m.state = vec![0.0; rows * STATE_LEN];
                }
                let (q, next) = m.learner.act_step(obs, &m.state);
                m.pre_state = std::mem::replace(&mut m.state, next);
                q
            }
        };
        let t_rnd = std::time::Instant::now();
        let novelty = self.rnd.novelty(obs);
        let rnd_ns = elapsed_ns(t_rnd);
        self.phase.rnd_ns += rnd_ns;
        let n = obs.len() / self.obs_dim;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let qi = &q[i * a..(i + 1) * a];
            let mi = &masks[i * a..(i + 1) * a];
            let (action, explored) = select_action(qi, mi, epsilon, &mut self.action_rng);
            if track && i < self.entropy_sum.len() {
                self.entropy_sum[i] += f64::from(masked_entropy(qi, mi));
                self.entropy_n[i] += 1;
            }
            out.push(ActDecision {
                action,
                explored,
                q_values: qi.to_vec(),
                novelty: novelty.get(i).copied().unwrap_or(0.0),
            });
        }
        self.phase.act_ns += elapsed_ns(t_act).saturating_sub(rnd_ns);
        out
    }

    /// Zero the recurrent acting state (a new evaluation episode); nothing else changes.
    pub fn reset_hidden(&mut self) {
        if let QModel::Recurrent(m) = &mut self.model {
            m.state.iter_mut().for_each(|v| *v = 0.0);
            m.pre_state.iter_mut().for_each(|v| *v = 0.0);
        }
    }

    /// Run `f` (greedy evaluation episodes,
    /// docs/decisions.md#greedy-evaluation-in-learn-check) without disturbing training: the
    /// action RNG and the recurrent acting state are put back afterwards, so a run with
    /// evaluations trains exactly like one without.
    pub fn isolated<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let rng = self.action_rng.clone();
        let saved = match &self.model {
            QModel::Recurrent(m) => Some((m.state.clone(), m.pre_state.clone())),
            QModel::Simple(_) => None,
        };
        let out = f(self);
        self.action_rng = rng;
        if let (Some((state, pre)), QModel::Recurrent(m)) = (saved, &mut self.model) {
            m.state = state;
            m.pre_state = pre;
        }
        out
    }

    /// Cumulative time per phase since the agent was built (see [`AgentPhaseTimes`]).
    pub fn phase_times(&self) -> AgentPhaseTimes {
        self.phase
    }

    /// Stages 6–9: store transitions (feed-forward: into the replay buffer; recurrent:
    /// into the running episode record, with the acting state before the step), feed RND,
    /// count the step, and train when due.
    pub fn observe(
        &mut self,
        fb: StepFeedback<'_>,
        decisions: &[ActDecision],
    ) -> Option<UpdateStats> {
        let d = self.obs_dim;
        for (i, dec) in decisions.iter().enumerate() {
            if !fb.active.get(i).copied().unwrap_or(false) {
                continue;
            }
            let t_store = std::time::Instant::now();
            let o = &fb.obs[i * d..(i + 1) * d];
            let next = &fb.next_obs[i * d..(i + 1) * d];
            match &mut self.model {
                QModel::Simple(m) => {
                    m.buffer.push(
                        o,
                        dec.action,
                        fb.rewards[i],
                        dec.novelty,
                        next,
                        fb.terminal[i],
                    );
                }
                QModel::Recurrent(m) => {
                    let st = m
                        .pre_state
                        .get(i * STATE_LEN..(i + 1) * STATE_LEN)
                        .unwrap_or(&[0.0; STATE_LEN]);
                    if m.building.len() <= i {
                        m.building.resize_with(i + 1, EpisodeBuilder::default);
                    }
                    m.building[i].push(
                        o,
                        dec.action,
                        fb.rewards[i],
                        dec.novelty,
                        st,
                        next,
                        fb.terminal[i],
                    );
                }
            }
            self.phase.store_ns += elapsed_ns(t_store);
            let t_rnd = std::time::Instant::now();
            self.rnd.push_and_train(o);
            self.phase.rnd_ns += elapsed_ns(t_rnd);
        }
        self.total_steps += 1;
        if !self.total_steps.is_multiple_of(self.train_frequency) {
            return None;
        }
        let t_learn = std::time::Instant::now();
        let w = self.intrinsic_weight() as f32;
        let ready = match &self.model {
            QModel::Simple(m) => m.buffer.len() >= self.batch_size,
            QModel::Recurrent(m) => m.buffer.is_ready(self.batch_size),
        };
        if !ready {
            return None;
        }
        if let QModel::Simple(m) = &self.model
            && m.overlap.is_some()
        {
            let finished = self.overlapped_update(w);
            self.phase.learn_ns += elapsed_ns(t_learn);
            return finished;
        }
        // The next update syncs the target when it is the `sync_every`-th.
        let sync = (self.updates + 1).is_multiple_of(self.target_update_frequency);
        let stats = match &mut self.model {
            QModel::Simple(m) => {
                m.buffer
                    .sample_into(self.batch_size, w, &mut self.replay_rng, &mut m.batch);
                timed_update(&mut m.learner, &m.batch, sync)
            }
            QModel::Recurrent(m) => {
                m.buffer.sample_into(
                    self.batch_size,
                    m.burn_in,
                    w,
                    &mut self.replay_rng,
                    &mut m.batch,
                );
                timed_update(&mut m.learner, &m.batch, sync)
            }
        };
        self.phase.learn_ns += elapsed_ns(t_learn);
        Some(self.account(stats.0, stats.1))
    }

    /// An update due with overlap on (docs/training.md#overlapped-updates): sample the
    /// batch and compute its bootstrap values while the update in flight runs (unless that
    /// one syncs the target, or double DQN needs the online net), take that update back,
    /// hand the learner thread the next one at once, then adopt the weights that came back.
    /// Returns the statistics of the update taken back.
    fn overlapped_update(&mut self, w: f32) -> Option<UpdateStats> {
        let every = self.target_update_frequency;
        let in_flight = self.update_in_flight();
        // Updates are counted when taken back: the one in flight is number `updates + 1`.
        let in_flight_syncs = in_flight && (self.updates + 1).is_multiple_of(every);
        let next_number = self.updates + 1 + u64::from(in_flight);
        let QModel::Simple(m) = &mut self.model else {
            return None;
        };
        m.buffer
            .sample_into(self.batch_size, w, &mut self.replay_rng, &mut m.batch);
        let double = m.learner.settings.double_dqn;
        if !double && !in_flight_syncs {
            m.batch.bootstrap = Some(crate::manual::target_bootstrap(&m.learner, &m.batch));
        }
        let ov = m.overlap.as_mut()?;
        // The next update starts from the learner that just came back (the newest weights),
        // or from a copy of the agent's.
        let (mut next, back) = match ov.finish() {
            Some(done) => {
                m.spare = done.batch;
                // Adam's moments stay with the learner thread until the next finish_update.
                let state = done.learner.state(false);
                (done.learner, Some((state, done.stats, done.update_ns)))
            }
            None => (m.learner.detached()?, None),
        };
        if !double && m.batch.bootstrap.is_none() {
            m.batch.bootstrap = Some(crate::manual::target_bootstrap(&next, &m.batch));
        }
        next.settings = m.learner.settings.clone();
        let batch = std::mem::replace(&mut m.batch, std::mem::take(&mut m.spare));
        ov.begin(next, batch, next_number.is_multiple_of(every));
        let (state, stats, ns) = back?;
        m.learner.adopt(state);
        Some(self.account(stats, ns))
    }

    /// Take back the update in flight on the learner thread, if any
    /// (docs/training.md#overlapped-updates): the learner adopts its weights and the update
    /// is counted. Returns its statistics. Called before the next update is handed over, at
    /// every episode end and before a checkpoint, so those never see an update in flight.
    pub fn finish_update(&mut self) -> Option<UpdateStats> {
        let QModel::Simple(m) = &mut self.model else {
            return None;
        };
        let done = m.overlap.as_mut()?.finish()?;
        m.learner.adopt(done.learner.state(true));
        m.spare = done.batch;
        Some(self.account(done.stats, done.update_ns))
    }

    /// Whether an update is running on the learner thread now.
    pub fn update_in_flight(&self) -> bool {
        match &self.model {
            QModel::Simple(m) => m.overlap.as_ref().is_some_and(|o| o.in_flight()),
            QModel::Recurrent(_) => false,
        }
    }

    /// Count one finished update (the target sync came with it) in the totals, the
    /// episode's loss summary and the phase times.
    fn account(&mut self, stats: UpdateStats, update_ns: u64) -> UpdateStats {
        self.updates += 1;
        self.phase.updates += 1;
        self.phase.update_ns += update_ns;
        self.ep_loss.0 += 1;
        self.ep_loss.1 += f64::from(stats.loss);
        self.ep_loss.2 += f64::from(stats.td_abs_mean);
        self.ep_loss.3 += f64::from(stats.q_mean);
        self.ep_loss.4 += f64::from(stats.grad_norm);
        self.last_update = Some(stats);
        stats
    }

    /// End-of-episode updates (docs/training.md#per-episode): the recurrent net stores the
    /// finished episode records (also for an interrupted episode, which ends truncated),
    /// then annealing, curriculum, ε decay. Those three are skipped for an interrupted
    /// episode (docs/decisions.md#the-interrupted-episode).
    pub fn end_episode(&mut self, episode: u64, lengths: &[u32], interrupted: bool) -> EpisodeEnd {
        self.finish_update();
        if let QModel::Recurrent(m) = &mut self.model {
            for b in &mut m.building {
                if let Some(rec) = b.finish() {
                    m.buffer.push(rec);
                }
            }
        }
        let mut end = EpisodeEnd::default();
        let entropies: Vec<f64> = (0..self.num_agents)
            .map(|i| {
                if self.entropy_n[i] == 0 {
                    0.0
                } else {
                    self.entropy_sum[i] / f64::from(self.entropy_n[i])
                }
            })
            .collect();
        self.entropy_sum.iter_mut().for_each(|v| *v = 0.0);
        self.entropy_n.iter_mut().for_each(|v| *v = 0);
        if interrupted {
            return end;
        }
        for &t in lengths {
            end.annealed |= self.intrinsic.on_episode(t);
        }
        // A stage locked by a teacher: the curriculum rule waits.
        let locked = self.overrides.stage.is_some();
        for (i, c) in self.curricula.iter_mut().enumerate().filter(|_| !locked) {
            let t = lengths.get(i).copied().unwrap_or(0);
            if let Some(tr) = c.on_episode(episode, t, entropies[i]) {
                end.transitions.push(tr);
            }
        }
        self.epsilon = decay_epsilon(self.epsilon, self.epsilon_decay, self.epsilon_min);
        end
    }

    /// Mean entropy of the current episode so far for agent `i` (for telemetry).
    pub fn episode_entropy(&self, i: usize) -> f32 {
        if self.entropy_n.get(i).copied().unwrap_or(0) == 0 {
            0.0
        } else {
            (self.entropy_sum[i] / f64::from(self.entropy_n[i])) as f32
        }
    }

    /// Take (and reset) the loss summary of the updates since the last call.
    pub fn take_loss_summary(&mut self) -> LossSummary {
        let (n, l, td, q, g) = std::mem::take(&mut self.ep_loss);
        if n == 0 {
            return LossSummary::default();
        }
        let k = f64::from(n);
        LossSummary {
            updates: n,
            loss_mean: Some((l / k) as f32),
            td_error_mean: Some((td / k) as f32),
            q_mean: Some((q / k) as f32),
            grad_norm_mean: Some((g / k) as f32),
        }
    }

    /// ε in force: a teacher's fixed value, else the schedule's.
    pub fn epsilon(&self) -> f64 {
        self.overrides.epsilon.unwrap_or(self.epsilon)
    }
    /// Intrinsic weight in force: a teacher's fixed value, else the annealed one.
    pub fn intrinsic_weight(&self) -> f64 {
        self.overrides
            .intrinsic_weight
            .unwrap_or(self.intrinsic.weight)
    }
    /// Stage of agent 0, which decides the env multiplier (docs/training.md#several-agents).
    pub fn stage(&self) -> u8 {
        self.curricula[0].stage
    }
    pub fn multiplier(&self) -> f32 {
        self.effective_multiplier()
    }
    pub fn curricula(&self) -> &[Curriculum] {
        &self.curricula
    }
    pub fn total_steps(&self) -> u64 {
        self.total_steps
    }
    pub fn updates(&self) -> u64 {
        self.updates
    }
    pub fn rnd_updates(&self) -> u64 {
        self.rnd.updates
    }
    pub fn last_update(&self) -> Option<UpdateStats> {
        self.last_update
    }
    pub fn last_rnd_loss(&self) -> Option<f32> {
        self.rnd.last_loss
    }
    /// The uniform replay buffer (feed-forward agents only).
    pub fn buffer(&self) -> Option<&ReplayBuffer> {
        match &self.model {
            QModel::Simple(m) => Some(&m.buffer),
            QModel::Recurrent(_) => None,
        }
    }
    /// The episode-sequence buffer (recurrent agents only).
    pub fn sequence_buffer(&self) -> Option<&SequenceBuffer> {
        match &self.model {
            QModel::Simple(_) => None,
            QModel::Recurrent(m) => Some(&m.buffer),
        }
    }
    /// `"simple"` or `"recurrent"` (as in training.yaml and the checkpoint header).
    pub fn network_type(&self) -> &'static str {
        self.model.network_name()
    }
    /// The observation cut points the recurrent net uses (recurrent agents only).
    pub fn observation_slices(&self) -> Option<&ObsSlices> {
        match &self.model {
            QModel::Simple(_) => None,
            QModel::Recurrent(m) => Some(&m.slices),
        }
    }
    /// The carried acting state `[N, 256]` (cell then hidden per agent; recurrent only).
    pub fn recurrent_state(&self) -> Option<&[f32]> {
        match &self.model {
            QModel::Simple(_) => None,
            QModel::Recurrent(m) => Some(&m.state),
        }
    }
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }
    pub fn action_dim(&self) -> usize {
        self.action_dim
    }
    pub fn device_name(&self) -> &'static str {
        self.device.name()
    }
    pub fn action_rng_state(&self) -> RngState {
        RngState::capture(&self.action_rng)
    }

    /// A stable hash of the online weights' values (for determinism tests and logs).
    /// Only values count: burnpack bytes also hold parameter ids, which differ between
    /// equal nets.
    pub fn weights_hash(&self) -> u64 {
        let mut h = WeightHasher(0xcbf2_9ce4_8422_2325);
        match &self.model {
            QModel::Simple(m) => m.learner.online.visit(&mut h),
            QModel::Recurrent(m) => m.learner.online.visit(&mut h),
        }
        h.0
    }
}

/// A learner for `net` with the agent's settings, dims and devices.
fn new_learner<N: LearnerNet>(
    net: N,
    settings: &LearnerSettings,
    adam_epsilon: f64,
    obs_dim: usize,
    action_dim: usize,
    device: &TrainDevice,
) -> Learner<N> {
    let (base, ad) = (device.base.clone(), device.ad.clone());
    Learner::new(
        net,
        settings.clone(),
        adam_epsilon,
        obs_dim,
        action_dim,
        base,
        ad,
    )
}

/// One DQN update on this thread, then the target sync when `sync`; with its duration.
fn timed_update<N: LearnerNet>(
    learner: &mut Learner<N>,
    batch: &N::Batch,
    sync: bool,
) -> (UpdateStats, u64) {
    let t = std::time::Instant::now();
    let stats = learner.update(batch);
    if sync {
        learner.sync_target();
    }
    (stats, elapsed_ns(t))
}

struct WeightHasher(u64);

impl burn::module::ModuleVisitor for WeightHasher {
    fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
        let values = p.val().into_data().try_to_vec::<f32>().unwrap_or_default();
        for v in values {
            for b in v.to_le_bytes() {
                self.0 ^= u64::from(b);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
}

impl DqnAgent {
    pub(crate) fn rnd_embed_dim(&self) -> usize {
        self.rnd.embed_dim()
    }
    pub(crate) fn adam_epsilon(&self) -> f64 {
        self.adam_epsilon
    }
}
