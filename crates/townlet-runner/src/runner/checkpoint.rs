//! Checkpoints of a run: the newest one restored on resume, one written after every
//! `checkpoint_interval` episodes and at the end, the oldest pruned beyond
//! `keep_checkpoints`.

use super::metrics::{elapsed_ns, now_ms};
use super::{DemoRunner, ResumeError, RunnerError};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;
use townlet_agent::checkpoint::{checkpoint_file_name, list_checkpoints};
use townlet_agent::{Checkpoint, CheckpointError, CheckpointHeader, TrainingOverrides};
use townlet_recording::CriteriaState;

/// State the runner adds to every checkpoint (docs/decisions.md#checkpoint-container) next
/// to the agent's blobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunnerState {
    next_episode: u64,
    layout: Vec<(String, [i32; 2])>,
    env_rng: townlet_env::RngState,
    reshuffled: bool,
    criteria: CriteriaState,
    seed: u64,
}

const RUNNER_STATE: &str = "runner/state";
/// The teacher's overrides in force (docs/decisions.md#training-events); absent in
/// checkpoints written before training controls existed (none in force then).
const RUNNER_OVERRIDES: &str = "runner/overrides";

impl DemoRunner {
    /// Continue from the newest checkpoint of the run folder, if there is one.
    pub(super) fn resume(&mut self) -> Result<(), RunnerError> {
        let Some((_, path)) = list_checkpoints(&self.folder.checkpoints_dir()).pop() else {
            tracing::info!("run folder has no checkpoint yet; starting at episode 0");
            return Ok(());
        };
        self.restore(&path).map_err(|source| RunnerError::Resume {
            run: self.folder.dir.clone(),
            source,
        })?;
        tracing::info!(
            "resumed {} at episode {} (ε {:.3}, stage {})",
            path.display(),
            self.next_episode,
            self.agent.epsilon(),
            self.agent.stage()
        );
        self.last_checkpoint = Some(path.clone());
        self.resumed_from = Some(path);
        Ok(())
    }

    /// Load agent, env and recorder state from `path`, refusing a checkpoint of another
    /// pack or config.
    fn restore(&mut self, path: &Path) -> Result<(), ResumeError> {
        let ckpt = Checkpoint::read(path)?;
        if ckpt.header.pack_name != self.pack.name {
            return Err(ResumeError::ForeignPack {
                path: path.to_path_buf(),
                found: ckpt.header.pack_name.clone(),
                expected: self.pack.name.clone(),
            });
        }
        self.agent.check_compatible(&ckpt.header, &self.pack.name)?;
        if ckpt.header.config_hash != self.config_hash {
            return Err(ResumeError::ConfigHash {
                path: path.to_path_buf(),
                found: ckpt.header.config_hash.clone(),
                expected: self.config_hash.clone(),
            });
        }
        self.agent.load_from(&ckpt)?;
        let state: RunnerState = ckpt.value(RUNNER_STATE)?;
        match ckpt.value::<TrainingOverrides>(RUNNER_OVERRIDES) {
            Ok(o) => self.agent.apply_overrides(&o),
            Err(CheckpointError::MissingBlob(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.env.set_layout(&state.layout)?;
        self.env.set_rng_state(&state.env_rng);
        self.recorder.restore_criteria_state(state.criteria);
        self.reshuffled = state.reshuffled;
        self.next_episode = state.next_episode;
        self.seed = state.seed;
        Ok(())
    }

    /// Write `checkpoint_ep{e}.ckpt` atomically, prune old ones, note it in run state.
    pub(super) fn save_checkpoint(&mut self, e: u64) -> Result<(), RunnerError> {
        let t_save = Instant::now();
        let r = self.save_checkpoint_inner(e);
        let ns = elapsed_ns(t_save);
        self.phase.episode_end_ns += ns;
        self.phase.total_ns += ns;
        r
    }

    fn save_checkpoint_inner(&mut self, e: u64) -> Result<(), RunnerError> {
        let header = CheckpointHeader {
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at_ms: now_ms(),
            config_hash: self.config_hash.clone(),
            pack_name: self.pack.name.clone(),
            network_type: "simple".to_string(),
            obs_dim: self.env.obs_dim(),
            action_dim: self.env.action_dim(),
            backend: self.agent.device_name().to_string(),
            episode: e,
            next_episode: e + 1,
            total_steps: self.agent.total_steps(),
            stage: self.agent.stage(),
            epsilon: self.agent.epsilon(),
            intrinsic_weight: self.agent.intrinsic_weight(),
            seed: self.seed,
        };
        let mut ckpt = Checkpoint::new(header);
        self.agent.save_into(&mut ckpt)?;
        ckpt.put_value(
            RUNNER_STATE,
            &RunnerState {
                next_episode: e + 1,
                layout: self.env.layout(),
                env_rng: self.env.rng_state(),
                reshuffled: self.reshuffled,
                criteria: self.recorder.criteria_state(),
                seed: self.seed,
            },
        )?;
        ckpt.put_value(RUNNER_OVERRIDES, self.agent.overrides())?;
        let path = self.folder.checkpoints_dir().join(checkpoint_file_name(e));
        let bytes = ckpt.write(&path)?;
        tracing::debug!("checkpoint {} ({bytes} bytes)", path.display());
        self.prune_checkpoints(&path);
        self.recorder
            .set_run_state("last_checkpoint", &path.display().to_string())?;
        self.last_checkpoint = Some(path);
        Ok(())
    }

    /// Keep the newest `training.keep_checkpoints` (0 = all); `just_written` always stays.
    fn prune_checkpoints(&self, just_written: &Path) {
        let keep = self.pack.training.keep_checkpoints;
        if keep == 0 {
            return;
        }
        let all = list_checkpoints(&self.folder.checkpoints_dir());
        if all.len() > keep {
            for (_, old) in &all[..all.len() - keep] {
                if old.as_path() != just_written {
                    let _ = std::fs::remove_file(old);
                }
            }
        }
    }
}
