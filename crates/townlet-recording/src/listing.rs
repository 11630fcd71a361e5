//! Text and JSON views of a run's recordings, as `townlet-recordings` prints them: a table
//! of recordings, one episode's summary with a per-step table, and the whole episode as
//! JSON (non-finite numbers become `null`).

use std::io::{self, Write};

use serde::Serialize;

use crate::db::RecordingRow;
use crate::replay::ReplayManager;
use crate::types::{AffordancePosition, EpisodeMetadata, LiveEpisode, RecordedStep, StartState};

/// Writes `rows` as a table (newest first, as listed), then a count; or
/// `no recordings match` when there are none.
pub fn write_list(out: &mut impl Write, rows: &[RecordingRow]) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no recordings match");
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
    writeln!(out, "{} recording(s)", rows.len())
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn fmt_meters(m: &[f32]) -> String {
    m.iter()
        .map(|v| format!("{v:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes the summary of `ep` (recorded because of `reason`, indexed by `row`) and a table
/// of its steps.
pub fn write_show(
    out: &mut impl Write,
    ep: &LiveEpisode,
    row: &RecordingRow,
    reason: &str,
) -> io::Result<()> {
    let m = &ep.metadata;
    writeln!(out, "episode {}  (agent {})", ep.episode_id, ep.agent_id)?;
    writeln!(out, "  recorded because : {reason}")?;
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
    writeln!(out, "{} step(s); * = exploratory action", ep.len())
}

/// One recorded episode as exported: its database row, metadata, layout, start state and
/// every step.
#[derive(Debug, Serialize)]
pub struct Export<'a> {
    pub episode_id: u64,
    pub agent_id: u32,
    pub reason: &'a str,
    pub recording: &'a RecordingRow,
    pub metadata: &'a EpisodeMetadata,
    pub layout: &'a [AffordancePosition],
    pub start: &'a StartState,
    pub finished_at: u64,
    pub steps: Vec<RecordedStep>,
}

impl<'a> Export<'a> {
    /// The episode `replay` has loaded, or `None` when it has none.
    pub fn of(replay: &'a ReplayManager) -> Option<Self> {
        let (ep, row, reason) = (replay.episode()?, replay.recording()?, replay.reason()?);
        Some(Export {
            episode_id: ep.episode_id,
            agent_id: ep.agent_id,
            reason,
            recording: row,
            metadata: &ep.metadata,
            layout: &ep.layout,
            start: &ep.start,
            finished_at: ep.finished_at,
            steps: ep.recorded_steps(),
        })
    }

    /// Pretty JSON and a final newline.
    pub fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }
}
