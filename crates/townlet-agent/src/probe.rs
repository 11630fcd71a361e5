//! Asking a network questions away from training (docs/usage.md#asking-the-agent): a
//! [`NetworkSnapshot`] is a copy of the acting (policy) network, taken between episodes,
//! that a viewer server can keep on its own threads and query with batches of probe
//! observations. It shares no state with the learner: the learner replaces its policy
//! network after every update and never changes one in place.

use crate::agent::{DqnAgent, QModel};
use crate::qnet::SimpleQNetwork;
use crate::recurrent::{LSTM_HIDDEN, RecurrentQNetwork};
use burn::nn::LstmState;
use burn::prelude::*;

// One per snapshot, built between episodes and never moved in a hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum SnapshotNet {
    Simple(SimpleQNetwork),
    Recurrent(RecurrentQNetwork),
}

/// A frozen copy of an agent's acting network, labelled with the last finished training
/// episode it had learnt from. Cheap to clone (the weights are shared, never mutated).
#[derive(Clone)]
pub struct NetworkSnapshot {
    net: SnapshotNet,
    device: Device,
    obs_dim: usize,
    action_dim: usize,
    /// The network after this training episode (for a checkpoint: its header's episode).
    pub after_episode: u64,
}

impl std::fmt::Debug for NetworkSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkSnapshot")
            .field("network", &self.network_type())
            .field("obs_dim", &self.obs_dim)
            .field("action_dim", &self.action_dim)
            .field("after_episode", &self.after_episode)
            .finish()
    }
}

impl DqnAgent {
    /// A copy of the acting network as it is now, labelled `after_episode`.
    pub fn snapshot(&self, after_episode: u64) -> NetworkSnapshot {
        let net = match &self.model {
            QModel::Simple(m) => SnapshotNet::Simple(m.learner.policy.clone()),
            QModel::Recurrent(m) => SnapshotNet::Recurrent(m.learner.policy.clone()),
        };
        NetworkSnapshot {
            net,
            device: self.device.base.clone(),
            obs_dim: self.obs_dim,
            action_dim: self.action_dim,
            after_episode,
        }
    }
}

impl NetworkSnapshot {
    /// `"simple"` or `"recurrent"`.
    pub fn network_type(&self) -> &'static str {
        match self.net {
            SnapshotNet::Simple(_) => "simple",
            SnapshotNet::Recurrent(_) => "recurrent",
        }
    }

    pub fn is_recurrent(&self) -> bool {
        matches!(self.net, SnapshotNet::Recurrent(_))
    }

    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    pub fn action_dim(&self) -> usize {
        self.action_dim
    }

    /// Q-values `[rows, action_dim]` (flat) of the rows of `batch` (`[rows, obs_dim]`
    /// flat), each seen after the observations of `history` (`[T, obs_dim]` flat, the
    /// steps of the episode before the probed one). One batched forward for all rows.
    ///
    /// The MLP ignores `history`. The recurrent network first runs `history` from a zero
    /// state (as the agent did from the start of the episode), then gives every row that
    /// same state — so what differs between rows is only the current observation.
    pub fn probe(&self, history: &[f32], batch: &[f32]) -> Vec<f32> {
        let memory = self.memory(history);
        self.probe_from(memory.as_ref(), batch)
    }

    /// The recurrent network's memory after running `history` (`[T, obs_dim]` flat) from
    /// a zero state; `None` for the MLP or an empty history. Keep it to probe the same
    /// step many times (what-if questions change only the current observation).
    pub fn memory(&self, history: &[f32]) -> Option<Memory> {
        let SnapshotNet::Recurrent(net) = &self.net else {
            return None;
        };
        let d = self.obs_dim.max(1);
        let t = history.len() / d;
        if t == 0 {
            return None;
        }
        let h = Tensor::<3>::from_data(
            TensorData::new(history[..t * d].to_vec(), [1, t, d]),
            &self.device,
        );
        let state = net.forward(h, None).1;
        let read = |x: Tensor<2>| x.into_data().try_to_vec::<f32>().unwrap_or_default();
        Some(Memory {
            cell: read(state.cell),
            hidden: read(state.hidden),
        })
    }

    /// [`NetworkSnapshot::probe`] from a memory made by [`NetworkSnapshot::memory`] (the
    /// same numbers as running the history again).
    pub fn probe_from(&self, memory: Option<&Memory>, batch: &[f32]) -> Vec<f32> {
        let d = self.obs_dim;
        let rows = batch.len() / d.max(1);
        if rows == 0 {
            return Vec::new();
        }
        let q = match &self.net {
            SnapshotNet::Simple(net) => {
                let x = Tensor::<2>::from_data(
                    TensorData::new(batch[..rows * d].to_vec(), [rows, d]),
                    &self.device,
                );
                net.forward(x).into_data()
            }
            SnapshotNet::Recurrent(net) => {
                let state = memory
                    .filter(|m| m.cell.len() == LSTM_HIDDEN && m.hidden.len() == LSTM_HIDDEN)
                    .map(|m| {
                        let t = |v: &[f32]| {
                            Tensor::<2>::from_data(
                                TensorData::new(v.to_vec(), [1, LSTM_HIDDEN]),
                                &self.device,
                            )
                            .expand([rows, LSTM_HIDDEN])
                        };
                        LstmState::new(t(&m.cell), t(&m.hidden))
                    });
                let x = Tensor::<3>::from_data(
                    TensorData::new(batch[..rows * d].to_vec(), [rows, 1, d]),
                    &self.device,
                );
                net.forward(x, state).0.into_data()
            }
        };
        q.try_to_vec::<f32>()
            .unwrap_or_else(|_| vec![0.0; rows * self.action_dim])
    }
}

/// A recurrent network's memory (LSTM cell and hidden state) at one step of an episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Memory {
    cell: Vec<f32>,
    hidden: Vec<f32>,
}

/// Snapshots cross threads (training → server); this fails to compile if they cannot.
#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<NetworkSnapshot>();
}
