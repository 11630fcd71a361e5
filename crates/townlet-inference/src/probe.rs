//! "Ask the agent" (docs/usage.md#asking-the-agent, docs/protocol.md#probe): the network
//! snapshots each run keeps, and the probe thread that answers viewers' `probe` requests.
//!
//! Probes run on one dedicated OS thread (burn on a one-thread compute pool of its own),
//! never on the async runtime and never on the training thread, at a lower priority
//! (nice 10) and at most 3 % of the time ([`PROBE_DUTY`]): a single probe is answered at
//! once, probes back to back are spaced out so that training keeps its pace. A request is queued with
//! `try_send` (a full queue is a `not_available` answer) and answered through a oneshot;
//! the thread keeps an LRU cache of answers per (run, network, episode, step, what-if).

use crate::hub::Entry;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use townlet_agent::{Memory, NetworkSnapshot};
use townlet_config::Pack;
use townlet_env::{Env, ProbeState, SpatialKind};
use townlet_protocol::{
    self as proto, ErrorCode, ObservationParts, ProbeNetwork, ProbeResult, ProbedState,
    ProtocolError, Source,
};
use townlet_recording::LiveEpisode;

/// Snapshots kept per run (the newest).
pub const KEEP_SNAPSHOTS: usize = 5;
/// Networks loaded from a run's checkpoints for replays, kept per run (the last used).
pub const KEEP_CHECKPOINTS: usize = 3;
/// Answers kept by the probe thread.
pub const CACHE_ENTRIES: usize = 256;
/// Probe requests waiting for the probe thread; more are refused (`not_available`).
pub const PROBE_QUEUE_CAPACITY: usize = 64;
/// The largest share of wall-clock time the probe thread computes
/// (docs/decisions.md#probes-in-the-background): after a probe that took `t` it waits
/// `t × (1 / duty − 1)`, and at least [`PROBE_MIN_GAP`], before computing the next one
/// (cached answers never wait).
pub const PROBE_DUTY: f64 = 0.03;
/// The shortest time between two computed probes: at most 100 a second for all viewers
/// together (ten viewers dragging a what-if slider, each debounced).
pub const PROBE_MIN_GAP: std::time::Duration = std::time::Duration::from_millis(10);

/// Keeps a thread's computing to a share `duty` of wall-clock time: a single request is
/// answered at once; requests back to back are spaced out.
#[derive(Debug)]
pub struct Throttle {
    rest_per_busy: f64,
    free_at: Instant,
}

impl Throttle {
    pub fn new(duty: f64) -> Self {
        let duty = duty.clamp(0.01, 1.0);
        Self {
            rest_per_busy: 1.0 / duty - 1.0,
            free_at: Instant::now(),
        }
    }

    /// Waits until the rest owed for earlier work is over.
    pub fn wait(&self) {
        let now = Instant::now();
        if self.free_at > now {
            std::thread::sleep(self.free_at - now);
        }
    }

    /// `busy` was just spent computing: the next computation waits its share of rest
    /// (at least [`PROBE_MIN_GAP`] from the start of this one).
    pub fn spent(&mut self, busy: std::time::Duration) {
        let rest = busy
            .mul_f64(self.rest_per_busy)
            .max(PROBE_MIN_GAP.saturating_sub(busy));
        self.free_at = Instant::now() + rest;
    }
}

/// The env a run's probes are built on (its pack; the episode's layout is set per probe),
/// and the pack (to load the run's checkpoints for replays). Compared by the env's shape:
/// two worlds built from the same pack are equal by their other fields already.
#[derive(Clone)]
pub(crate) struct ProbeEnv {
    pub env: Arc<Env>,
    pub pack: Arc<Pack>,
}

impl PartialEq for ProbeEnv {
    fn eq(&self, other: &Self) -> bool {
        self.env.obs_dim() == other.env.obs_dim() && self.env.grid_size() == other.env.grid_size()
    }
}

impl std::fmt::Debug for ProbeEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProbeEnv(obs {})", self.env.obs_dim())
    }
}

/// One run's probe world and networks.
struct Target {
    env: Arc<Env>,
    pack: Arc<Pack>,
    /// `Training` (snapshots from the trainer), `Checkpoint` (the loaded checkpoint) or
    /// `Replay` (a recorded run: only its checkpoints).
    source: Source,
    /// Oldest first.
    snapshots: Mutex<VecDeque<Arc<NetworkSnapshot>>>,
    /// The run's checkpoint folder: replays are probed with the checkpoint nearest to
    /// the episode.
    checkpoints: Option<PathBuf>,
    /// Networks loaded from `run_dir`'s checkpoints, the most recently used last.
    from_disk: Mutex<VecDeque<Arc<NetworkSnapshot>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a session asks.
pub(crate) struct Request {
    pub run_id: String,
    pub entry: Arc<Entry>,
    pub step: u32,
    pub meters: Option<Vec<f32>>,
    pub time_of_day: Option<u8>,
}

type Reply = Result<Arc<ProbeResult>, ProtocolError>;

struct Job {
    target: Arc<Target>,
    request: Request,
    reply: tokio::sync::oneshot::Sender<Reply>,
}

/// Every run's probe targets and the probe thread (started on the first probe).
#[derive(Default)]
pub(crate) struct Probes {
    targets: Mutex<HashMap<String, Arc<Target>>>,
    worker: OnceLock<Option<flume::Sender<Job>>>,
    /// Answers computed, answers from the cache, requests refused (queue full).
    pub computed: AtomicU64,
    pub cached: AtomicU64,
    pub refused: AtomicU64,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes")
            .field("runs", &lock(&self.targets).len())
            .field("computed", &self.computed)
            .field("cached", &self.cached)
            .finish()
    }
}

impl Probes {
    /// Makes run `run_id` probeable on `world`'s pack with networks from `source` (and,
    /// for replays, from the checkpoints in the folder `checkpoints`).
    pub(crate) fn register(
        &self,
        run_id: &str,
        world: &ProbeEnv,
        source: Source,
        checkpoints: Option<PathBuf>,
    ) {
        lock(&self.targets).insert(
            run_id.to_owned(),
            Arc::new(Target {
                env: Arc::clone(&world.env),
                pack: Arc::clone(&world.pack),
                source,
                snapshots: Mutex::default(),
                checkpoints,
                from_disk: Mutex::default(),
            }),
        );
    }

    /// Adds a network to run `run_id` (the newest [`KEEP_SNAPSHOTS`] are kept).
    pub(crate) fn offer(&self, run_id: &str, snapshot: NetworkSnapshot) {
        let Some(t) = lock(&self.targets).get(run_id).cloned() else {
            return;
        };
        let mut s = lock(&t.snapshots);
        if t.source == Source::Checkpoint {
            s.clear();
        }
        s.push_back(Arc::new(snapshot));
        while s.len() > KEEP_SNAPSHOTS {
            s.pop_front();
        }
    }

    /// Moves the trainer's snapshots into run `run_id` as they arrive (a small thread
    /// that ends when the trainer drops its sender).
    pub(crate) fn attach_live(
        self: &Arc<Self>,
        run_id: &str,
        rx: flume::Receiver<NetworkSnapshot>,
    ) {
        let (probes, id) = (Arc::clone(self), run_id.to_owned());
        let spawned = std::thread::Builder::new()
            .name("townlet-snapshots".into())
            .spawn(move || {
                while let Ok(s) = rx.recv() {
                    probes.offer(&id, s);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("no snapshot thread for run {run_id}: {e}");
        }
    }

    /// Answers `request` on the probe thread.
    pub(crate) async fn ask(&self, request: Request) -> Reply {
        let Some(target) = lock(&self.targets).get(&request.run_id).cloned() else {
            return Err(ProtocolError::new(
                ErrorCode::NotAvailable,
                format!(
                    "run {} has no network to probe (a recorded run without checkpoints)",
                    request.run_id
                ),
            ));
        };
        let Some(tx) = self.worker.get_or_init(start_worker) else {
            return Err(ProtocolError::new(
                ErrorCode::Internal,
                "the probe thread could not be started",
            ));
        };
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job = Job {
            target,
            request,
            reply,
        };
        if tx.try_send(job).is_err() {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(ProtocolError::new(
                ErrorCode::NotAvailable,
                format!("the probe queue is full ({PROBE_QUEUE_CAPACITY} waiting); ask again"),
            ));
        }
        let answer = rx.await.unwrap_or_else(|_| {
            Err(ProtocolError::new(
                ErrorCode::Internal,
                "the probe thread stopped",
            ))
        });
        if let Ok(a) = &answer {
            let counter = if a.compute_ms == 0.0 {
                &self.cached
            } else {
                &self.computed
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        answer
    }
}

/// What makes two probes the same question.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    run_id: String,
    network: (u64, usize),
    episode: u64,
    finished_at: u64,
    step: u32,
    meters: Option<Vec<u32>>,
    time_of_day: Option<u8>,
}

fn start_worker() -> Option<flume::Sender<Job>> {
    let (tx, rx) = flume::bounded::<Job>(PROBE_QUEUE_CAPACITY);
    let spawned = std::thread::Builder::new()
        .name("townlet-probe".into())
        .spawn(move || {
            // burn's parallel kernels use the current rayon pool: a one-thread pool of
            // its own keeps probes off the trainer's compute threads.
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .thread_name(|_| "townlet-probe-comp".into())
                .build();
            let serve = move || {
                // Probes use CPU time training does not want, never training's
                // (docs/decisions.md#probes-in-the-background).
                if !run_in_background() {
                    tracing::debug!("the probe thread runs at normal priority");
                }
                let mut cache: VecDeque<(Key, Arc<ProbeResult>)> = VecDeque::new();
                let mut throttle = Throttle::new(PROBE_DUTY);
                let mut memories = Memories::default();
                while let Ok(job) = rx.recv() {
                    let answer = answer(
                        &job.target,
                        &job.request,
                        &mut cache,
                        &mut throttle,
                        &mut memories,
                    );
                    let _ = job.reply.send(answer);
                }
            };
            match pool {
                Ok(p) => p.install(serve),
                Err(_) => serve(),
            }
        });
    match spawned {
        Ok(_) => Some(tx),
        Err(e) => {
            tracing::warn!("probe thread: {e}");
            None
        }
    }
}

/// The nice value of the probe thread (docs/decisions.md#probes-in-the-background).
pub const PROBE_NICE: i32 = 10;

/// Puts the calling thread in the background (docs/decisions.md#probes-in-the-background):
/// on Linux a lower priority ([`PROBE_NICE`]), so that where it competes with training for
/// a core the scheduler favours training about ten to one, while it still has any core
/// nobody else wants; elsewhere nothing. Returns whether the priority was lowered.
pub fn run_in_background() -> bool {
    #[cfg(target_os = "linux")]
    {
        nice_this_thread(PROBE_NICE) == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn nice_this_thread(nice: i32) -> i32 {
    // SAFETY: plain system calls without pointers. On Linux the nice value belongs to the
    // thread (`PRIO_PROCESS` with a thread id); anyone may lower its own priority.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
    }
}

fn invalid(message: String) -> ProtocolError {
    ProtocolError::new(ErrorCode::InvalidValue, message)
}

/// The state before step `step` (1-based) of `ep`: the previous step's state (the spawn
/// for step 1), `step − 1` steps lived.
pub fn state_before(ep: &LiveEpisode, env: &Env, step: u32) -> Option<ProbeState> {
    let (position, meters, time_of_day, progress) = if step <= 1 {
        let s = &ep.start;
        (s.position, s.meters.clone(), s.time_of_day, None)
    } else {
        let s = ep.step(step as usize - 2)?;
        (s.position, s.meters, s.time_of_day, s.interaction_progress)
    };
    let position = [position.0, position.1];
    Some(ProbeState {
        position,
        meters,
        time_of_day: u32::from(time_of_day.unwrap_or(0)),
        progress_ticks: progress.map_or(0, |p| env.progress_ticks_from_fraction(position, p)),
        step_count: step.saturating_sub(1),
    })
}

/// The network that answers for `entry`, and whether it is the one that started it.
fn pick(target: &Target, entry: &Entry) -> Option<(Arc<NetworkSnapshot>, bool)> {
    let snaps = lock(&target.snapshots);
    if target.source == Source::Checkpoint {
        let s = snaps.back()?;
        let exact =
            entry.source == Source::Checkpoint && entry.checkpoint_episode == Some(s.after_episode);
        return Some((Arc::clone(s), exact));
    }
    let id = entry.id();
    let best = snaps
        .iter()
        .rev()
        .find(|s| s.after_episode < id)
        .or_else(|| snaps.front())?;
    Some((Arc::clone(best), best.after_episode + 1 == id))
}

/// The network of the run's checkpoint nearest to episode `id` (the earlier one on a
/// tie), loaded once and kept among the last [`KEEP_CHECKPOINTS`]; `None` when the run has
/// no folder or no checkpoints. Exact when the checkpoint was written right before `id`.
fn nearest_checkpoint(
    target: &Target,
    id: u64,
) -> Result<Option<(Arc<NetworkSnapshot>, bool, Source)>, ProtocolError> {
    let Some(dir) = &target.checkpoints else {
        return Ok(None);
    };
    let Some((episode, path)) = townlet_agent::checkpoint::list_checkpoints(dir)
        .into_iter()
        .min_by_key(|(e, _)| (e.abs_diff(id), *e))
    else {
        return Ok(None);
    };
    let found = |snap: Arc<NetworkSnapshot>| Some((snap, episode + 1 == id, Source::Checkpoint));
    let mut kept = lock(&target.from_disk);
    if let Some(i) = kept.iter().position(|s| s.after_episode == episode)
        && let Some(s) = kept.remove(i)
    {
        kept.push_back(Arc::clone(&s));
        return Ok(found(s));
    }
    let snap = crate::checkpoint::load_snapshot(&target.pack, &target.env, &path)
        .map(Arc::new)
        .map_err(|e| ProtocolError::new(ErrorCode::CheckpointError, e))?;
    kept.push_back(Arc::clone(&snap));
    while kept.len() > KEEP_CHECKPOINTS {
        kept.pop_front();
    }
    Ok(found(snap))
}

fn answer(
    target: &Target,
    req: &Request,
    cache: &mut VecDeque<(Key, Arc<ProbeResult>)>,
    throttle: &mut Throttle,
    memories: &mut Memories,
) -> Reply {
    let ep = &req.entry.episode;
    let len = ep.len();
    if req.step as usize > len || req.step == 0 {
        return Err(invalid(format!(
            "probe step {} is outside episode {}'s steps 1..={len}",
            req.step, ep.episode_id
        )));
    }
    // A replay: the run's checkpoint nearest to the episode, else the kept snapshots.
    let nearest = if req.entry.source == Source::Replay {
        nearest_checkpoint(target, req.entry.id())?
    } else {
        None
    };
    let Some((snap, exact, source)) =
        nearest.or_else(|| pick(target, &req.entry).map(|(s, exact)| (s, exact, target.source)))
    else {
        return Err(ProtocolError::new(
            ErrorCode::NotAvailable,
            if target.source == Source::Replay {
                "no network to probe: this recorded run has no checkpoints".to_owned()
            } else {
                "no network yet: the trainer hands one over every training.snapshot_interval \
                 episodes"
                    .to_owned()
            },
        ));
    };
    let key = Key {
        run_id: req.run_id.clone(),
        network: (snap.after_episode, Arc::as_ptr(&snap) as usize),
        episode: ep.episode_id,
        finished_at: ep.finished_at,
        step: req.step,
        meters: req
            .meters
            .as_ref()
            .map(|m| m.iter().map(|v| v.to_bits()).collect()),
        time_of_day: req.time_of_day,
    };
    if let Some(i) = cache.iter().position(|(k, _)| *k == key)
        && let Some(hit) = cache.remove(i)
    {
        let mut r = (*hit.1).clone();
        r.compute_ms = 0.0;
        cache.push_back(hit);
        return Ok(Arc::new(r));
    }
    let network = ProbeNetwork {
        after_episode: snap.after_episode,
        source,
        network_type: snap.network_type().into(),
        exact,
    };
    let question = Question {
        step: req.step,
        meters: req.meters.clone(),
        time_of_day: req.time_of_day,
    };
    throttle.wait();
    let started = Instant::now();
    let result = probe_episode(
        &target.env,
        &snap,
        network,
        &req.run_id,
        ep,
        &question,
        memories,
    );
    throttle.spent(started.elapsed());
    let mut result = result?;
    result.compute_ms = (started.elapsed().as_secs_f64() * 1000.0).max(1e-3) as f32;
    let result = Arc::new(result);
    cache.push_back((key, Arc::clone(&result)));
    while cache.len() > CACHE_ENTRIES {
        cache.pop_front();
    }
    Ok(result)
}

/// What a probe asks about one episode: the decision of step `step` (1-based), with
/// what-if meters and hour when given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Question {
    pub step: u32,
    pub meters: Option<Vec<f32>>,
    pub time_of_day: Option<u8>,
}

/// Recurrent memories kept by the probe thread, so that what-if questions about one step
/// skip replaying the episode (the newest [`KEEP_MEMORIES`]).
#[derive(Debug, Default)]
pub struct Memories {
    kept: VecDeque<(MemoryKey, Arc<Memory>)>,
}

/// Which memory: the network (its address and episode), the episode (id, finished_at)
/// and the step.
type MemoryKey = (usize, u64, u64, u64, u32);

/// Recurrent memories kept by the probe thread.
pub const KEEP_MEMORIES: usize = 16;

/// Answers `q` about episode `ep` with network `snap` on `env`'s pack (the episode's
/// layout is set on a copy): the Q-values on every cell, the masks and the observation at
/// the agent's cell. `network` describes `snap` in the answer. The probe thread's work,
/// public for tests and benchmarks. Recurrent memories are reused from (and added to)
/// `memories`; `&mut Memories::default()` keeps none.
pub fn probe_episode(
    env: &Env,
    snap: &NetworkSnapshot,
    network: ProbeNetwork,
    run_id: &str,
    ep: &LiveEpisode,
    q: &Question,
    memories: &mut Memories,
) -> Result<ProbeResult, ProtocolError> {
    let req = q;
    let len = ep.len();
    if req.step as usize > len || req.step == 0 {
        return Err(invalid(format!(
            "probe step {} is outside episode {}'s steps 1..={len}",
            req.step, ep.episode_id
        )));
    }
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        ProtocolError::new(ErrorCode::Internal, format!("{what}: {e}"))
    };
    let mut env = env.clone();
    let layout: Vec<(String, [i32; 2])> = ep
        .layout
        .iter()
        .map(|a| (a.name.clone(), [a.x, a.y]))
        .collect();
    env.set_layout(&layout)
        .map_err(|e| internal("the episode's layout does not fit the pack", &e))?;
    if snap.obs_dim() != env.obs_dim() {
        return Err(ProtocolError::new(
            ErrorCode::NotAvailable,
            format!(
                "the network reads {} values but the pack's observation has {}",
                snap.obs_dim(),
                env.obs_dim()
            ),
        ));
    }
    let real = state_before(ep, &env, req.step)
        .ok_or_else(|| invalid(format!("probe step {} is not in the episode", req.step)))?;
    let mut state = real.clone();
    if let Some(m) = &req.meters {
        if m.len() != env.num_meters() {
            return Err(invalid(format!(
                "probe has {} meters, the pack has {} ({})",
                m.len(),
                env.num_meters(),
                env.meter_names().join(", ")
            )));
        }
        state.meters = m.clone();
    }
    if let Some(t) = req.time_of_day {
        if !env.temporal() {
            return Err(invalid(format!(
                "probe time_of_day {t}: this pack has no clock (not temporal)"
            )));
        }
        state.time_of_day = u32::from(t);
    }
    let (obs, _) = env
        .observe_state(&state)
        .map_err(|e| invalid(e.to_string()))?;
    // The recurrent memory at this step: kept, or rebuilt by replaying the episode's
    // observations before it through the network.
    let memory = if snap.is_recurrent() && req.step > 1 {
        let key = (
            snap as *const NetworkSnapshot as usize,
            snap.after_episode,
            ep.episode_id,
            ep.finished_at,
            req.step,
        );
        match memories.kept.iter().find(|(k, _)| *k == key) {
            Some((_, m)) => Some(Arc::clone(m)),
            None => {
                let mut history = Vec::with_capacity((req.step as usize - 1) * env.obs_dim());
                for k in 1..req.step {
                    let s = state_before(ep, &env, k)
                        .ok_or_else(|| invalid(format!("probe step {k} is not in the episode")))?;
                    let (o, _) = env
                        .observe_state(&s)
                        .map_err(|e| internal("a recorded state does not fit the pack", &e))?;
                    history.extend_from_slice(&o);
                }
                let m = snap.memory(&history).map(Arc::new);
                if let Some(m) = &m {
                    memories.kept.push_back((key, Arc::clone(m)));
                    while memories.kept.len() > KEEP_MEMORIES {
                        memories.kept.pop_front();
                    }
                }
                m
            }
        }
    } else {
        None
    };
    let batch = env
        .probe_batch(&state)
        .map_err(|e| invalid(e.to_string()))?;
    let q = snap.probe_from(memory.as_deref(), &batch.obs);
    let a = env.action_dim();
    let cells = batch.cells.len();
    let q_values: Vec<Vec<f32>> = (0..cells)
        .map(|i| q.get(i * a..(i + 1) * a).unwrap_or(&[]).to_vec())
        .collect();
    let masks: Vec<Vec<bool>> = batch.masks.chunks(a).map(<[bool]>::to_vec).collect();
    let side = env.grid_size();
    Ok(ProbeResult {
        run_id: run_id.to_owned(),
        episode_id: ep.episode_id,
        step: req.step,
        network,
        state: ProbedState {
            position: state.position,
            what_if: state.meters != real.meters || state.time_of_day != real.time_of_day,
            meters: state.meters.clone(),
            time_of_day: env.temporal().then_some(state.time_of_day as u8),
        },
        grid: proto::GridSize {
            width: side,
            height: side,
        },
        q_values,
        masks,
        observation: observation_parts(&env, &obs, state.position),
        compute_ms: 0.0,
    })
}

/// One observation cut into its parts (docs/world.md#observations).
pub fn observation_parts(env: &Env, obs: &[f32], position: [i32; 2]) -> ObservationParts {
    let lay = env.observation_layout();
    let (kind, side, origin) = match lay.spatial_kind {
        SpatialKind::Window { side } => {
            let v = (side as i32 - 1) / 2;
            ("window", side as u32, [position[0] - v, position[1] - v])
        }
        SpatialKind::FullGrid { width, .. } => ("grid", width as u32, [0, 0]),
    };
    let part = |r: std::ops::Range<usize>| obs.get(r).unwrap_or(&[]).to_vec();
    let onehot = part(lay.affordance.clone());
    let affordance = onehot
        .iter()
        .position(|v| *v > 0.5)
        .filter(|i| *i + 1 < onehot.len())
        .and_then(|i| env.affordance_names().get(i).cloned());
    ObservationParts {
        spatial_kind: kind.into(),
        side,
        origin,
        spatial: part(lay.spatial.clone()),
        position: part(lay.position.clone()),
        meters: part(lay.meters.clone()),
        affordance,
        temporal: part(lay.temporal.clone()),
    }
}
