//! The recurrent (DRQN) update of training.md §5 and stateful acting.
//!
//! Each window starts from the acting state the agent really had (D16), optionally warmed
//! up by a gradient-free burn-in; the online and the target pass each carry their own state
//! through all `L + 1` observations, and step `t` bootstraps from the target output at
//! `t + 1`.

use crate::learner::{LearnerSettings, TdTerms, UpdateStats, new_adam, td_update};
use crate::recurrent::{RecurrentQNetwork, STATE_LEN, state_from_flat, state_to_flat};
use crate::sequence::SeqBatch;
use burn::nn::LstmState;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;

pub struct RecurrentLearner {
    pub(crate) online: RecurrentQNetwork,
    pub(crate) target: RecurrentQNetwork,
    /// `online.valid()`, refreshed after every update; acting and burn-in use it.
    pub(crate) policy: RecurrentQNetwork,
    pub(crate) optim: ModuleOptimizer,
    pub(crate) settings: LearnerSettings,
    pub(crate) obs_dim: usize,
    pub(crate) action_dim: usize,
    base: Device,
    ad: Device,
}

impl RecurrentLearner {
    pub fn new(
        online: RecurrentQNetwork,
        settings: LearnerSettings,
        adam_epsilon: f64,
        obs_dim: usize,
        action_dim: usize,
        base: Device,
        ad: Device,
    ) -> Self {
        Self {
            target: online.valid(),
            policy: online.valid(),
            online,
            optim: new_adam(adam_epsilon),
            settings,
            obs_dim,
            action_dim,
            base,
            ad,
        }
    }

    /// One acting step on the policy snapshot: `obs [N, D]` and the carried state
    /// `[N, 512]` → (`q [N, A]`, the next state `[N, 512]`).
    pub fn act_step(&self, obs: &[f32], state: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let n = obs.len() / self.obs_dim;
        let x = Tensor::<3>::from_data(
            TensorData::new(obs.to_vec(), [n, 1, self.obs_dim]),
            &self.base,
        );
        let st = state_from_flat(state.to_vec(), n, &self.base);
        let (q, st) = self.policy.forward(x, Some(st));
        let q = q
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|_| vec![0.0; n * self.action_dim]);
        let mut next = state_to_flat(st);
        next.resize(n * STATE_LEN, 0.0);
        (q, next)
    }

    pub fn sync_target(&mut self) {
        self.target = self.online.valid();
    }

    /// Gradient-free burn-in on the plain device: step `net` through the right-aligned
    /// burn-in slots, keeping each window's state unchanged on its padding slots.
    fn burn_in(
        &self,
        net: &RecurrentQNetwork,
        batch: &SeqBatch,
        mut state: LstmState<2>,
    ) -> LstmState<2> {
        let (b, k, d) = (batch.batch, batch.burn, self.obs_dim);
        if k == 0 {
            return state;
        }
        let obs = Tensor::<3>::from_data(
            TensorData::new(batch.burn_obs.clone(), [b, k, d]),
            &self.base,
        );
        let mask =
            Tensor::<2>::from_data(TensorData::new(batch.burn_mask.clone(), [b, k]), &self.base);
        for j in 0..k {
            let (_, new) =
                net.forward(obs.clone().slice(s![.., j..j + 1, ..]), Some(state.clone()));
            let m = mask.clone().slice(s![.., j..j + 1]);
            let keep = m.clone().neg().add_scalar(1.0);
            // m·new + (1−m)·old is exactly `new` where m = 1 and exactly `old` where m = 0.
            state = LstmState::new(
                new.cell * m.clone() + state.cell * keep.clone(),
                new.hidden * m + state.hidden * keep,
            );
        }
        state
    }

    /// One sequence DQN update (training.md §5) on a sampled batch.
    pub fn update(&mut self, batch: &SeqBatch) -> UpdateStats {
        let (b, l, d) = (batch.batch, batch.seq_len, self.obs_dim);
        let s = self.settings.clone();
        let start = state_from_flat(batch.start_state.clone(), b, &self.base);
        let online_start = self.burn_in(&self.policy, batch, start.clone());
        let target_start = self.burn_in(&self.target, batch, start);

        // Online pass (autodiff) from the detached start state.
        let obs_plain = Tensor::<3>::from_data(
            TensorData::new(batch.obs.clone(), [b, l + 1, d]),
            &self.base,
        );
        let st_ad = LstmState::new(online_start.cell.autodiff(), online_start.hidden.autodiff());
        let (q_all, _) = self
            .online
            .forward(obs_plain.clone().autodiff(), Some(st_ad));
        let act =
            Tensor::<3, Int>::from_data(TensorData::new(batch.action.clone(), [b, l, 1]), &self.ad);
        let q_sa = q_all
            .clone()
            .slice(s![.., 0..l, ..])
            .gather(2, act)
            .reshape([b, l]);

        // Target pass (plain device) from the same start, carrying its own state.
        let (q_t, _) = self.target.forward(obs_plain, Some(target_start));
        let q_next = q_t.slice(s![.., 1..l + 1, ..]);
        let v_next = if s.double_dqn {
            let a_star = q_all.clone().inner().slice(s![.., 1..l + 1, ..]).argmax(2);
            q_next.gather(2, a_star)
        } else {
            q_next.max_dim(2)
        }
        .reshape([b, l]);
        let terms = TdTerms {
            q_sa,
            v_next,
            reward: &batch.reward,
            terminal: &batch.terminal,
        };
        let (online, stats) =
            td_update(self.online.clone(), &mut self.optim, &s, terms, &self.base);
        self.online = online;
        self.policy = self.online.valid();
        stats
    }
}
