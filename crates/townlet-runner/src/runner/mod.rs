//! `DemoRunner`: the training loop (env + agent + recorder) over a run folder.
//!
//! * [`options`]: what a caller chooses and how it meets the run folder (new or resumed);
//! * [`episode`]: the episode loop (begin, step, finish) and greedy evaluations;
//! * [`checkpoint`]: resume from the newest checkpoint, save, keep the newest N;
//! * [`metrics`]: per-episode reports, the run summary and phase times;
//! * [`error`]: what can go wrong.

mod checkpoint;
mod control;
mod episode;
mod error;
mod metrics;
mod options;
mod snapshot;

pub use control::{Control, ControlRequest, EventSink, control_channel};
pub use error::{ResumeError, RunnerError};
pub use metrics::{EpisodeReport, PhaseTimes, RunSummary};
pub use options::{EvalOptions, RunnerOptions, apply_overrides};
pub use snapshot::SnapshotCallback;

use crate::run_folder::RunFolder;
use metrics::now_ms;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use townlet_agent::DqnAgent;
use townlet_config::Pack;
use townlet_env::Env;
use townlet_recording::{EpisodeRecorder, LiveStreamCallback};

/// Shared stop request (Ctrl+C, SIGTERM, a server shutting down). Checked every step.
pub type StopFlag = Arc<AtomicBool>;

pub struct DemoRunner {
    pack: Pack,
    env: Env,
    agent: DqnAgent,
    recorder: EpisodeRecorder,
    folder: RunFolder,
    stop: StopFlag,
    next_episode: u64,
    max_episodes: u64,
    seed: u64,
    config_hash: String,
    reshuffled: bool,
    last_checkpoint: Option<PathBuf>,
    resumed_from: Option<PathBuf>,
    stop_after_steps: Option<u64>,
    steps_this_process: u64,
    phase: PhaseTimes,
    evaluation: Option<EvalOptions>,
    on_snapshot: Option<SnapshotCallback>,
    /// A teacher's control channel, when one is plugged in (`set_controls`).
    controls: Option<control::Controls>,
}

impl DemoRunner {
    /// Resolve the run folder (new or resumed), load the pack, build env, agent and
    /// recorder, and restore the newest checkpoint when resuming.
    pub fn new(
        opts: &RunnerOptions,
        live_episode_callback: Option<LiveStreamCallback>,
        stop: StopFlag,
    ) -> Result<Self, RunnerError> {
        let options::Resolved {
            folder,
            pack,
            resuming,
        } = options::resolve(opts)?;
        let mut runner = Self::build(pack, folder, live_episode_callback, stop, resuming)?;
        runner.stop_after_steps = opts.stop_after_steps;
        runner.evaluation = opts.evaluation;
        Ok(runner)
    }

    fn build(
        pack: Pack,
        folder: RunFolder,
        live_episode_callback: Option<LiveStreamCallback>,
        stop: StopFlag,
        resuming: bool,
    ) -> Result<Self, RunnerError> {
        for w in &pack.warnings {
            tracing::warn!("{w}");
        }
        let max_episodes =
            pack.training
                .max_episodes
                .ok_or_else(|| RunnerError::NoEpisodeCount {
                    pack: pack.name.clone(),
                })?;
        let seed = pack.training.seed;
        let env = Env::new(&pack, pack.population.num_agents.max(1), seed)?;
        let agent = DqnAgent::new(
            &pack,
            env.obs_dim(),
            env.action_dim(),
            pack.training.device,
            seed,
        )?;
        let recorder = EpisodeRecorder::new(
            &pack.recording,
            folder.recordings_dir(&pack),
            Some(folder.db_path()),
            live_episode_callback,
        )?;
        let removed = folder.clean_temp_files();
        if removed > 0 {
            tracing::info!("removed {removed} leftover temporary checkpoint file(s)");
        }
        let config_hash = townlet_config::config_hash_hex(&pack);
        let mut runner = Self {
            pack,
            env,
            agent,
            recorder,
            folder,
            stop,
            next_episode: 0,
            max_episodes,
            seed,
            config_hash,
            reshuffled: false,
            last_checkpoint: None,
            resumed_from: None,
            stop_after_steps: None,
            steps_this_process: 0,
            phase: PhaseTimes::default(),
            evaluation: None,
            on_snapshot: None,
            controls: None,
        };
        if resuming {
            runner.resume()?;
        }
        runner.recorder.set_run_state("status", "running")?;
        runner
            .recorder
            .set_run_state("config_hash", &runner.config_hash)?;
        runner.recorder.set_run_state("pack", &runner.pack.name)?;
        if !resuming {
            runner
                .recorder
                .set_run_state("start_time_ms", &now_ms().to_string())?;
        }
        Ok(runner)
    }

    pub fn pack(&self) -> &Pack {
        &self.pack
    }
    pub fn env(&self) -> &Env {
        &self.env
    }
    pub fn agent(&self) -> &DqnAgent {
        &self.agent
    }
    pub fn run_dir(&self) -> &Path {
        &self.folder.dir
    }
    pub fn folder(&self) -> &RunFolder {
        &self.folder
    }
    pub fn next_episode(&self) -> u64 {
        self.next_episode
    }
    pub fn max_episodes(&self) -> u64 {
        self.max_episodes
    }
    pub fn resumed_from(&self) -> Option<&Path> {
        self.resumed_from.as_deref()
    }
    pub fn recorder_counters(&self) -> townlet_recording::RecorderCounters {
        self.recorder.counters()
    }
    pub fn recorder_counters_handle(&self) -> townlet_recording::CountersHandle {
        self.recorder.counters_handle()
    }

    /// Drain queued recordings and close the database (call once, at the end).
    pub fn shutdown(&mut self) -> Result<townlet_recording::RecorderCounters, RunnerError> {
        Ok(self.recorder.shutdown()?)
    }
}
