//! `townlet-recordings`: list, show and export a run's recorded episodes (D2).

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use townlet_recording::{
    AffordancePosition, EpisodeMetadata, RecordedStep, RecordingFilter, RecordingRow,
    ReplayManager, StartState,
};

#[derive(Parser)]
#[command(
    name = "townlet-recordings",
    version,
    about = "Inspect a Townlet run's recorded episodes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Source {
    /// Run folder (reads RUN/metrics.db); default: the current folder.
    #[arg(long, value_name = "DIR", conflicts_with = "db")]
    run: Option<PathBuf>,
    /// The metrics database itself.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

impl Source {
    fn db_path(&self) -> PathBuf {
        match (&self.db, &self.run) {
            (Some(db), _) => db.clone(),
            (None, Some(run)) => run.join("metrics.db"),
            (None, None) => PathBuf::from("metrics.db"),
        }
    }

    fn open(&self) -> Result<ReplayManager> {
        let path = self.db_path();
        ReplayManager::open(&path).with_context(|| format!("opening {}", path.display()))
    }
}

#[derive(Subcommand)]
enum Command {
    /// List recordings (newest first) as a table.
    List {
        #[command(flatten)]
        source: Source,
        /// Only this curriculum stage.
        #[arg(long)]
        stage: Option<u32>,
        /// Only this reason (periodic, stage_transition_before, stage_transition_after,
        /// performance_top, performance_bottom, stage_boundary).
        #[arg(long)]
        reason: Option<String>,
        /// Total reward at least this.
        #[arg(long, allow_negative_numbers = true)]
        min_reward: Option<f32>,
        /// Total reward at most this.
        #[arg(long, allow_negative_numbers = true)]
        max_reward: Option<f32>,
        /// At most N rows.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Summary and a per-step table of one recorded episode.
    Show {
        /// Episode id.
        id: u64,
        #[command(flatten)]
        source: Source,
    },
    /// The whole episode as JSON on stdout (non-finite numbers become null).
    Export {
        /// Episode id.
        id: u64,
        #[command(flatten)]
        source: Source,
        /// JSON output (the only format).
        #[arg(long, required = true)]
        json: bool,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Serialize)]
struct Export<'a> {
    episode_id: u64,
    agent_id: u32,
    reason: &'a str,
    recording: &'a RecordingRow,
    metadata: &'a EpisodeMetadata,
    layout: &'a [AffordancePosition],
    start: &'a StartState,
    finished_at: u64,
    steps: Vec<RecordedStep>,
}

fn main() {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = run(cli, &mut out).and_then(|()| out.flush().map_err(Into::into));
    if let Err(e) = result {
        // `| head` closing the pipe is not an error.
        let broken_pipe = e.chain().any(|c| {
            c.downcast_ref::<io::Error>()
                .map(io::Error::kind)
                .or_else(|| {
                    c.downcast_ref::<serde_json::Error>()
                        .and_then(|j| j.io_error_kind())
                })
                == Some(io::ErrorKind::BrokenPipe)
        });
        if broken_pipe {
            return;
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli, out: &mut impl Write) -> Result<()> {
    match cli.command {
        Command::List {
            source,
            stage,
            reason,
            min_reward,
            max_reward,
            limit,
        } => {
            let rm = source.open()?;
            let filter = RecordingFilter {
                stage,
                reason,
                min_reward,
                max_reward,
                limit,
            };
            let rows = rm.list_recordings(&filter)?;
            list(out, &rows)
        }
        Command::Show { id, source } => {
            let mut rm = source.open()?;
            rm.load(id)
                .with_context(|| format!("loading episode {id}"))?;
            show(out, &rm)
        }
        Command::Export {
            id,
            source,
            json,
            output,
        } => {
            if !json {
                bail!("only --json export is supported");
            }
            let mut rm = source.open()?;
            rm.load(id)
                .with_context(|| format!("loading episode {id}"))?;
            let (Some(ep), Some(row), Some(reason)) = (rm.episode(), rm.recording(), rm.reason())
            else {
                bail!("episode {id} did not load");
            };
            let export = Export {
                episode_id: ep.episode_id,
                agent_id: ep.agent_id,
                reason,
                recording: row,
                metadata: &ep.metadata,
                layout: &ep.layout,
                start: &ep.start,
                finished_at: ep.finished_at,
                steps: ep.recorded_steps(),
            };
            match output {
                Some(path) => {
                    let f = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut w = BufWriter::new(f);
                    serde_json::to_writer_pretty(&mut w, &export)?;
                    writeln!(w)?;
                    w.flush()
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                None => {
                    serde_json::to_writer_pretty(&mut *out, &export)?;
                    writeln!(out)?;
                }
            }
            Ok(())
        }
    }
}

fn list(out: &mut impl Write, rows: &[RecordingRow]) -> Result<()> {
    if rows.is_empty() {
        writeln!(out, "no recordings match")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>8}  {:>5}  {:>8}  {:>10}  {:>10}  {:<11}  {:<23}  {:>9}  path",
        "episode", "stage", "survival", "reward", "extrinsic", "end", "reason", "bytes"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:>8}  {:>5}  {:>8}  {:>10.3}  {:>10.3}  {:<11}  {:<23}  {:>9}  {}",
            r.episode_id,
            r.curriculum_stage,
            r.survival_steps,
            r.total_reward,
            r.extrinsic_reward,
            r.end_reason,
            r.reason,
            r.file_bytes,
            r.path
        )?;
    }
    writeln!(out, "{} recording(s)", rows.len())?;
    Ok(())
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn show(out: &mut impl Write, rm: &ReplayManager) -> Result<()> {
    let (Some(ep), Some(row)) = (rm.episode(), rm.recording()) else {
        bail!("no episode loaded");
    };
    let m = &ep.metadata;
    writeln!(out, "episode {}  (agent {})", ep.episode_id, ep.agent_id)?;
    writeln!(out, "  recorded because : {}", rm.reason().unwrap_or("-"))?;
    writeln!(
        out,
        "  file             : {} ({} bytes)",
        row.path, row.file_bytes
    )?;
    writeln!(out, "  end reason       : {}", m.end_reason)?;
    writeln!(out, "  survival steps   : {}", m.survival_steps)?;
    writeln!(
        out,
        "  reward           : total {:.4}, extrinsic {:.4}, intrinsic {:.4} (weight {:.4})",
        m.total_reward, m.extrinsic_reward, m.intrinsic_reward, m.intrinsic_weight
    )?;
    writeln!(
        out,
        "  stage            : {} (depletion ×{:.3}), epsilon {:.4}",
        m.curriculum_stage, m.depletion_multiplier, m.epsilon
    )?;
    writeln!(
        out,
        "  learner          : {} updates, loss {}, td-error {}",
        m.updates,
        opt(m.loss_mean),
        opt(m.td_error_mean)
    )?;
    let visits: Vec<String> = m
        .affordance_visits
        .iter()
        .map(|(k, v)| format!("{k}×{v}"))
        .collect();
    writeln!(
        out,
        "  visits           : {}",
        if visits.is_empty() {
            "-".into()
        } else {
            visits.join(", ")
        }
    )?;
    let layout: Vec<String> = ep
        .layout
        .iter()
        .map(|a| format!("{}@({},{})", a.name, a.x, a.y))
        .collect();
    writeln!(out, "  layout           : {}", layout.join(", "))?;
    writeln!(
        out,
        "  start            : pos ({},{}), time {}, meters [{}]",
        ep.start.position.0,
        ep.start.position.1,
        opt(ep.start.time_of_day),
        fmt_meters(&ep.start.meters)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:>5}  {:>9}  {:>3}  {:>1}  {:>8}  {:>8}  {:>6}  {:>4}  {:>5}  {:>4}  meters",
        "step", "pos", "act", "x", "reward", "novelty", "eps", "time", "prog", "done"
    )?;
    for s in ep.steps.iter() {
        writeln!(
            out,
            "{:>5}  {:>9}  {:>3}  {:>1}  {:>8.4}  {:>8.4}  {:>6}  {:>4}  {:>5}  {:>4}  [{}]",
            s.step,
            format!("({},{})", s.position.0, s.position.1),
            s.action,
            if s.explored { "*" } else { "" },
            s.reward,
            s.intrinsic_reward,
            s.epsilon.map_or_else(|| "-".into(), |e| format!("{e:.3}")),
            opt(s.time_of_day),
            s.interaction_progress
                .map_or_else(|| "-".into(), |p| format!("{p:.2}")),
            if s.done { "done" } else { "" },
            fmt_meters(&s.meters)
        )?;
    }
    writeln!(out, "{} step(s); * = exploratory action", ep.len())?;
    Ok(())
}

fn fmt_meters(m: &[f32]) -> String {
    m.iter()
        .map(|v| format!("{v:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}
