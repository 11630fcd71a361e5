//! `DemoRunner`: the episode loop of training.md §2 with recording (D5–D9), checkpoints
//! (§12, D13, D14, D30–D32) and the live-stream hook (the seed's Phase 4).

use crate::run_folder::{RunFolder, RunFolderError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use townlet_agent::checkpoint::{checkpoint_file_name, list_checkpoints};
use townlet_agent::{ActDecision, Checkpoint, CheckpointHeader, DqnAgent, StepFeedback};
use townlet_config::{CurriculumKind, DeviceKind, NetworkType, Pack};
use townlet_env::Env;
use townlet_recording::{
    AffordancePosition, CriteriaState, EndReason, EpisodeMetadata, EpisodeMetrics, EpisodeRecorder,
    LiveStreamCallback, RecordedStep, StartState,
};

/// Shared stop request (Ctrl+C, SIGTERM, a server shutting down). Checked every step.
pub type StopFlag = Arc<AtomicBool>;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("{0}")]
    Config(#[from] townlet_config::ConfigErrors),
    #[error("{0}")]
    Env(#[from] townlet_env::EnvError),
    #[error("{0}")]
    Agent(#[from] townlet_agent::AgentError),
    #[error("{0}")]
    Checkpoint(#[from] townlet_agent::CheckpointError),
    #[error("{0}")]
    Recording(#[from] townlet_recording::RecordingError),
    #[error("{0}")]
    RunFolder(#[from] RunFolderError),
    #[error(
        "the pack given with --pack differs from the run's config snapshot in: {keys}. Resume without --pack, or start a new run"
    )]
    ConfigMismatch { keys: String },
    #[error(
        "checkpoint {path} was made with a different config (hash {found}, this run {expected}); differing keys cannot be listed from a checkpoint alone"
    )]
    HashMismatch {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("training.max_episodes is not set in {pack}/training.yaml; pass --episodes N")]
    NoEpisodeCount { pack: String },
    #[error("{0}")]
    Other(String),
}

/// What a caller can choose (the CLI flags of D1/D24/D29, plus test hooks).
#[derive(Debug, Clone, Default)]
pub struct RunnerOptions {
    /// Pack folder. Optional when resuming (`run_dir` with a snapshot).
    pub pack_dir: Option<PathBuf>,
    /// `--run DIR`: created when absent, resumed when present.
    pub run_dir: Option<PathBuf>,
    /// `--runs-root` (default `./runs`).
    pub runs_root: Option<PathBuf>,
    pub episodes: Option<u64>,
    pub seed: Option<u64>,
    pub device: Option<DeviceKind>,
    pub network: Option<NetworkType>,
    /// Force `curriculum.kind: static` at this stage (learn-check L1-5).
    pub static_stage: Option<u8>,
    /// Override `curriculum.max_steps_per_episode` (tests, tiny demos).
    pub max_steps: Option<u32>,
    /// Raise the stop flag once this many env steps have been taken in this process
    /// (a deterministic stand-in for Ctrl+C in tests; not persisted).
    pub stop_after_steps: Option<u64>,
    /// Greedy evaluation (D42): after every `every` training episodes, play `episodes`
    /// episodes with ε = 0 (not trained on, recorded or streamed); their lengths come in
    /// the `EpisodeReport`. Not persisted.
    pub evaluation: Option<EvalOptions>,
}

/// See [`RunnerOptions::evaluation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalOptions {
    pub every: u64,
    pub episodes: u32,
}

/// The command-line overrides a run was created with, kept in `<run>/run_options.json` so
/// a resume without flags continues with the same seed, network, stage and length.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PersistedOverrides {
    episodes: Option<u64>,
    seed: Option<u64>,
    device: Option<DeviceKind>,
    network: Option<NetworkType>,
    static_stage: Option<u8>,
    max_steps: Option<u32>,
}

const RUN_OPTIONS_FILE: &str = "run_options.json";

impl PersistedOverrides {
    fn from_opts(o: &RunnerOptions) -> Self {
        Self {
            episodes: o.episodes,
            seed: o.seed,
            device: o.device,
            network: o.network,
            static_stage: o.static_stage,
            max_steps: o.max_steps,
        }
    }

    /// Stored values, with any flag given now taking precedence.
    fn merged(stored: Self, o: &RunnerOptions) -> RunnerOptions {
        let mut out = o.clone();
        out.episodes = o.episodes.or(stored.episodes);
        out.seed = o.seed.or(stored.seed);
        out.device = o.device.or(stored.device);
        out.network = o.network.or(stored.network);
        out.static_stage = o.static_stage.or(stored.static_stage);
        out.max_steps = o.max_steps.or(stored.max_steps);
        out
    }
}

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
    /// Thread CPU time spent on this episode's steps (ns), D40.
    pub cpu_ns: u64,
    pub wall_ns: u64,
    /// Lengths of the greedy evaluation episodes played after this one (D42), if due.
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

/// State the runner adds to every checkpoint (D14) next to the agent's blobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunnerState {
    next_episode: u64,
    layout: Vec<(String, [i32; 2])>,
    env_rng: townlet_env::RngState,
    reshuffled: bool,
    criteria: CriteriaState,
    seed: u64,
}

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
    /// DQN updates (sampling, forward/backward, clipping, Adam, target sync).
    pub learn_ns: u64,
    /// RND novelty + predictor training.
    pub rnd_ns: u64,
    /// End-of-episode bookkeeping: curriculum, annealing, checkpoints.
    pub episode_end_ns: u64,
    /// Everything in `run_episode` (the phases above plus loop overhead).
    pub total_ns: u64,
    /// The training thread's CPU time over the same span (thread CPU clock, D40).
    pub cpu_ns: u64,
    pub env_steps: u64,
    pub updates: u64,
}

fn elapsed_ns(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl DemoRunner {
    /// Resolve the run folder (new or resumed), load the pack, build env, agent and
    /// recorder, and restore the newest checkpoint when resuming.
    pub fn new(
        opts: &RunnerOptions,
        live_episode_callback: Option<LiveStreamCallback>,
        stop: StopFlag,
    ) -> Result<Self, RunnerError> {
        let resuming = opts.run_dir.as_deref().is_some_and(RunFolder::is_run);
        let (folder, mut pack) = if resuming {
            let dir = opts.run_dir.clone().unwrap_or_default();
            let folder = RunFolder::open(&dir)?;
            let snap = townlet_config::load_pack(&folder.snapshot_pack_dir()?)?;
            if let Some(p) = &opts.pack_dir {
                let given = townlet_config::load_pack(p)?;
                let diff = townlet_config::config_hash_diff(&snap, &given);
                if !diff.is_empty() {
                    return Err(RunnerError::ConfigMismatch {
                        keys: diff.join(", "),
                    });
                }
            }
            (folder, snap)
        } else {
            let pack_dir = opts
                .pack_dir
                .clone()
                .ok_or_else(|| RunnerError::Other("--pack is required for a new run".into()))?;
            let pack = townlet_config::load_pack(&pack_dir)?;
            let folder = match &opts.run_dir {
                Some(d) => RunFolder::create_at(d, &pack)?,
                None => {
                    let root = opts
                        .runs_root
                        .clone()
                        .unwrap_or_else(|| PathBuf::from("runs"));
                    RunFolder::new_under(&root, &pack)?
                }
            };
            (folder, pack)
        };
        let opts_file = folder.dir.join(RUN_OPTIONS_FILE);
        let effective = if resuming {
            let stored: PersistedOverrides = std::fs::read_to_string(&opts_file)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            PersistedOverrides::merged(stored, opts)
        } else {
            opts.clone()
        };
        let persisted = serde_json::to_string_pretty(&PersistedOverrides::from_opts(&effective))
            .map_err(|e| RunnerError::Other(e.to_string()))?;
        std::fs::write(&opts_file, persisted).map_err(|source| {
            RunnerError::RunFolder(RunFolderError::Io {
                path: opts_file.clone(),
                source,
            })
        })?;
        apply_overrides(&mut pack, &effective);
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

    fn resume(&mut self) -> Result<(), RunnerError> {
        let Some((_, path)) = list_checkpoints(&self.folder.checkpoints_dir()).pop() else {
            tracing::info!("run folder has no checkpoint yet; starting at episode 0");
            return Ok(());
        };
        let ckpt = Checkpoint::read(&path)?;
        self.agent.check_compatible(&ckpt.header, &self.pack.name)?;
        if ckpt.header.config_hash != self.config_hash {
            return Err(RunnerError::HashMismatch {
                path,
                found: ckpt.header.config_hash.clone(),
                expected: self.config_hash.clone(),
            });
        }
        self.agent.load_from(&ckpt)?;
        let state: RunnerState = ckpt.value("runner/state")?;
        self.env.set_layout(&state.layout)?;
        self.env.set_rng_state(&state.env_rng);
        self.recorder.restore_criteria_state(state.criteria);
        self.reshuffled = state.reshuffled;
        self.next_episode = state.next_episode;
        self.seed = state.seed;
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

    /// Run episodes until `max_episodes` or a stop request, then write the final
    /// checkpoint and drain the recorder. `on_episode` sees each finished episode.
    pub fn run(
        &mut self,
        on_episode: &mut dyn FnMut(&EpisodeReport),
    ) -> Result<RunSummary, RunnerError> {
        let start_episode = self.next_episode;
        let mut interrupted = false;
        let mut saved_at: Option<u64> = None;
        while self.next_episode < self.max_episodes {
            if self.stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            let e = self.next_episode;
            let mut report = self.run_episode(e)?;
            let was_interrupted = report.end_reason == EndReason::Interrupted;
            if let Some(ev) = self.evaluation
                && !was_interrupted
                && (e + 1).is_multiple_of(ev.every.max(1))
            {
                report.evaluation = Some(self.evaluate(ev.episodes)?);
            }
            on_episode(&report);
            self.next_episode = e + 1;
            let last = self.next_episode >= self.max_episodes;
            if was_interrupted
                || last
                || e.is_multiple_of(self.pack.training.checkpoint_interval.max(1))
            {
                self.save_checkpoint(e)?;
                saved_at = Some(e);
            }
            if was_interrupted {
                interrupted = true;
                break;
            }
        }
        // A stop between episodes: make sure the newest state is on disk.
        if self.next_episode > start_episode && saved_at != Some(self.next_episode - 1) {
            self.save_checkpoint(self.next_episode - 1)?;
        }
        let status = if interrupted { "stopped" } else { "finished" };
        self.recorder.set_run_state("status", status)?;
        self.recorder.flush()?;
        Ok(RunSummary {
            run_dir: self.folder.dir.clone(),
            episodes_run: self.next_episode - start_episode,
            next_episode: self.next_episode,
            interrupted,
            last_checkpoint: self.last_checkpoint.clone(),
        })
    }

    /// Drain queued recordings and close the database (call once, at the end).
    pub fn shutdown(&mut self) -> Result<townlet_recording::RecorderCounters, RunnerError> {
        Ok(self.recorder.shutdown()?)
    }

    fn run_episode(&mut self, e: u64) -> Result<EpisodeReport, RunnerError> {
        let t_wall = Instant::now();
        let t_cpu = crate::threads::thread_cpu_time_ns();
        if self.pack.training.reshuffle_layout_at_episode == Some(e) && !self.reshuffled {
            self.env.randomize_layout();
            self.reshuffled = true;
        }
        // Values in force during the episode (D8), captured before end-of-episode updates.
        let stage = self.agent.stage();
        let multiplier = self.agent.multiplier();
        let epsilon = self.agent.epsilon();
        let weight = self.agent.intrinsic_weight();
        let n = self.env.num_agents();
        let a_dim = self.env.action_dim();
        let d = self.env.obs_dim();
        let temporal = self.env.temporal();
        let max_steps = self.pack.curriculum.max_steps_per_episode;

        self.env.reset();
        self.agent.begin_episode();
        let layout: Vec<AffordancePosition> = self
            .env
            .layout()
            .into_iter()
            .map(|(name, [x, y])| AffordancePosition { name, x, y })
            .collect();
        let p0 = self.env.positions()[0];
        self.recorder.begin_episode(
            e,
            layout,
            StartState {
                position: (p0[0], p0[1]),
                meters: self.env.meters(0).to_vec(),
                time_of_day: temporal.then_some(self.env.time_of_day() as u8),
            },
        );

        let mut obs = vec![0.0f32; n * d];
        let mut masks = vec![false; n * a_dim];
        let mut actions = vec![0u32; n];
        let mut active = vec![true; n];
        let mut terminal = vec![false; n];
        let mut lengths = vec![0u32; n];
        let mut end_reason0: Option<EndReason> = None;
        let mut ext_total = 0.0f32;
        let mut int_total = 0.0f32;
        let mut interactions: Vec<String> = Vec::new();
        let mut visits: std::collections::BTreeMap<String, u32> = Default::default();
        let mut decisions: Vec<ActDecision>;
        let mut steps_taken = 0u32;
        let names = self.env.affordance_names().to_vec();

        while steps_taken < max_steps {
            if self
                .stop_after_steps
                .is_some_and(|k| self.steps_this_process >= k)
            {
                self.stop.store(true, Ordering::Relaxed);
            }
            if self.stop.load(Ordering::Relaxed) {
                end_reason0 = Some(EndReason::Interrupted);
                break;
            }
            let t_obs = Instant::now();
            obs.copy_from_slice(self.env.observations());
            masks.copy_from_slice(self.env.action_masks());
            let mut env_ns = elapsed_ns(t_obs);
            decisions = self.agent.act(&obs, &masks);
            for (i, dec) in decisions.iter().enumerate() {
                actions[i] = if active[i] { dec.action } else { 0 };
            }
            let t_env = Instant::now();
            let res = self.env.step(&actions, multiplier)?;
            env_ns += elapsed_ns(t_env);
            self.phase.env_ns += env_ns;
            steps_taken += 1;
            self.steps_this_process += 1;
            for i in 0..n {
                terminal[i] = active[i] && res.dones[i];
            }
            let rewards = res.rewards.clone();
            let dones = res.dones.clone();
            let reason0 = res.end_reasons[0];
            let inter0 = res.successful_interactions[0];
            self.agent.observe(
                StepFeedback {
                    obs: &obs,
                    next_obs: self.env.observations(),
                    rewards: &rewards,
                    terminal: &terminal,
                    active: &active,
                },
                &decisions,
            );
            // Agent 0 is the one recorded and streamed.
            if active[0] {
                let dec = &decisions[0];
                ext_total += rewards[0];
                int_total += (weight as f32) * dec.novelty;
                if let Some(k) = inter0 {
                    let name = names[k].clone();
                    *visits.entry(name.clone()).or_insert(0) += 1;
                    interactions.push(name);
                }
                let t_rec = Instant::now();
                let pos = self.env.positions()[0];
                let progress = if temporal {
                    self.env
                        .current_interaction(0)
                        .map(|p| p.ticks_done as f32 / p.required_ticks.max(1) as f32)
                        .or(Some(0.0))
                } else {
                    None
                };
                self.recorder.record_step(RecordedStep {
                    step: steps_taken,
                    position: (pos[0], pos[1]),
                    meters: self.env.meters(0).to_vec(),
                    action: dec.action as u8,
                    reward: rewards[0],
                    intrinsic_reward: dec.novelty,
                    done: dones[0],
                    q_values: Some(dec.q_values.clone()),
                    epsilon: Some(epsilon as f32),
                    action_mask: Some(masks[..a_dim].to_vec()),
                    explored: dec.explored,
                    time_of_day: temporal.then_some(self.env.time_of_day() as u8),
                    interaction_progress: progress,
                })?;
                self.phase.record_ns += elapsed_ns(t_rec);
            }
            for i in 0..n {
                if active[i] {
                    lengths[i] = steps_taken;
                    if dones[i] {
                        active[i] = false;
                        if i == 0 {
                            end_reason0 = Some(match reason0 {
                                Some(townlet_env::EndReason::Retired) => EndReason::Retired,
                                _ => EndReason::Died,
                            });
                        }
                    }
                }
            }
            if active.iter().all(|a| !a) {
                break;
            }
        }
        let end_reason = end_reason0.unwrap_or(EndReason::Truncated);
        let interrupted = end_reason == EndReason::Interrupted;
        let t_end = Instant::now();
        let end = self.agent.end_episode(e, &lengths, interrupted);
        self.phase.episode_end_ns += elapsed_ns(t_end);
        let loss = self.agent.take_loss_summary();
        let metadata = EpisodeMetadata {
            survival_steps: lengths[0],
            total_reward: ext_total + int_total,
            extrinsic_reward: ext_total,
            intrinsic_reward: int_total,
            curriculum_stage: u32::from(stage),
            depletion_multiplier: multiplier,
            epsilon: epsilon as f32,
            intrinsic_weight: weight as f32,
            affordance_visits: visits,
            end_reason,
            timestamp: now_ms() as f64 / 1000.0,
            loss_mean: loss.loss_mean,
            td_error_mean: loss.td_error_mean,
            q_mean: loss.q_mean,
            updates: loss.updates,
        };
        let t_rec = Instant::now();
        self.recorder
            .finish_episode(metadata, EpisodeMetrics::from_interactions(interactions))?;
        self.phase.record_ns += elapsed_ns(t_rec);
        self.phase.env_steps += u64::from(steps_taken);
        self.phase.total_ns += elapsed_ns(t_wall);
        self.phase.cpu_ns += crate::threads::thread_cpu_time_ns().saturating_sub(t_cpu);
        let stage_changed_to = end.transitions.iter().find(|t| t.agent == 0).map(|t| t.to);
        if let Some(t) = end.transitions.iter().find(|t| t.agent == 0) {
            tracing::info!(
                "curriculum: episode {} stage {} → {} ({:?}, survival {:.2})",
                e,
                t.from,
                t.to,
                t.reason,
                t.survival_mean
            );
        }
        Ok(EpisodeReport {
            episode: e,
            length: lengths[0],
            end_reason,
            extrinsic_reward: ext_total,
            intrinsic_reward: int_total,
            stage,
            multiplier,
            epsilon,
            intrinsic_weight: weight,
            total_steps: self.agent.total_steps(),
            loss_mean: loss.loss_mean,
            stage_changed_to,
            cpu_ns: crate::threads::thread_cpu_time_ns().saturating_sub(t_cpu),
            wall_ns: t_wall.elapsed().as_nanos() as u64,
            evaluation: None,
        })
    }

    /// Greedy evaluation (D42): `episodes` episodes of one agent with ε = 0 in a copy of
    /// the training world (same layout, same stage), not trained on, recorded or
    /// streamed. Training continues afterwards exactly as it would have without it.
    pub fn evaluate(&mut self, episodes: u32) -> Result<Vec<u32>, RunnerError> {
        let mut env = Env::new(&self.pack, 1, self.seed ^ 0xe7a1_u64)?;
        env.set_layout(&self.env.layout())?;
        let multiplier = self.agent.multiplier();
        let cap = self.pack.curriculum.max_steps_per_episode;
        self.agent.isolated(|agent| {
            let mut lengths = Vec::with_capacity(episodes as usize);
            for _ in 0..episodes {
                env.reset();
                agent.reset_hidden();
                let mut t = 0;
                while t < cap {
                    let obs = env.observations().to_vec();
                    let masks = env.action_masks().to_vec();
                    let decision = agent.act_with(&obs, &masks, 0.0, false);
                    let action = decision.first().map_or(0, |d| d.action);
                    t += 1;
                    if env.step(&[action], multiplier)?.dones[0] {
                        break;
                    }
                }
                lengths.push(t);
            }
            Ok(lengths)
        })
    }

    /// Cumulative time per phase in this process (see [`PhaseTimes`]).
    pub fn phase_times(&self) -> PhaseTimes {
        let a = self.agent.phase_times();
        PhaseTimes {
            act_ns: a.act_ns,
            store_ns: a.store_ns,
            learn_ns: a.learn_ns,
            rnd_ns: a.rnd_ns,
            updates: a.updates,
            ..self.phase
        }
    }

    /// Write `checkpoint_ep{e}.ckpt` atomically, prune old ones, note it in run state.
    fn save_checkpoint(&mut self, e: u64) -> Result<(), RunnerError> {
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
            "runner/state",
            &RunnerState {
                next_episode: e + 1,
                layout: self.env.layout(),
                env_rng: self.env.rng_state(),
                reshuffled: self.reshuffled,
                criteria: self.recorder.criteria_state(),
                seed: self.seed,
            },
        )?;
        let path = self.folder.checkpoints_dir().join(checkpoint_file_name(e));
        let bytes = ckpt.write(&path)?;
        tracing::debug!("checkpoint {} ({bytes} bytes)", path.display());
        let keep = self.pack.training.keep_checkpoints;
        if keep > 0 {
            let all = list_checkpoints(&self.folder.checkpoints_dir());
            if all.len() > keep {
                for (_, old) in &all[..all.len() - keep] {
                    if old != &path {
                        let _ = std::fs::remove_file(old);
                    }
                }
            }
        }
        self.recorder
            .set_run_state("last_checkpoint", &path.display().to_string())?;
        self.last_checkpoint = Some(path);
        Ok(())
    }
}

/// Command-line overrides on top of the pack (D24, D30: none of these but network/static
/// stage/max steps enter the config hash).
pub fn apply_overrides(pack: &mut Pack, opts: &RunnerOptions) {
    if let Some(n) = opts.episodes {
        pack.training.max_episodes = Some(n);
    }
    if let Some(s) = opts.seed {
        pack.training.seed = s;
    }
    if let Some(d) = opts.device {
        pack.training.device = d;
    }
    if let Some(n) = opts.network {
        pack.population.network_type = n;
    }
    if let Some(s) = opts.static_stage {
        pack.curriculum.kind = CurriculumKind::Static;
        pack.curriculum.static_stage = s.clamp(1, 5);
    }
    if let Some(m) = opts.max_steps {
        pack.curriculum.max_steps_per_episode = m.max(1);
    }
}
