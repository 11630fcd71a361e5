//! The DQN learner (docs/training.md#the-dqn-update), one type for both networks:
//! [`Learner<N>`] holds the online net on the autodiff device, the target and the acting
//! (policy) snapshots on the plain device, Adam with `adam_epsilon`, and does the update
//! the two networks share — the TD target, MSE or Huber, global-norm clipping
//! (docs/decisions.md#gradient-clipping-by-global-norm), one Adam step, target sync.
//!
//! What differs between the feed-forward net ([`DqnLearner`]) and the recurrent one
//! ([`RecurrentLearner`](crate::drqn::RecurrentLearner)) is how a batch becomes the values
//! of the actions taken and the bootstrap values; that is [`LearnerNet::td_terms`].

use crate::flat_adam::FlatAdam;
use crate::qnet::SimpleQNetwork;
use crate::replay::Batch;
use burn::module::{ModuleVisitor, Param};
use burn::nn::loss::{HuberLossConfig, MseLoss, Reduction};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use townlet_config::{GradientMode, LossKind};

/// Telemetry of one update (docs/training.md#the-dqn-update, last step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UpdateStats {
    pub loss: f32,
    pub td_abs_mean: f32,
    pub q_mean: f32,
    pub grad_norm: f32,
}

#[derive(Debug, Clone)]
pub struct LearnerSettings {
    pub gamma: f32,
    pub lr: f64,
    pub max_grad_norm: f32,
    pub loss: LossKind,
    pub huber_delta: f32,
    pub double_dqn: bool,
    /// Hand-written gradients where the net has them ([`LearnerNet::MANUAL`]),
    /// otherwise autodiff.
    pub gradients: GradientMode,
}

/// A Q-network a [`Learner`] can train: what its replay batches look like and how one
/// batch becomes the TD terms of an update.
pub trait LearnerNet: Module + Sized {
    /// One sampled replay batch (transitions or sequence windows).
    type Batch;

    /// A freshly built net of the same shape as `self` on `device`, for loading weights
    /// into (its random initial values are never used).
    fn blank(&self, obs_dim: usize, action_dim: usize, device: &Device) -> Self;

    /// The values the online net gives the actions taken in `batch` (autodiff) and the
    /// bootstrap values from the target side (plain), with the batch's rewards and
    /// terminal flags.
    fn td_terms<'b>(learner: &Learner<Self>, batch: &'b Self::Batch) -> TdTerms<'b>;

    /// Whether this net has hand-written gradients
    /// (docs/training.md#hand-written-gradients); `false`: it trains with autodiff only.
    const MANUAL: bool = false;

    /// One update with hand-written gradients; only called when [`Self::MANUAL`] is true
    /// and the settings ask for it.
    fn manual_update(_learner: &mut Learner<Self>, _batch: &Self::Batch) -> Option<UpdateStats> {
        None
    }
}

/// Online + target Q-networks, the acting snapshot and the optimizer.
pub struct Learner<N> {
    pub(crate) online: N,
    pub(crate) target: N,
    /// `online.valid()`, refreshed after every update; acting (and burn-in) use it.
    pub(crate) policy: N,
    pub(crate) optim: ModuleOptimizer,
    /// The fused Adam of the hand-written path; `Some` exactly when that path is on, and
    /// then `online` lives on the plain device (no autodiff graph is ever built).
    pub(crate) flat: Option<FlatAdam>,
    pub(crate) settings: LearnerSettings,
    pub(crate) obs_dim: usize,
    pub(crate) action_dim: usize,
    pub(crate) base: Device,
    pub(crate) ad: Device,
}

/// What [`Learner::adopt`] takes from a learner that made an update elsewhere.
pub(crate) struct LearnerState<N> {
    online: N,
    target: N,
    policy: N,
    flat: Option<FlatAdam>,
}

/// The feed-forward learner: [`SimpleQNetwork`] on uniformly sampled transitions.
pub type DqnLearner = Learner<SimpleQNetwork>;

pub fn new_adam(adam_epsilon: f64) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(adam_epsilon as f32)
        .init()
}

impl<N: LearnerNet> Learner<N> {
    pub fn new(
        online: N,
        settings: LearnerSettings,
        adam_epsilon: f64,
        obs_dim: usize,
        action_dim: usize,
        base: Device,
        ad: Device,
    ) -> Self {
        let manual = settings.gradients == GradientMode::Manual && N::MANUAL;
        let online = if manual { online.valid() } else { online };
        Self {
            target: online.valid(),
            policy: online.valid(),
            online,
            optim: new_adam(adam_epsilon),
            flat: manual.then(|| FlatAdam::new(adam_epsilon)),
            settings,
            obs_dim,
            action_dim,
            base,
            ad,
        }
    }

    /// A copy of the hand-written path's state for an update on another thread
    /// (docs/training.md#overlapped-updates); burn tensors share their storage, so nothing
    /// is copied. `None` on the autodiff path, whose optimizer state cannot be copied.
    pub(crate) fn detached(&self) -> Option<Self> {
        let flat = self.flat.clone()?;
        Some(Self {
            online: self.online.clone(),
            target: self.target.clone(),
            policy: self.policy.clone(),
            optim: new_adam(flat.epsilon()),
            flat: Some(flat),
            settings: self.settings.clone(),
            obs_dim: self.obs_dim,
            action_dim: self.action_dim,
            base: self.base.clone(),
            ad: self.ad.clone(),
        })
    }

    /// The weights and target (shared, not copied), and with `adam` the Adam state, for
    /// [`adopt`](Self::adopt). Leaving Adam's moments out keeps them owned by one learner
    /// only, so its next step updates them in place.
    pub(crate) fn state(&self, adam: bool) -> LearnerState<N> {
        LearnerState {
            online: self.online.clone(),
            target: self.target.clone(),
            policy: self.policy.clone(),
            flat: if adam { self.flat.clone() } else { None },
        }
    }

    /// Take the weights, target and (when given) Adam state of a
    /// [`detached`](Self::detached) copy that has made an update; the settings stay this
    /// learner's (a teacher may have changed the learning rate meanwhile).
    pub(crate) fn adopt(&mut self, stepped: LearnerState<N>) {
        self.online = stepped.online;
        self.target = stepped.target;
        self.policy = stepped.policy;
        if stepped.flat.is_some() {
            self.flat = stepped.flat;
        }
    }

    pub fn sync_target(&mut self) {
        self.target = self.online.valid();
    }

    /// One DQN update on a sampled batch; the acting snapshot follows the new weights.
    pub fn update(&mut self, batch: &N::Batch) -> UpdateStats {
        if self.flat.is_some()
            && let Some(stats) = N::manual_update(self, batch)
        {
            return stats;
        }
        let terms = N::td_terms(self, batch);
        let (online, stats) = td_update(
            self.online.clone(),
            &mut self.optim,
            &self.settings,
            terms,
            &self.base,
        );
        self.online = online;
        self.policy = self.online.valid();
        stats
    }

    /// The online net (plain with hand-written gradients, autodiff otherwise).
    pub fn online(&self) -> &N {
        &self.online
    }

    pub fn settings(&self) -> &LearnerSettings {
        &self.settings
    }

    /// Replace the target net (tests give it weights that differ from the online net's).
    pub fn set_target(&mut self, target: N) {
        self.target = target;
    }

    /// Whether updates use hand-written gradients.
    pub fn is_manual(&self) -> bool {
        self.flat.is_some()
    }

    /// The device the online net trains on: plain for hand-written gradients, autodiff
    /// otherwise.
    pub(crate) fn online_device(&self) -> &Device {
        if self.flat.is_some() {
            &self.base
        } else {
            &self.ad
        }
    }

    /// Put `online` (and copies of it as target and policy) in place, as inference does.
    pub(crate) fn set_online(&mut self, online: N) {
        self.online = online;
        self.policy = self.online.valid();
        self.target = self.online.valid();
    }

    /// The Q-values of `rows` observations (a plain tensor ending in the action axis) as one
    /// flat row-major `Vec` (zeros if unreadable).
    pub(crate) fn read_q<const D: usize>(&self, q: Tensor<D>, rows: usize) -> Vec<f32> {
        q.into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|_| vec![0.0; rows * self.action_dim])
    }
}

impl Learner<SimpleQNetwork> {
    /// Q-values of each row of `obs` from the policy snapshot (never the autodiff net).
    pub fn q_values(&self, obs: &[f32]) -> Vec<f32> {
        let n = obs.len() / self.obs_dim;
        let x =
            Tensor::<2>::from_data(TensorData::new(obs.to_vec(), [n, self.obs_dim]), &self.base);
        self.read_q(self.policy.forward(x), n)
    }
}

impl LearnerNet for SimpleQNetwork {
    type Batch = Batch;

    fn blank(&self, obs_dim: usize, action_dim: usize, device: &Device) -> Self {
        SimpleQNetwork::new(obs_dim, action_dim, device)
    }

    fn td_terms<'b>(l: &Learner<Self>, batch: &'b Batch) -> TdTerms<'b> {
        let b = batch.action.len();
        let d = l.obs_dim;
        let obs = Tensor::<2>::from_data(TensorData::new(batch.obs.clone(), [b, d]), &l.ad);
        let act = Tensor::<2, Int>::from_data(TensorData::new(batch.action.clone(), [b, 1]), &l.ad);
        let q_sa = l.online.forward(obs).gather(1, act); // [b,1]

        let next = Tensor::<2>::from_data(TensorData::new(batch.next_obs.clone(), [b, d]), &l.base);
        let v_next = if l.settings.double_dqn {
            let a_star = l.policy.forward(next.clone()).argmax(1);
            l.target.forward(next).gather(1, a_star)
        } else {
            l.target.forward(next).max_dim(1)
        };
        TdTerms {
            q_sa,
            v_next,
            reward: &batch.reward,
            terminal: &batch.terminal,
        }
    }

    const MANUAL: bool = true;

    fn manual_update(l: &mut Learner<Self>, batch: &Batch) -> Option<UpdateStats> {
        Some(crate::manual::dqn_update(l, batch))
    }
}

/// The inputs of [`td_update`]: `q_sa` on the autodiff device (the online net's values of
/// the actions taken), `v_next` plain, both `[B, 1]` or `[B, L]`; rewards and terminal
/// flags row-major in that shape.
pub struct TdTerms<'a> {
    pub q_sa: Tensor<2>,
    pub v_next: Tensor<2>,
    pub reward: &'a [f32],
    pub terminal: &'a [f32],
}

/// The last steps of docs/training.md#the-dqn-update, shared by the feed-forward and the
/// sequence learner (docs/training.md#the-recurrent-update): `y = r + γ (1 − term) v'`,
/// the loss of `q_sa` against `y` (MSE or Huber, mean), backward, global-norm clipping and
/// one Adam step. Returns the stepped module and the update's statistics.
pub(crate) fn td_update<M: Module>(
    online: M,
    optim: &mut ModuleOptimizer,
    s: &LearnerSettings,
    t: TdTerms<'_>,
    base: &Device,
) -> (M, UpdateStats) {
    let TdTerms {
        q_sa,
        v_next,
        reward,
        terminal,
    } = t;
    let shape = q_sa.dims();
    let reward = Tensor::<2>::from_data(TensorData::new(reward.to_vec(), shape), base);
    let terminal = Tensor::<2>::from_data(TensorData::new(terminal.to_vec(), shape), base);
    let y_plain = reward
        + v_next
            .mul(terminal.neg().add_scalar(1.0))
            .mul_scalar(s.gamma);
    let y = y_plain.clone().autodiff();
    let td_abs_mean = (q_sa.clone().inner() - y_plain)
        .abs()
        .mean()
        .into_scalar::<f32>();
    let q_mean = q_sa.clone().inner().mean().into_scalar::<f32>();
    let loss = match s.loss {
        LossKind::Mse => MseLoss::new().forward(q_sa, y, Reduction::Mean),
        LossKind::Huber => {
            HuberLossConfig::new(s.huber_delta)
                .init()
                .forward(q_sa, y, Reduction::Mean)
        }
    };
    let loss_value = loss.clone().into_scalar::<f32>();
    let mut grads = GradientsParams::from_grads(loss.backward(), &online);
    let grad_norm = clip_global_norm(&online, &mut grads, s.max_grad_norm);
    let online = optim.step(s.lr, online, grads);
    (
        online,
        UpdateStats {
            loss: loss_value,
            td_abs_mean,
            q_mean,
            grad_norm,
        },
    )
}

/// Scale every gradient by `max / (n + 1e-6)` when the global L2 norm `n` exceeds `max`
/// (PyTorch's `clip_grad_norm_`; burn's built-in clips per parameter). Returns `n`.
pub fn clip_global_norm<M: Module>(module: &M, grads: &mut GradientsParams, max: f32) -> f32 {
    struct SqSum<'a> {
        g: &'a GradientsParams,
        total: f64,
    }
    impl ModuleVisitor for SqSum<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if let Some(t) = self.g.get::<D>(p.id) {
                self.total += f64::from(t.square().sum().into_scalar::<f32>());
            }
        }
    }
    struct Scale<'a> {
        g: &'a mut GradientsParams,
        k: f32,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if let Some(t) = self.g.remove::<D>(p.id) {
                self.g.register::<D>(p.id, t.mul_scalar(self.k));
            }
        }
    }
    let mut sum = SqSum {
        g: grads,
        total: 0.0,
    };
    module.visit(&mut sum);
    let norm = sum.total.sqrt() as f32;
    if norm > max {
        let mut scale = Scale {
            g: grads,
            k: max / (norm + 1e-6),
        };
        module.visit(&mut scale);
    }
    norm
}
