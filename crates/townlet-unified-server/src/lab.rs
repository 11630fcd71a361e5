//! Labs in one process: every run of a lab file trains on its own thread (its own runner,
//! run folder and live channel) and one server serves them all on one port.
//!
//! Run folders: `<runs root>/labs/<lab file stem>/<YYYY-MM-DD_HHMMSS>/<run id>/`. A
//! resume continues the newest lab folder, each run from its own folder.

use crate::{DemoError, ShutdownHandle, page_url, server_runtime, spawn_trainer, stop_when_done};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use townlet_config::{ConfigErrors, DeviceKind, Lab, LabRun, Pack};
use townlet_inference::{LIVE_QUEUE_CAPACITY, LiveSource, ServerOptions, WorldInfo};
use townlet_runner::{DemoRunner, PhaseTimes, RunFolder, RunSummary, RunnerOptions};

/// Everything `townlet-demo --lab` can set.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The lab file.
    pub lab_file: PathBuf,
    /// Where a run's `pack:` is looked up after the lab file's folder (`configs/`).
    pub configs_root: PathBuf,
    /// Lab folders go under `<runs_root>/labs/`.
    pub runs_root: PathBuf,
    /// Continue the newest lab folder of this lab file instead of starting a new one.
    pub resume: bool,
    pub device: Option<DeviceKind>,
    pub server: ServerOptions,
    /// Capacity of each run's live channel (10).
    pub live_queue: usize,
    /// A second consumer of every run's finished episodes (`--publish`), if any.
    pub tap: crate::tap::Tap,
}

impl LabOptions {
    pub fn new(lab_file: PathBuf, configs_root: PathBuf, runs_root: PathBuf) -> Self {
        Self {
            lab_file,
            configs_root,
            runs_root,
            resume: false,
            device: None,
            server: ServerOptions::default(),
            live_queue: LIVE_QUEUE_CAPACITY,
            tap: crate::tap::Tap::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    #[error(transparent)]
    Demo(#[from] DemoError),
    #[error(
        "no lab folder of {} to resume: {} has none (start the lab without --resume)",
        lab.display(),
        dir.display()
    )]
    NothingToResume { lab: PathBuf, dir: PathBuf },
    #[error(
        "{} no longer matches the lab folder {}: the lab has runs [{}], the folder has [{}] \
         (start the lab without --resume for a new lab folder)",
        lab.display(),
        dir.display(),
        expected.join(", "),
        found.join(", ")
    )]
    RunsChanged {
        lab: PathBuf,
        dir: PathBuf,
        expected: Vec<String>,
        found: Vec<String>,
    },
    #[error(
        "run '{run}' of {} no longer matches its folder {}: {what} changed \
         (start the lab without --resume for a new lab folder)",
        lab.display(),
        dir.display()
    )]
    RunChanged {
        lab: PathBuf,
        run: String,
        dir: PathBuf,
        what: String,
    },
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Information available once the port is bound and every run's folder exists, before
/// any training step.
#[derive(Debug, Clone)]
pub struct LabStarted {
    pub url: String,
    /// The page URL with the teacher token; `None` without one.
    pub teacher_url: Option<String>,
    pub port: u16,
    pub title: String,
    /// `<runs root>/labs/<stem>/<stamp>/`.
    pub lab_dir: PathBuf,
    /// `(run id, run folder)` in lab order.
    pub runs: Vec<(String, PathBuf)>,
    /// Where the lab's log belongs (`<lab dir>/townlet.log`).
    pub log_path: PathBuf,
}

/// How one run of the lab ended.
#[derive(Debug)]
pub struct LabRunOutcome {
    pub id: String,
    pub run_dir: PathBuf,
    pub summary: RunSummary,
    pub dropped_live: u64,
    pub phase: PhaseTimes,
}

#[derive(Debug)]
pub struct LabOutcome {
    pub lab_dir: PathBuf,
    /// In lab order.
    pub runs: Vec<LabRunOutcome>,
}

/// Compute threads for each of `runs` runs on `cores` cores, and in all: the cores but
/// one (the server's) shared out, at least one each, never more than the cores in all
/// (2 runs on 2 cores: one each; 3 runs on 2 cores: two in all, since burn's pool is
/// shared by the process; 1 run: one, as a single run).
pub fn lab_compute_threads(runs: usize, cores: usize) -> (usize, usize) {
    let runs = runs.max(1);
    let cores = cores.max(1);
    let each = (cores.saturating_sub(1) / runs).max(1);
    (each, (each * runs).min(cores))
}

/// Load and check the lab (every run's pack with its overrides: a bad lab starts nothing
/// and creates no folder), make or reopen its folders, start every run on its own
/// training thread and serve them all on one port until a stop is requested. A stop
/// stops every run at its next step; each writes its final checkpoint before the server
/// closes. `on_started` runs once the port is bound and the folders exist.
pub fn run_lab(
    opts: LabOptions,
    shutdown: ShutdownHandle,
    on_started: impl FnOnce(&LabStarted),
) -> Result<LabOutcome, LabError> {
    let lab = townlet_config::load_lab(&opts.lab_file, &opts.configs_root)?;
    let lab_dir = if opts.resume {
        let dir = newest_lab_dir(&lab, &opts.runs_root)?;
        check_resumable(&lab, &dir)?;
        dir
    } else {
        new_lab_dir(&lab, &opts.runs_root)
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (_, compute) = lab_compute_threads(lab.runs.len(), cores);
    townlet_runner::threads::set_compute_threads(compute);
    let rt = server_runtime(compute)?;
    // Bind first, so a taken port is a clear error before any folder or training.
    let listener = rt
        .block_on(townlet_inference::bind(&opts.server))
        .map_err(DemoError::from)?;
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(opts.server.port);

    let mut runs = Vec::new();
    for run in &lab.runs {
        let dir = lab_dir.join(&run.id);
        if !opts.resume {
            // The run starts from a folder holding the pack with its overrides, so the
            // runner (and every later resume) loads exactly the lab's configuration.
            RunFolder::create_at(&dir, &run.pack)
                .map_err(|e| DemoError::from(townlet_runner::RunnerError::from(e)))?;
        }
        let (sender, source) = LiveSource::channel(opts.live_queue);
        let snapshots = sender.snapshot_callback();
        let mut runner = DemoRunner::new(
            &RunnerOptions {
                run_dir: Some(dir.clone()),
                device: opts.device,
                ..RunnerOptions::default()
            },
            Some(opts.tap.wrap(&run.id, sender.into_callback())),
            shutdown.stop_flag(),
        )
        .map_err(DemoError::from)?;
        runner.set_snapshot_callback(snapshots);
        let source = crate::teach::link(&mut runner, source);
        source
            .counters
            .attach_recorder(runner.recorder_counters_handle());
        runs.push((run, runner, source));
    }
    let url = page_url(&opts.server.host, port);
    let started = LabStarted {
        teacher_url: opts
            .server
            .teacher_token
            .as_deref()
            .map(|t| crate::teach::teacher_url(&url, t)),
        url,
        port,
        title: lab.title.clone(),
        lab_dir: lab_dir.clone(),
        runs: runs
            .iter()
            .map(|(r, runner, _)| (r.id.clone(), runner.run_dir().to_path_buf()))
            .collect(),
        log_path: lab_dir.join("townlet.log"),
    };
    on_started(&started);

    let (done_tx, done_rx) = tokio::sync::watch::channel(0);
    let mut served = Vec::new();
    let mut trainers = Vec::new();
    for (run, runner, source) in runs {
        tracing::info!(
            "[{}] training {} (episodes {}..{}) in {}",
            run.id,
            runner.pack().name,
            runner.next_episode(),
            runner.max_episodes(),
            runner.run_dir().display()
        );
        let world = WorldInfo::new(runner.pack(), runner.env());
        let run_dir = runner.run_dir().to_path_buf();
        let lab_folder = lab_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        opts.tap.started(crate::tap::TapRun {
            key: &run.id,
            suggested_id: &format!("{lab_folder}-{}", run.id),
            pack: runner.pack(),
            world: &world,
            run_dir: &run_dir,
        });
        let counters = Arc::clone(&source.counters);
        let thread = spawn_trainer(
            format!("townlet-trainer-{}", run.id),
            format!("[{}] ", run.id),
            runner,
            shutdown.stop_flag(),
            0,
            Arc::clone(&counters),
            done_tx.clone(),
        )?;
        trainers.push((run.id.clone(), run_dir.clone(), counters, thread));
        served.push(LabServed {
            run,
            source,
            world,
            run_dir,
        });
    }
    drop(done_tx);
    let n = trainers.len();
    let result = rt.block_on(serve_lab(
        &lab,
        listener,
        served,
        opts.server.clone(),
        stop_when_done(&shutdown, done_rx, n),
    ));
    if result.is_err() {
        // The server could not serve: stop training rather than train unseen.
        shutdown.request_stop();
    }
    let mut outcomes = Vec::new();
    let mut first_err = None;
    let joined: Vec<_> = trainers
        .into_iter()
        .map(|(id, run_dir, counters, thread)| (id, run_dir, counters, thread.join()))
        .collect();
    opts.tap.finish();
    for (id, run_dir, counters, joined) in joined {
        match joined {
            Ok(Ok((summary, phase))) => outcomes.push(LabRunOutcome {
                id,
                run_dir,
                summary,
                dropped_live: counters.dropped(),
                phase,
            }),
            Ok(Err(e)) => {
                first_err.get_or_insert(LabError::from(DemoError::from(e)));
            }
            Err(_) => {
                first_err.get_or_insert(LabError::from(DemoError::TrainerPanicked));
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    result.map_err(DemoError::from)?;
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(LabOutcome {
        lab_dir,
        runs: outcomes,
    })
}

/// One lab run as the server gets it.
struct LabServed<'a> {
    run: &'a LabRun,
    source: LiveSource,
    world: WorldInfo,
    run_dir: PathBuf,
}

/// The overrides of `pack` as `key → value` text (what the viewer shows).
fn override_map(pack: &Pack) -> BTreeMap<String, String> {
    pack.overrides
        .iter()
        .map(|o| (o.key(), o.value_text().to_string()))
        .collect()
}

/// Serve every run of the lab on `listener` until `shutdown` resolves.
async fn serve_lab(
    lab: &Lab,
    listener: tokio::net::TcpListener,
    served: Vec<LabServed<'_>>,
    opts: ServerOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), townlet_inference::ServerError> {
    let runs = townlet_inference::Runs::new(Some(lab.title.clone()));
    for s in served {
        runs.add(townlet_inference::ServedRun {
            id: s.run.id.clone(),
            name: s.run.name.clone(),
            seed: s.run.pack.training.seed,
            overrides: override_map(&s.run.pack),
            mode: townlet_inference::Mode::Live(s.source),
            world: s.world,
            run_dir: Some(s.run_dir),
        })?;
    }
    townlet_inference::serve_runs(listener, runs, opts, shutdown).await
}

/// `<runs root>/labs/<lab file stem>/`.
fn lab_root(lab: &Lab, runs_root: &Path) -> PathBuf {
    let stem = lab
        .file
        .file_stem()
        .map_or_else(|| "lab".into(), |s| s.to_string_lossy().into_owned());
    runs_root.join("labs").join(stem)
}

/// A new `<lab root>/<YYYY-MM-DD_HHMMSS>` (suffixed when taken); not created here.
fn new_lab_dir(lab: &Lab, runs_root: &Path) -> PathBuf {
    let parent = lab_root(lab, runs_root);
    let stamp = chrono::Local::now().format("%Y-%m-%d_%H%M%S").to_string();
    let mut dir = parent.join(&stamp);
    let mut k = 1;
    while dir.exists() {
        dir = parent.join(format!("{stamp}_{k}"));
        k += 1;
    }
    dir
}

/// The newest lab folder of this lab file (names are time stamps, so the greatest).
fn newest_lab_dir(lab: &Lab, runs_root: &Path) -> Result<PathBuf, LabError> {
    let root = lab_root(lab, runs_root);
    let nothing = || LabError::NothingToResume {
        lab: lab.file.clone(),
        dir: root.clone(),
    };
    let entries = match std::fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(nothing()),
        Err(source) => {
            return Err(LabError::Io {
                action: "read",
                path: root.clone(),
                source,
            });
        }
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .max()
        .ok_or_else(nothing)
}

/// A lab folder resumes when it holds exactly the lab's runs, each a run folder whose
/// configuration (pack files and overrides) is the lab's.
fn check_resumable(lab: &Lab, dir: &Path) -> Result<(), LabError> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .map_err(|source| LabError::Io {
            action: "read",
            path: dir.to_path_buf(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| RunFolder::is_run(p))
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    found.sort();
    let mut expected: Vec<String> = lab.runs.iter().map(|r| r.id.clone()).collect();
    expected.sort();
    if found != expected {
        return Err(LabError::RunsChanged {
            lab: lab.file.clone(),
            dir: dir.to_path_buf(),
            expected,
            found,
        });
    }
    for run in &lab.runs {
        let run_dir = dir.join(&run.id);
        let changed = |what: String| LabError::RunChanged {
            lab: lab.file.clone(),
            run: run.name.clone(),
            dir: run_dir.clone(),
            what,
        };
        let snapshot = RunFolder::open(&run_dir)
            .and_then(|f| f.snapshot_pack_dir())
            .map_err(|e| changed(format!("its folder ({e})")))?;
        let snap = townlet_config::load_pack(&snapshot)?;
        if snap.name != run.pack.name {
            return Err(changed(format!(
                "the pack (folder: {}, lab: {})",
                snap.name, run.pack.name
            )));
        }
        let keys = townlet_config::config_hash_diff(&snap, &run.pack);
        if !keys.is_empty() {
            return Err(changed(keys.join(", ")));
        }
        let (was, now) = (override_map(&snap), override_map(&run.pack));
        if was != now {
            let keys: Vec<String> = was
                .keys()
                .chain(now.keys())
                .filter(|k| was.get(*k) != now.get(*k))
                .cloned()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            return Err(changed(keys.join(", ")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::lab_compute_threads;

    #[test]
    fn cores_are_shared_out() {
        assert_eq!(lab_compute_threads(2, 2), (1, 2));
        assert_eq!(lab_compute_threads(3, 2), (1, 2));
        assert_eq!(lab_compute_threads(2, 8), (3, 6));
        assert_eq!(lab_compute_threads(1, 2), (1, 1));
    }
}
