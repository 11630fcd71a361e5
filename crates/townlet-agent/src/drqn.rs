//! The recurrent (DRQN) side of the learner (docs/training.md#the-recurrent-update): how a
//! batch of sequence windows becomes TD terms, and stateful acting.
//!
//! Each window starts from the acting state the agent really had
//! (docs/decisions.md#recurrent-training-from-stored-state), optionally warmed up by a
//! gradient-free burn-in; the online and the target pass each carry their own state through
//! all `L + 1` observations, and step `t` bootstraps from the target output at `t + 1`.

use crate::learner::{Learner, LearnerNet, TdTerms, UpdateStats};
use crate::recurrent::{RecurrentQNetwork, STATE_LEN, state_from_flat, state_to_flat};
use crate::sequence::SeqBatch;
use burn::nn::LstmState;
use burn::prelude::*;

/// The recurrent learner: [`RecurrentQNetwork`] on episode-sequence windows.
pub type RecurrentLearner = Learner<RecurrentQNetwork>;

impl Learner<RecurrentQNetwork> {
    /// One acting step on the policy snapshot: `obs [N, D]` and the carried state
    /// `[N, 256]` → (`q [N, A]`, the next state `[N, 256]`).
    pub fn act_step(&self, obs: &[f32], state: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let n = obs.len() / self.obs_dim;
        let x = Tensor::<3>::from_data(
            TensorData::new(obs.to_vec(), [n, 1, self.obs_dim]),
            &self.base,
        );
        let st = state_from_flat(state.to_vec(), n, &self.base);
        let (q, st) = self.policy.forward(x, Some(st));
        let q = self.read_q(q, n);
        let mut next = state_to_flat(st);
        next.resize(n * STATE_LEN, 0.0);
        (q, next)
    }

    /// Gradient-free burn-in on the plain device: step `net` through the right-aligned
    /// burn-in slots, keeping each window's state unchanged on its padding slots.
    pub(crate) fn burn_in(
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
}

impl LearnerNet for RecurrentQNetwork {
    type Batch = SeqBatch;

    fn blank(&self, _obs_dim: usize, action_dim: usize, device: &Device) -> Self {
        RecurrentQNetwork::new(self.slices(), action_dim, device)
    }

    /// The sequence update's terms for a sampled batch of windows.
    fn td_terms<'b>(l: &Learner<Self>, batch: &'b SeqBatch) -> TdTerms<'b> {
        let (b, len, d) = (batch.batch, batch.seq_len, l.obs_dim);
        let start = state_from_flat(batch.start_state.clone(), b, &l.base);
        let online_start = l.burn_in(&l.policy, batch, start.clone());
        let target_start = l.burn_in(&l.target, batch, start);

        // Online pass (autodiff) from the detached start state.
        let obs_plain =
            Tensor::<3>::from_data(TensorData::new(batch.obs.clone(), [b, len + 1, d]), &l.base);
        let st_ad = LstmState::new(online_start.cell.autodiff(), online_start.hidden.autodiff());
        let (q_all, _) = l.online.forward(obs_plain.clone().autodiff(), Some(st_ad));
        let act =
            Tensor::<3, Int>::from_data(TensorData::new(batch.action.clone(), [b, len, 1]), &l.ad);
        let q_sa = q_all
            .clone()
            .slice(s![.., 0..len, ..])
            .gather(2, act)
            .reshape([b, len]);

        // Target pass (plain device) from the same start, carrying its own state.
        let (q_t, _) = l.target.forward(obs_plain, Some(target_start));
        let q_next = q_t.slice(s![.., 1..len + 1, ..]);
        let v_next = if l.settings.double_dqn {
            let a_star = q_all
                .clone()
                .inner()
                .slice(s![.., 1..len + 1, ..])
                .argmax(2);
            q_next.gather(2, a_star)
        } else {
            q_next.max_dim(2)
        }
        .reshape([b, len]);
        TdTerms {
            q_sa,
            v_next,
            reward: &batch.reward,
            terminal: &batch.terminal,
        }
    }

    const MANUAL: bool = true;

    fn manual_update(l: &mut Learner<Self>, batch: &SeqBatch) -> Option<UpdateStats> {
        Some(crate::manual_rnn::seq_update(l, batch))
    }
}
