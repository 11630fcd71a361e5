//! Checkpoint mode (docs/decisions.md#checkpoint-mode): a `notify` watcher on the
//! checkpoint folder reacts to checkpoints renamed into place; a dedicated OS thread loads
//! the newest one and plays episodes with it when viewers ask. burn never runs on the
//! async runtime's threads.

use crate::error::ServerError;
use crate::hub::{Entry, Generate, Hub};
use crate::queue::Kind;
use notify::{RecursiveMode, Watcher};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;
use townlet_agent::checkpoint::{list_checkpoints, parse_checkpoint_file_name};
use townlet_agent::{Checkpoint, CheckpointHeader, DqnAgent, stage_multiplier};
use townlet_config::{DeviceKind, Pack};
use townlet_env::Env;
use townlet_protocol::{self as proto, ErrorCode, ProtocolError, Source, to_json, unix_ms_now};
use townlet_recording::{
    AffordancePosition, EndReason, EpisodeMetadata, LiveEpisode, RecordedStep, StartState,
    StepColumns,
};

/// Where checkpoint mode gets its model and world.
#[derive(Debug, Clone)]
pub struct CheckpointSource {
    /// The run's `checkpoints/` folder (watched).
    pub dir: PathBuf,
    /// The pack the run trained on (its `config_snapshot`).
    pub pack: Pack,
    /// `--greedy`: every viewer starts with ε = 0 (a viewer can still `set_policy`).
    pub greedy: bool,
}

enum Cmd {
    Rescan,
    Generate,
    Stop,
}

struct Requests {
    tx: flume::Sender<Cmd>,
    greedy: AtomicBool,
    epsilon: AtomicBool,
}

impl Generate for Arc<Requests> {
    fn request(&self, greedy: bool) {
        let flag = if greedy { &self.greedy } else { &self.epsilon };
        // One queued request per policy: viewers asking at once share the generation.
        if !flag.swap(true, Ordering::AcqRel) {
            let _ = self.tx.send(Cmd::Generate);
        }
    }
}

/// Running checkpoint mode: the watcher and the model thread. Stopped by `stop`.
pub(crate) struct CheckpointWorker {
    tx: flume::Sender<Cmd>,
    thread: Option<std::thread::JoinHandle<()>>,
    _watcher: notify::RecommendedWatcher,
}

impl CheckpointWorker {
    pub(crate) fn stop(mut self) {
        let _ = self.tx.send(Cmd::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts watching `source.dir` and the model thread (which loads the newest good
/// checkpoint at once).
pub(crate) fn start(
    hub: Arc<Hub>,
    source: CheckpointSource,
) -> Result<CheckpointWorker, ServerError> {
    if !source.dir.is_dir() {
        return Err(ServerError::NoCheckpointDir(source.dir));
    }
    let (tx, rx) = flume::unbounded();
    let requests = Arc::new(Requests {
        tx: tx.clone(),
        greedy: AtomicBool::new(false),
        epsilon: AtomicBool::new(false),
    });
    let watch_tx = tx.clone();
    // Checkpoints are written as `<name>.tmp` and renamed: any event naming a
    // complete checkpoint file means "look again"; `.tmp` names never parse.
    let mut watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(event) => {
                let complete = event.paths.iter().any(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .and_then(parse_checkpoint_file_name)
                        .is_some()
                });
                if complete && !event.kind.is_access() {
                    let _ = watch_tx.send(Cmd::Rescan);
                }
            }
            Err(e) => tracing::warn!("checkpoint watcher: {}", crate::error::chain(&e)),
        })?;
    watcher.watch(&source.dir, RecursiveMode::NonRecursive)?;
    let env = Env::new(&source.pack, 1, source.pack.training.seed)?;
    let mut model = ModelThread {
        hub: Arc::clone(&hub),
        default_greedy: source.greedy,
        pack: source.pack,
        dir: source.dir,
        env,
        agent: None,
        model: None,
        failed: HashSet::new(),
        counter: 0,
        requests: Arc::clone(&requests),
    };
    let _ = hub.generator.set(Box::new(requests));
    let thread = std::thread::Builder::new()
        .name("townlet-checkpoint".into())
        .spawn(move || {
            model.initial_load();
            while let Ok(cmd) = rx.recv() {
                match cmd {
                    Cmd::Stop => break,
                    Cmd::Rescan => model.rescan(),
                    Cmd::Generate => model.serve_requests(),
                }
            }
        })
        .map_err(|e| ServerError::Io {
            path: PathBuf::from("townlet-checkpoint thread"),
            source: e,
        })?;
    Ok(CheckpointWorker {
        tx,
        thread: Some(thread),
        _watcher: watcher,
    })
}

struct Model {
    header: CheckpointHeader,
    path: PathBuf,
    layout: Vec<(String, [i32; 2])>,
}

struct ModelThread {
    hub: Arc<Hub>,
    default_greedy: bool,
    pack: Pack,
    dir: PathBuf,
    /// Reads the layout and dims; episodes get their own env.
    env: Env,
    /// Built on the first load and reused (a load only replaces its weights, ε, stage).
    agent: Option<DqnAgent>,
    model: Option<Model>,
    /// Files that failed to load (with their mtime), so a rescan does not retry them.
    failed: HashSet<(PathBuf, Option<SystemTime>)>,
    /// The inference counter: `episode_id` of generated episodes.
    counter: u64,
    requests: Arc<Requests>,
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// splitmix64: a well-spread seed per episode from the run seed and the counter.
fn mix(seed: u64, counter: u64) -> u64 {
    let mut z = seed ^ counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl ModelThread {
    fn initial_load(&mut self) {
        // Newest first; an unreadable newest file falls back to the one before it.
        for (_, path) in list_checkpoints(&self.dir).into_iter().rev() {
            match self.load(&path) {
                Ok(()) => return,
                Err(e) => tracing::warn!("{e}; trying an older checkpoint"),
            }
        }
        tracing::info!(
            "no loadable checkpoint in {} yet; waiting for one",
            self.dir.display()
        );
    }

    fn rescan(&mut self) {
        let Some((episode, path)) = list_checkpoints(&self.dir).pop() else {
            return;
        };
        if let Some(m) = &self.model
            && (m.path == path || m.header.episode >= episode)
        {
            return;
        }
        if self.failed.contains(&(path.clone(), mtime(&path))) {
            return;
        }
        if let Err(e) = self.load(&path) {
            tracing::warn!("{e}; keeping the last good model");
            self.hub
                .counters
                .checkpoint_errors
                .fetch_add(1, Ordering::Relaxed);
            let kept = match &self.model {
                Some(m) => format!("; still playing checkpoint episode {}", m.header.episode),
                None => String::new(),
            };
            let err = ProtocolError::new(ErrorCode::CheckpointError, format!("{e}{kept}"));
            self.hub
                .broadcast(&Arc::from(to_json(&err.to_server_message())), Kind::Other);
        }
    }

    fn load(&mut self, path: &Path) -> Result<(), String> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let failed = |this: &mut Self, e: String| {
            this.failed.insert((path.to_path_buf(), mtime(path)));
            Err(format!("checkpoint {name} could not be loaded: {e}"))
        };
        let ckpt = match Checkpoint::read(path) {
            Ok(c) => c,
            Err(e) => return failed(self, crate::error::chain(&e)),
        };
        let agent = match load_policy(&mut self.agent, &self.pack, &self.env, &ckpt) {
            Ok(a) => a,
            Err(e) => return failed(self, e),
        };
        let header = ckpt.header;
        self.hub
            .common
            .probes
            .offer(self.hub.id(), agent.snapshot(header.episode));
        // The layout the run trained on: the env seeded with the run seed.
        let layout = Env::new(&self.pack, 1, header.seed)
            .map(|e| e.layout())
            .unwrap_or_else(|_| self.env.layout());
        tracing::info!(
            "loaded {name} (training episode {}, stage {}, ε {:.3})",
            header.episode,
            header.stage,
            header.epsilon
        );
        self.hub.set_model(proto::ModelLoaded {
            run_id: self.hub.id().to_owned(),
            checkpoint: name,
            checkpoint_episode: header.episode,
            epsilon: header.epsilon as f32,
            curriculum_stage: u32::from(header.stage),
            depletion_multiplier: stage_multiplier(header.stage),
            loaded_at: unix_ms_now(),
        });
        self.model = Some(Model {
            header,
            path: path.to_path_buf(),
            layout,
        });
        // Viewers see the new model at once (and late joiners have an episode).
        self.generate(self.default_greedy);
        Ok(())
    }

    fn serve_requests(&mut self) {
        if self.requests.greedy.swap(false, Ordering::AcqRel) {
            self.generate(true);
        }
        if self.requests.epsilon.swap(false, Ordering::AcqRel) {
            self.generate(false);
        }
    }

    fn generate(&mut self, greedy: bool) {
        let (Some(model), Some(agent)) = (self.model.as_ref(), self.agent.as_mut()) else {
            return;
        };
        let id = self.counter;
        self.counter += 1;
        match play(&self.pack, model, agent, id, greedy) {
            Ok(ep) => self.hub.ingest(Entry::new(
                Arc::new(ep),
                Source::Checkpoint,
                Some(model.header.episode),
                greedy,
            )),
            Err(e) => tracing::warn!("generating an episode failed: {e}"),
        }
    }
}

/// Plays one episode with the model: ε from the checkpoint (0 when greedy), the stage's
/// multiplier, intrinsic reward 0 (docs/decisions.md#checkpoint-mode).
fn play(
    pack: &Pack,
    model: &Model,
    agent: &mut DqnAgent,
    id: u64,
    greedy: bool,
) -> Result<LiveEpisode, String> {
    let h = &model.header;
    let epsilon = if greedy { 0.0 } else { h.epsilon };
    let multiplier = stage_multiplier(h.stage);
    let mut env = Env::new(pack, 1, mix(h.seed, id)).map_err(|e| e.to_string())?;
    env.set_layout(&model.layout).map_err(|e| e.to_string())?;
    env.reset();
    let temporal = env.temporal();
    let a_dim = env.action_dim();
    let started = unix_ms_now();
    let p0 = env.positions()[0];
    let start = StartState {
        position: (p0[0], p0[1]),
        meters: env.meters(0).to_vec(),
        time_of_day: temporal.then_some(env.time_of_day() as u8),
    };
    let layout = env
        .layout()
        .into_iter()
        .map(|(name, [x, y])| AffordancePosition { name, x, y })
        .collect();
    let max_steps = pack.curriculum.max_steps_per_episode;
    let mut steps = StepColumns::with_capacity(env.num_meters(), a_dim, max_steps as usize);
    let names = env.affordance_names().to_vec();
    let mut visits: BTreeMap<String, u32> = BTreeMap::new();
    let mut reward_total = 0.0f32;
    let mut end_reason = EndReason::Truncated;
    let mut n = 0u32;
    while n < max_steps {
        let obs = env.observations().to_vec();
        let mask = env.action_masks().to_vec();
        let decision = agent
            .act_with(&obs, &mask, epsilon, false)
            .into_iter()
            .next()
            .ok_or("the model returned no action")?;
        let res = env
            .step(&[decision.action], multiplier)
            .map_err(|e| e.to_string())?;
        n += 1;
        let reward = res.rewards[0];
        let done = res.dones[0];
        let reason = res.end_reasons[0];
        if let Some(k) = res.successful_interactions[0]
            && let Some(name) = names.get(k)
        {
            *visits.entry(name.clone()).or_insert(0) += 1;
        }
        reward_total += reward;
        let pos = env.positions()[0];
        let progress = temporal.then(|| {
            env.current_interaction(0).map_or(0.0, |p| {
                p.ticks_done as f32 / p.required_ticks.max(1) as f32
            })
        });
        steps
            .push(&RecordedStep {
                step: n,
                position: (pos[0], pos[1]),
                meters: env.meters(0).to_vec(),
                action: decision.action as u8,
                reward,
                intrinsic_reward: 0.0,
                done,
                q_values: Some(decision.q_values),
                epsilon: Some(epsilon as f32),
                action_mask: Some(mask[..a_dim].to_vec()),
                explored: decision.explored,
                time_of_day: temporal.then_some(env.time_of_day() as u8),
                interaction_progress: progress,
            })
            .map_err(|e| e.to_string())?;
        if done {
            end_reason = match reason {
                Some(townlet_env::EndReason::Retired) => EndReason::Retired,
                _ => EndReason::Died,
            };
            break;
        }
    }
    Ok(LiveEpisode {
        episode_id: id,
        agent_id: 0,
        metadata: EpisodeMetadata {
            survival_steps: n,
            total_reward: reward_total,
            extrinsic_reward: reward_total,
            intrinsic_reward: 0.0,
            curriculum_stage: u32::from(h.stage),
            depletion_multiplier: multiplier,
            epsilon: epsilon as f32,
            intrinsic_weight: 0.0,
            affordance_visits: visits,
            end_reason,
            timestamp: started as f64 / 1000.0,
            loss_mean: None,
            td_error_mean: None,
            q_mean: None,
            updates: 0,
        },
        layout,
        start,
        steps,
        finished_at: unix_ms_now(),
    })
}

/// Loads `ckpt`'s policy into `agent` (made for `pack` on first use). On error the agent
/// is left as it was, so the last good model keeps playing.
fn load_policy<'a>(
    agent: &'a mut Option<DqnAgent>,
    pack: &Pack,
    env: &Env,
    ckpt: &Checkpoint,
) -> Result<&'a mut DqnAgent, String> {
    if agent.is_none() {
        let made = DqnAgent::new(
            pack,
            env.obs_dim(),
            env.action_dim(),
            DeviceKind::Flex,
            ckpt.header.seed,
        )
        .map_err(|e| crate::error::chain(&e))?;
        *agent = Some(made);
    }
    let Some(a) = agent.as_mut() else {
        return Err("no agent".into());
    };
    a.check_compatible(&ckpt.header, &pack.name)
        .and_then(|()| a.load_policy_from(ckpt))
        .map_err(|e| crate::error::chain(&e))?;
    Ok(a)
}

/// The network of checkpoint file `path` of a run on `pack`, as a probe snapshot (for
/// probing replays with the checkpoint nearest to the episode).
pub(crate) fn load_snapshot(
    pack: &Pack,
    env: &Env,
    path: &Path,
) -> Result<townlet_agent::NetworkSnapshot, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ckpt = Checkpoint::read(path).map_err(|e| {
        format!(
            "checkpoint {name} could not be loaded: {}",
            crate::error::chain(&e)
        )
    })?;
    let mut agent = None;
    let a = load_policy(&mut agent, pack, env, &ckpt)
        .map_err(|e| format!("checkpoint {name} could not be loaded: {e}"))?;
    Ok(a.snapshot(ckpt.header.episode))
}
