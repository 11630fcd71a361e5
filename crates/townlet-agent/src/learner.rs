//! One DQN update (training.md §3): online on the autodiff device, target on the plain
//! device, MSE or Huber, global-norm clipping (D15), Adam with `adam_epsilon`.

use crate::qnet::SimpleQNetwork;
use crate::replay::Batch;
use burn::module::{ModuleVisitor, Param};
use burn::nn::loss::{HuberLossConfig, MseLoss, Reduction};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use townlet_config::LossKind;

/// Telemetry of one update (training.md §3 step 9).
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
}

/// Online + target Q-networks and the optimizer.
pub struct DqnLearner {
    pub(crate) online: SimpleQNetwork,
    pub(crate) target: SimpleQNetwork,
    pub(crate) policy: SimpleQNetwork,
    pub(crate) optim: ModuleOptimizer,
    pub(crate) settings: LearnerSettings,
    pub(crate) obs_dim: usize,
    pub(crate) action_dim: usize,
    base: Device,
    ad: Device,
}

pub fn new_adam(adam_epsilon: f64) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(adam_epsilon as f32)
        .init()
}

impl DqnLearner {
    pub fn new(
        online: SimpleQNetwork,
        settings: LearnerSettings,
        adam_epsilon: f64,
        obs_dim: usize,
        action_dim: usize,
        base: Device,
        ad: Device,
    ) -> Self {
        let target = online.valid();
        let policy = online.valid();
        Self {
            online,
            target,
            policy,
            optim: new_adam(adam_epsilon),
            settings,
            obs_dim,
            action_dim,
            base,
            ad,
        }
    }

    /// Q-values of each row of `obs` from the policy snapshot (never the autodiff net).
    pub fn q_values(&self, obs: &[f32]) -> Vec<f32> {
        let n = obs.len() / self.obs_dim;
        let x =
            Tensor::<2>::from_data(TensorData::new(obs.to_vec(), [n, self.obs_dim]), &self.base);
        self.policy
            .forward(x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|_| vec![0.0; n * self.action_dim])
    }

    pub fn sync_target(&mut self) {
        self.target = self.online.valid();
    }

    pub fn update(&mut self, batch: &Batch) -> UpdateStats {
        let b = batch.action.len();
        let d = self.obs_dim;
        let s = &self.settings;
        let obs = Tensor::<2>::from_data(TensorData::new(batch.obs.clone(), [b, d]), &self.ad);
        let act =
            Tensor::<2, Int>::from_data(TensorData::new(batch.action.clone(), [b, 1]), &self.ad);
        let q_sa = self.online.forward(obs).gather(1, act); // [b,1]

        let next =
            Tensor::<2>::from_data(TensorData::new(batch.next_obs.clone(), [b, d]), &self.base);
        let v_next = if s.double_dqn {
            let a_star = self.policy.forward(next.clone()).argmax(1);
            self.target.forward(next).gather(1, a_star)
        } else {
            self.target.forward(next).max_dim(1)
        };
        let terms = TdTerms {
            q_sa,
            v_next,
            reward: &batch.reward,
            terminal: &batch.terminal,
        };
        let (online, stats) = td_update(self.online.clone(), &mut self.optim, s, terms, &self.base);
        self.online = online;
        self.policy = self.online.valid();
        stats
    }
}

/// The inputs of [`td_update`]: `q_sa` on the autodiff device (the online net's values of
/// the actions taken), `v_next` plain, both `[B, 1]` or `[B, L]`; rewards and terminal
/// flags row-major in that shape.
pub(crate) struct TdTerms<'a> {
    pub q_sa: Tensor<2>,
    pub v_next: Tensor<2>,
    pub reward: &'a [f32],
    pub terminal: &'a [f32],
}

/// Steps 5–9 of training.md §3, shared by the feed-forward and the sequence learner
/// (§5 step 6): `y = r + γ (1 − term) v'`, the loss of `q_sa` against `y` (MSE or Huber,
/// mean), backward, global-norm clipping (D15) and one Adam step. Returns the stepped
/// module and the update's statistics.
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
