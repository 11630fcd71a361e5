//! The checkpoint container (docs/decisions.md#checkpoint-container): a header plus named
//! blobs, encoded through `townlet-codec` (magic `TWCKP`). The agent writes its own blobs
//! (`agent/…`); the runner adds its own (`runner/…`) without the agent knowing them.

use crate::agent::{DqnAgent, QModel};
use crate::curriculum::Curriculum;
use crate::flat_adam::FlatAdam;
use crate::intrinsic::AdaptiveIntrinsic;
use crate::learner::{Learner, LearnerNet, new_adam};
use crate::qnet::SimpleQNetwork;
use crate::recurrent::RecurrentQNetwork;
use crate::replay::ReplayBuffer;
use crate::rnd::RndNet;
use crate::rng::RngState;
use crate::sequence::SequenceBuffer;
use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const CHECKPOINT_MAGIC: &[u8; 5] = b"TWCKP";
pub const CHECKPOINT_VERSION: u16 = 1;
const BLOB_MAGIC: &[u8; 5] = b"TWBLB";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint file {path}")]
    Codec {
        path: PathBuf,
        source: townlet_codec::CodecError,
    },
    #[error("checkpoint blob '{0}' is missing")]
    MissingBlob(String),
    #[error("checkpoint blob '{name}' is unreadable: {message}")]
    BadBlob { name: String, message: String },
    /// Boxed so every `Result<_, CheckpointError>` stays small.
    #[error("{0}")]
    Incompatible(Box<Incompatibility>),
}

#[derive(Debug, thiserror::Error)]
#[error(
    "checkpoint was made for pack '{ckpt_pack}' (obs {ckpt_obs}, actions {ckpt_act}, network {ckpt_net}) but this run uses '{pack}' (obs {obs}, actions {act}, network {net})"
)]
pub struct Incompatibility {
    pub ckpt_pack: String,
    pub ckpt_obs: usize,
    pub ckpt_act: usize,
    pub ckpt_net: String,
    pub pack: String,
    pub obs: usize,
    pub act: usize,
    pub net: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    pub crate_version: String,
    pub created_at_ms: u64,
    pub config_hash: String,
    pub pack_name: String,
    pub network_type: String,
    pub obs_dim: usize,
    pub action_dim: usize,
    pub backend: String,
    /// Last finished training episode.
    pub episode: u64,
    /// Where a resume continues.
    pub next_episode: u64,
    pub total_steps: u64,
    pub stage: u8,
    pub epsilon: f64,
    pub intrinsic_weight: f64,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blob {
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub header: CheckpointHeader,
    pub blobs: Vec<Blob>,
}

/// `checkpoint_ep{episode:06}.ckpt`
pub fn checkpoint_file_name(episode: u64) -> String {
    format!("checkpoint_ep{episode:06}.ckpt")
}

/// Episode number from a checkpoint file name, or None for anything else (incl. `.tmp`).
pub fn parse_checkpoint_file_name(name: &str) -> Option<u64> {
    name.strip_prefix("checkpoint_ep")?
        .strip_suffix(".ckpt")?
        .parse()
        .ok()
}

/// Complete checkpoints in `dir`, oldest first.
pub fn list_checkpoints(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            parse_checkpoint_file_name(name.to_str()?).map(|ep| (ep, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// Encode a serde value as a blob (through the codec, so each blob is checksummed too).
pub fn encode_blob<T: Serialize + ?Sized>(
    name: &str,
    value: &T,
) -> Result<Vec<u8>, CheckpointError> {
    townlet_codec::encode(BLOB_MAGIC, 1, value, false).map_err(|e| bad_blob(name, e))
}

impl Checkpoint {
    pub fn new(header: CheckpointHeader) -> Self {
        Self {
            header,
            blobs: Vec::new(),
        }
    }

    pub fn put(&mut self, name: &str, bytes: Vec<u8>) {
        self.blobs.retain(|b| b.name != name);
        self.blobs.push(Blob {
            name: name.to_string(),
            bytes,
        });
    }

    pub fn put_value<T: Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
    ) -> Result<(), CheckpointError> {
        let bytes = encode_blob(name, value)?;
        self.put(name, bytes);
        Ok(())
    }

    pub fn blob(&self, name: &str) -> Result<&[u8], CheckpointError> {
        self.blobs
            .iter()
            .find(|b| b.name == name)
            .map(|b| b.bytes.as_slice())
            .ok_or_else(|| CheckpointError::MissingBlob(name.to_string()))
    }

    pub fn value<T: DeserializeOwned>(&self, name: &str) -> Result<T, CheckpointError> {
        let bytes = self.blob(name)?;
        townlet_codec::decode(BLOB_MAGIC, 1..=1, bytes)
            .map(|(_, v)| v)
            .map_err(|e| bad_blob(name, e))
    }

    /// Atomic write (temp name, fsync, rename, fsync dir). Returns bytes written.
    pub fn write(&self, path: &Path) -> Result<u64, CheckpointError> {
        townlet_codec::encode_to_file(path, CHECKPOINT_MAGIC, CHECKPOINT_VERSION, self, true)
            .map_err(|source| CheckpointError::Codec {
                path: path.to_path_buf(),
                source,
            })
    }

    pub fn read(path: &Path) -> Result<Self, CheckpointError> {
        townlet_codec::decode_file(
            path,
            CHECKPOINT_MAGIC,
            CHECKPOINT_VERSION..=CHECKPOINT_VERSION,
        )
        .map(|(_, c)| c)
        .map_err(|source| CheckpointError::Codec {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The agent's scalar and small state (everything but weights and the replay rows).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AgentState {
    epsilon: f64,
    intrinsic: AdaptiveIntrinsic,
    curricula: Vec<Curriculum>,
    action_rng: RngState,
    replay_rng: RngState,
    total_steps: u64,
    updates: u64,
    rnd_updates: u64,
    rnd_queue: Vec<f32>,
}

fn bad_blob(name: &str, e: impl ToString) -> CheckpointError {
    CheckpointError::BadBlob {
        name: name.to_string(),
        message: e.to_string(),
    }
}

fn module_bytes<M: Module>(m: &M, name: &str) -> Result<Vec<u8>, CheckpointError> {
    m.valid()
        .into_record()
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| bad_blob(name, e))
}

fn load_module<M: Module>(m: M, ckpt: &Checkpoint, name: &str) -> Result<M, CheckpointError> {
    let bytes = ckpt.blob(name)?.to_vec();
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| bad_blob(name, e))?;
    m.try_load_record(record)
        .map_err(|e| bad_blob(name, first_of_many(&e.to_string())))
}

/// burn lists every parameter that does not fit (a net of another size, e.g. a recurrent
/// checkpoint from before the LSTM had 128 units, gives sixteen); keep the first and
/// count the rest.
fn first_of_many(message: &str) -> String {
    let Some(list) = message
        .split_once("Apply errors: [")
        .map(|(_, rest)| rest.trim_end_matches(']'))
    else {
        return message.to_string();
    };
    let entries: Vec<&str> = list.split("\", \"").collect();
    let first = entries[0].trim_matches('"');
    match entries.len() {
        0 | 1 => first.to_string(),
        n => format!("{first} (and {} more)", n - 1),
    }
}

fn optim_bytes(optim: &ModuleOptimizer, name: &str) -> Result<Vec<u8>, CheckpointError> {
    optim
        .to_record()
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| bad_blob(name, e))
}

/// A fresh Adam with `adam_epsilon` and the state saved under `name`.
fn load_optim(
    ckpt: &Checkpoint,
    name: &str,
    adam_epsilon: f64,
) -> Result<ModuleOptimizer, CheckpointError> {
    let bytes = ckpt.blob(name)?.to_vec();
    let record =
        OptimizerRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| bad_blob(name, e))?;
    Ok(new_adam(adam_epsilon).load_record(record))
}

/// A learner's weights and optimizer as read from a checkpoint, not yet in place.
struct LearnerState<N> {
    online: N,
    target: N,
    optim: ModuleOptimizer,
    /// The fused Adam's state when the learner uses hand-written gradients.
    flat: Option<FlatAdam>,
}

impl<N: LearnerNet> Learner<N> {
    /// Add the online and target weights and the optimizer state to `ckpt`.
    fn save_into(&self, ckpt: &mut Checkpoint) -> Result<(), CheckpointError> {
        ckpt.put("agent/online", module_bytes(&self.online, "agent/online")?);
        ckpt.put("agent/target", module_bytes(&self.target, "agent/target")?);
        let optim = match &self.flat {
            // The fused Adam writes burn's record for the same parameters, so either
            // gradient path resumes from either's checkpoint.
            Some(flat) => flat
                .to_record_bytes(&crate::manual::parameters(&self.online).1)
                .map_err(|e| bad_blob("agent/q_optim", e))?,
            None => optim_bytes(&self.optim, "agent/q_optim")?,
        };
        ckpt.put("agent/q_optim", optim);
        Ok(())
    }

    /// Read what [`save_into`](Self::save_into) wrote into nets of this learner's shape,
    /// changing nothing yet.
    fn read_state(
        &self,
        ckpt: &Checkpoint,
        adam_epsilon: f64,
    ) -> Result<LearnerState<N>, CheckpointError> {
        let online = self.read_online(ckpt)?;
        let (optim, flat) = if self.flat.is_some() {
            let bytes = ckpt.blob("agent/q_optim")?.to_vec();
            let slots = crate::manual::parameters(&online).1;
            let flat = FlatAdam::from_record_bytes(adam_epsilon, bytes, &slots, &self.base)
                .map_err(|e| bad_blob("agent/q_optim", e))?;
            (new_adam(adam_epsilon), Some(flat))
        } else {
            (load_optim(ckpt, "agent/q_optim", adam_epsilon)?, None)
        };
        let target = load_module(
            self.online.blank(self.obs_dim, self.action_dim, &self.base),
            ckpt,
            "agent/target",
        )?;
        Ok(LearnerState {
            online,
            target,
            optim,
            flat,
        })
    }

    fn restore(&mut self, state: LearnerState<N>) {
        self.online = state.online;
        self.target = state.target;
        self.policy = self.online.valid();
        self.optim = state.optim;
        self.flat = state.flat;
    }

    fn read_online(&self, ckpt: &Checkpoint) -> Result<N, CheckpointError> {
        let blank = self
            .online
            .blank(self.obs_dim, self.action_dim, self.online_device());
        load_module(blank, ckpt, "agent/online")
    }

    /// Only the online weights, which also become the target (inference).
    fn load_policy_from(&mut self, ckpt: &Checkpoint) -> Result<(), CheckpointError> {
        let online = self.read_online(ckpt)?;
        self.set_online(online);
        Ok(())
    }
}

impl DqnAgent {
    /// Check that a checkpoint fits this agent (pack, dims, network).
    pub fn check_compatible(
        &self,
        h: &CheckpointHeader,
        pack_name: &str,
    ) -> Result<(), CheckpointError> {
        let net = self.model.network_name();
        if h.obs_dim != self.obs_dim || h.action_dim != self.action_dim || h.network_type != net {
            return Err(CheckpointError::Incompatible(Box::new(Incompatibility {
                ckpt_pack: h.pack_name.clone(),
                ckpt_obs: h.obs_dim,
                ckpt_act: h.action_dim,
                ckpt_net: h.network_type.clone(),
                pack: pack_name.to_string(),
                obs: self.obs_dim,
                act: self.action_dim,
                net: net.to_string(),
            })));
        }
        Ok(())
    }

    /// Add the agent's blobs to `ckpt`, and set the header's `network_type` to this
    /// agent's network (the header is written by the runner, which does not know it). An
    /// update still running on the learner thread is taken back first
    /// (docs/training.md#overlapped-updates); between episodes there is none.
    pub fn save_into(&mut self, ckpt: &mut Checkpoint) -> Result<(), CheckpointError> {
        self.finish_update();
        ckpt.header.network_type = self.model.network_name().to_string();
        match &self.model {
            QModel::Simple(m) => {
                m.learner.save_into(ckpt)?;
                ckpt.put_value("agent/replay", &m.buffer)?;
            }
            QModel::Recurrent(m) => {
                m.learner.save_into(ckpt)?;
                ckpt.put_value("agent/sequence_replay", &m.buffer)?;
            }
        }
        ckpt.put(
            "agent/rnd_fixed",
            module_bytes(&self.rnd.fixed, "agent/rnd_fixed")?,
        );
        ckpt.put(
            "agent/rnd_predictor",
            module_bytes(&self.rnd.predictor, "agent/rnd_predictor")?,
        );
        ckpt.put(
            "agent/rnd_optim",
            match &self.rnd.flat {
                Some(flat) => flat
                    .to_record_bytes(&crate::manual::parameters(&self.rnd.predictor).1)
                    .map_err(|e| bad_blob("agent/rnd_optim", e))?,
                None => optim_bytes(&self.rnd.optim, "agent/rnd_optim")?,
            },
        );
        let state = AgentState {
            epsilon: self.epsilon,
            intrinsic: self.intrinsic.clone(),
            curricula: self.curricula.clone(),
            action_rng: RngState::capture(&self.action_rng),
            replay_rng: RngState::capture(&self.replay_rng),
            total_steps: self.total_steps,
            updates: self.updates,
            rnd_updates: self.rnd.updates,
            rnd_queue: self.rnd.queue().to_vec(),
        };
        ckpt.put_value("agent/state", &state)
    }

    /// Restore everything saved by [`save_into`](Self::save_into) (weights, target,
    /// optimizers, RND, replay, ε, w, curriculum, RNG positions, counters). Nothing is
    /// changed when any blob is missing or does not fit.
    pub fn load_from(&mut self, ckpt: &Checkpoint) -> Result<(), CheckpointError> {
        self.finish_update();
        /// The Q side read from a checkpoint, not yet in place (built once per load).
        #[allow(clippy::large_enum_variant)]
        enum Loaded {
            Simple(LearnerState<SimpleQNetwork>, ReplayBuffer),
            Recurrent(LearnerState<RecurrentQNetwork>, SequenceBuffer),
        }
        let ad = self.device.ad.clone();
        let base = self.device.base.clone();
        let obs = self.obs_dim;
        let adam_eps = self.adam_epsilon();
        // Read everything before touching the agent.
        let loaded = match &self.model {
            QModel::Simple(m) => {
                let learner = m.learner.read_state(ckpt, adam_eps)?;
                let buffer: ReplayBuffer = ckpt.value("agent/replay")?;
                if buffer.obs_dim() != obs {
                    return Err(bad_blob(
                        "agent/replay",
                        format!("obs dim {} != {obs}", buffer.obs_dim()),
                    ));
                }
                Loaded::Simple(learner, buffer)
            }
            QModel::Recurrent(m) => {
                let learner = m.learner.read_state(ckpt, adam_eps)?;
                let buffer: SequenceBuffer = ckpt.value("agent/sequence_replay")?;
                if buffer.obs_dim() != obs || buffer.seq_len() != m.buffer.seq_len() {
                    return Err(bad_blob(
                        "agent/sequence_replay",
                        format!(
                            "obs dim {} / sequence length {} != {obs} / {}",
                            buffer.obs_dim(),
                            buffer.seq_len(),
                            m.buffer.seq_len()
                        ),
                    ));
                }
                Loaded::Recurrent(learner, buffer)
            }
        };
        let embed = self.rnd_embed_dim();
        let fixed = load_module(RndNet::new(obs, embed, &base), ckpt, "agent/rnd_fixed")?;
        let manual_rnd = self.rnd.flat.is_some();
        let predictor_device = if manual_rnd { &base } else { &ad };
        let predictor = load_module(
            RndNet::new(obs, embed, predictor_device),
            ckpt,
            "agent/rnd_predictor",
        )?;
        let (rnd_optim, rnd_flat) = if manual_rnd {
            let bytes = ckpt.blob("agent/rnd_optim")?.to_vec();
            let slots = crate::manual::parameters(&predictor).1;
            let flat = FlatAdam::from_record_bytes(adam_eps, bytes, &slots, &base)
                .map_err(|e| bad_blob("agent/rnd_optim", e))?;
            (new_adam(adam_eps), Some(flat))
        } else {
            (load_optim(ckpt, "agent/rnd_optim", adam_eps)?, None)
        };
        let state: AgentState = ckpt.value("agent/state")?;
        match (&mut self.model, loaded) {
            (QModel::Simple(m), Loaded::Simple(learner, buffer)) => {
                m.learner.restore(learner);
                m.buffer = buffer;
            }
            (QModel::Recurrent(m), Loaded::Recurrent(learner, buffer)) => {
                m.learner.restore(learner);
                m.buffer = buffer;
            }
            // `loaded` was built from the same variant just above.
            _ => return Err(bad_blob("agent/online", "network type changed".to_string())),
        }
        self.rnd.restore(
            fixed,
            predictor,
            rnd_optim,
            rnd_flat,
            state.rnd_queue,
            state.rnd_updates,
        );
        self.epsilon = state.epsilon;
        self.intrinsic = state.intrinsic;
        self.curricula = state.curricula;
        self.action_rng = state.action_rng.restore();
        self.replay_rng = state.replay_rng.restore();
        self.total_steps = state.total_steps;
        self.updates = state.updates;
        Ok(())
    }

    /// Load only the online weights (for checkpoint-mode inference), plus ε and stage.
    /// A recurrent agent keeps acting through the same stateful path as in training.
    pub fn load_policy_from(&mut self, ckpt: &Checkpoint) -> Result<(), CheckpointError> {
        self.finish_update();
        match &mut self.model {
            QModel::Simple(m) => m.learner.load_policy_from(ckpt)?,
            QModel::Recurrent(m) => m.learner.load_policy_from(ckpt)?,
        }
        if let Ok(state) = ckpt.value::<AgentState>("agent/state") {
            self.epsilon = state.epsilon;
            self.curricula = state.curricula;
            self.intrinsic = state.intrinsic;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LstmConfig;
    use burn::prelude::Device;

    /// A record of a bigger LSTM (a recurrent checkpoint from before the net had 128
    /// units) gives one line naming the first misfit and how many more there are.
    #[test]
    fn a_record_of_another_size_names_the_first_misfit() {
        let d = Device::flex();
        let bytes = LstmConfig::new(6, 8, true)
            .init(&d)
            .into_record()
            .into_bytes()
            .expect("record");
        let record = ModuleRecord::from_bytes(bytes).expect("reads");
        let e = LstmConfig::new(6, 4, true)
            .init(&d)
            .try_load_record(record)
            .expect_err("a smaller net does not load it");
        let text = bad_blob("agent/online", first_of_many(&e.to_string())).to_string();
        assert!(
            text.starts_with("checkpoint blob 'agent/online' is unreadable: input_gate.input_transform.weight: shape mismatch"),
            "{text}"
        );
        assert!(text.ends_with("(and 15 more)"), "{text}");
        assert_eq!(first_of_many("plain"), "plain");
    }
}
