//! `metrics.db` (docs/decisions.md#one-sqlite-writer,
//! docs/decisions.md#metrics-without-recordings): schema, the writer's upserts, and a read
//! API for the server and the CLI (which open their own read connections).

use crate::error::RecordingError;
use crate::types::{EndReason, EpisodeMetadata, LiveEpisode};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a connection waits on a lock held by another connection.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS episodes (
    episode_id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    finished_at INTEGER NOT NULL,
    survival_steps INTEGER NOT NULL,
    total_reward REAL,
    extrinsic_reward REAL,
    intrinsic_reward REAL,
    intrinsic_weight REAL,
    curriculum_stage INTEGER NOT NULL,
    depletion_multiplier REAL,
    epsilon REAL,
    end_reason TEXT NOT NULL,
    loss_mean REAL,
    td_error_mean REAL,
    q_mean REAL,
    updates INTEGER NOT NULL,
    affordance_visits TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS affordance_transitions (
    episode_id INTEGER NOT NULL,
    from_affordance TEXT NOT NULL,
    to_affordance TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (episode_id, from_affordance, to_affordance)
);
CREATE TABLE IF NOT EXISTS recordings (
    episode_id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    reason TEXT NOT NULL,
    file_bytes INTEGER NOT NULL,
    num_steps INTEGER NOT NULL,
    compressed INTEGER NOT NULL,
    curriculum_stage INTEGER NOT NULL,
    total_reward REAL,
    extrinsic_reward REAL,
    survival_steps INTEGER NOT NULL,
    end_reason TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS recordings_stage ON recordings (curriculum_stage);
CREATE INDEX IF NOT EXISTS recordings_reward ON recordings (total_reward);
CREATE TABLE IF NOT EXISTS run_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// One row of `episodes`: the id plus exactly the streamed metadata, so the two compare
/// (docs/decisions.md#acceptance-figures).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRow {
    pub episode_id: u64,
    pub agent_id: u32,
    pub finished_at: u64,
    pub metadata: EpisodeMetadata,
}

/// One row of `recordings`. `path` is relative to the run folder (the db's folder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingRow {
    pub episode_id: u64,
    pub path: String,
    pub reason: String,
    pub file_bytes: u64,
    pub num_steps: u32,
    pub compressed: bool,
    pub curriculum_stage: u32,
    pub total_reward: f32,
    pub extrinsic_reward: f32,
    pub survival_steps: u32,
    pub end_reason: EndReason,
    /// Unix ms when the file was written.
    pub recorded_at: u64,
}

/// An affordance transition count within one episode (docs/decisions.md#one-sqlite-writer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffordanceTransition {
    pub from: String,
    pub to: String,
    pub count: u32,
}

/// Filters for [`Database::list_recordings`]; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingFilter {
    pub stage: Option<u32>,
    pub reason: Option<String>,
    /// Inclusive bounds on the total reward.
    pub min_reward: Option<f32>,
    pub max_reward: Option<f32>,
    /// At most this many rows (newest episodes first); None = all.
    pub limit: Option<usize>,
}

fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(())
}

/// Opens (creating if needed) the database for writing: WAL, busy timeout, schema.
pub(crate) fn open_write(path: &Path) -> Result<Connection, RecordingError> {
    let err = |source| RecordingError::Database {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| RecordingError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let conn = Connection::open(path).map_err(err)?;
    configure(&conn).map_err(err)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), mode, "SQLite did not switch to WAL mode");
    }
    // WAL + NORMAL is durable against process crashes; one transaction per episode.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    conn.execute_batch(SCHEMA).map_err(err)?;
    conn.execute_batch(crate::events::SCHEMA).map_err(err)?;
    Ok(conn)
}

/// An episode row and its affordance transitions in one transaction; replaces an existing
/// row for the same id (a re-run episode after resume), never duplicates.
pub(crate) fn write_episode(
    conn: &mut Connection,
    ep: &LiveEpisode,
    transitions: &BTreeMap<(String, String), u32>,
) -> Result<(), rusqlite::Error> {
    let m = &ep.metadata;
    let visits = serde_json::to_string(&m.affordance_visits).unwrap_or_else(|_| "{}".into());
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT OR REPLACE INTO episodes (episode_id, agent_id, timestamp, finished_at,
            survival_steps, total_reward, extrinsic_reward, intrinsic_reward, intrinsic_weight,
            curriculum_stage, depletion_multiplier, epsilon, end_reason, loss_mean,
            td_error_mean, q_mean, updates, affordance_visits)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            ep.episode_id as i64,
            ep.agent_id,
            m.timestamp,
            ep.finished_at as i64,
            m.survival_steps,
            m.total_reward as f64,
            m.extrinsic_reward as f64,
            m.intrinsic_reward as f64,
            m.intrinsic_weight as f64,
            m.curriculum_stage,
            m.depletion_multiplier as f64,
            m.epsilon as f64,
            m.end_reason.as_str(),
            m.loss_mean.map(f64::from),
            m.td_error_mean.map(f64::from),
            m.q_mean.map(f64::from),
            m.updates,
            visits,
        ],
    )?;
    tx.execute(
        "DELETE FROM affordance_transitions WHERE episode_id = ?1",
        params![ep.episode_id as i64],
    )?;
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO affordance_transitions (episode_id, from_affordance, to_affordance, count)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for ((from, to), count) in transitions {
            ins.execute(params![ep.episode_id as i64, from, to, count])?;
        }
    }
    tx.commit()
}

pub(crate) fn write_recording(
    conn: &mut Connection,
    row: &RecordingRow,
) -> Result<(), rusqlite::Error> {
    conn.execute(
        "INSERT OR REPLACE INTO recordings (episode_id, path, reason, file_bytes, num_steps,
            compressed, curriculum_stage, total_reward, extrinsic_reward, survival_steps,
            end_reason, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            row.episode_id as i64,
            row.path,
            row.reason,
            row.file_bytes as i64,
            row.num_steps,
            row.compressed,
            row.curriculum_stage,
            row.total_reward as f64,
            row.extrinsic_reward as f64,
            row.survival_steps,
            row.end_reason.as_str(),
            row.recorded_at as i64,
        ],
    )?;
    Ok(())
}

pub(crate) fn write_run_state(
    conn: &mut Connection,
    key: &str,
    value: &str,
) -> Result<(), rusqlite::Error> {
    conn.execute(
        "INSERT INTO run_state (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// SQLite stores NaN as NULL; read it back as NaN.
fn f32_col(r: &Row<'_>, i: &str) -> rusqlite::Result<f32> {
    Ok(r.get::<_, Option<f64>>(i)?.map_or(f32::NAN, |v| v as f32))
}

fn opt_f32_col(r: &Row<'_>, i: &str) -> rusqlite::Result<Option<f32>> {
    Ok(r.get::<_, Option<f64>>(i)?.map(|v| v as f32))
}

fn end_reason_col(r: &Row<'_>, i: &str) -> rusqlite::Result<EndReason> {
    let s: String = r.get(i)?;
    s.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            Box::<dyn std::error::Error + Send + Sync>::from(e),
        )
    })
}

fn episode_from_row(r: &Row<'_>) -> rusqlite::Result<EpisodeRow> {
    let visits: String = r.get("affordance_visits")?;
    let affordance_visits = serde_json::from_str(&visits).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(EpisodeRow {
        episode_id: r.get::<_, i64>("episode_id")? as u64,
        agent_id: r.get("agent_id")?,
        finished_at: r.get::<_, i64>("finished_at")? as u64,
        metadata: EpisodeMetadata {
            survival_steps: r.get("survival_steps")?,
            total_reward: f32_col(r, "total_reward")?,
            extrinsic_reward: f32_col(r, "extrinsic_reward")?,
            intrinsic_reward: f32_col(r, "intrinsic_reward")?,
            curriculum_stage: r.get("curriculum_stage")?,
            depletion_multiplier: f32_col(r, "depletion_multiplier")?,
            epsilon: f32_col(r, "epsilon")?,
            intrinsic_weight: f32_col(r, "intrinsic_weight")?,
            affordance_visits,
            end_reason: end_reason_col(r, "end_reason")?,
            timestamp: r.get::<_, Option<f64>>("timestamp")?.unwrap_or(f64::NAN),
            loss_mean: opt_f32_col(r, "loss_mean")?,
            td_error_mean: opt_f32_col(r, "td_error_mean")?,
            q_mean: opt_f32_col(r, "q_mean")?,
            updates: r.get("updates")?,
        },
    })
}

fn recording_from_row(r: &Row<'_>) -> rusqlite::Result<RecordingRow> {
    Ok(RecordingRow {
        episode_id: r.get::<_, i64>("episode_id")? as u64,
        path: r.get("path")?,
        reason: r.get("reason")?,
        file_bytes: r.get::<_, i64>("file_bytes")? as u64,
        num_steps: r.get("num_steps")?,
        compressed: r.get("compressed")?,
        curriculum_stage: r.get("curriculum_stage")?,
        total_reward: f32_col(r, "total_reward")?,
        extrinsic_reward: f32_col(r, "extrinsic_reward")?,
        survival_steps: r.get("survival_steps")?,
        end_reason: end_reason_col(r, "end_reason")?,
        recorded_at: r.get::<_, i64>("recorded_at")? as u64,
    })
}

/// A read connection to a run's `metrics.db` (never writes).
pub struct Database {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path)
            .finish()
    }
}

impl Database {
    /// Opens an existing database read-only (a missing file is an error, never created).
    pub fn open_read(path: &Path) -> Result<Self, RecordingError> {
        if !path.is_file() {
            return Err(RecordingError::NotFound(format!(
                "database {} does not exist",
                path.display()
            )));
        }
        let err = |source| RecordingError::Database {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        configure(&conn).map_err(err)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder paths in `recordings.path` are relative to (the run folder).
    pub fn run_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn err(&self, source: rusqlite::Error) -> RecordingError {
        RecordingError::Database {
            path: self.path.clone(),
            source,
        }
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn database_error(&self, source: rusqlite::Error) -> RecordingError {
        self.err(source)
    }

    /// Episodes with id > `after` (all when None), ascending by id, at most `limit`.
    pub fn list_episodes(
        &self,
        limit: usize,
        after: Option<u64>,
    ) -> Result<Vec<EpisodeRow>, RecordingError> {
        let after = after.map_or(-1, |a| a as i64);
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT * FROM episodes WHERE episode_id > ?1 ORDER BY episode_id ASC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![after, limit as i64], episode_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The newest `limit` episodes, ascending by id (for charts).
    pub fn latest_episodes(&self, limit: usize) -> Result<Vec<EpisodeRow>, RecordingError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT * FROM (SELECT * FROM episodes ORDER BY episode_id DESC LIMIT ?1)
                 ORDER BY episode_id ASC",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![limit as i64], episode_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn episode_count(&self) -> Result<u64, RecordingError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM episodes", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    pub fn episode_row(&self, episode_id: u64) -> Result<Option<EpisodeRow>, RecordingError> {
        self.conn
            .query_row(
                "SELECT * FROM episodes WHERE episode_id = ?1",
                params![episode_id as i64],
                episode_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn affordance_transitions(
        &self,
        episode_id: u64,
    ) -> Result<Vec<AffordanceTransition>, RecordingError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT from_affordance, to_affordance, count FROM affordance_transitions
                 WHERE episode_id = ?1 ORDER BY from_affordance, to_affordance",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![episode_id as i64], |r| {
                Ok(AffordanceTransition {
                    from: r.get(0)?,
                    to: r.get(1)?,
                    count: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Recordings matching `filter`, newest episode first.
    pub fn list_recordings(
        &self,
        filter: &RecordingFilter,
    ) -> Result<Vec<RecordingRow>, RecordingError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT * FROM recordings
                 WHERE (?1 IS NULL OR curriculum_stage = ?1)
                   AND (?2 IS NULL OR reason = ?2)
                   AND (?3 IS NULL OR total_reward >= ?3)
                   AND (?4 IS NULL OR total_reward <= ?4)
                 ORDER BY episode_id DESC LIMIT ?5",
            )
            .map_err(|e| self.err(e))?;
        let limit = filter.limit.map_or(-1, |l| l as i64);
        let rows = st
            .query_map(
                params![
                    filter.stage,
                    filter.reason,
                    filter.min_reward.map(f64::from),
                    filter.max_reward.map(f64::from),
                    limit
                ],
                recording_from_row,
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn recording_row(&self, episode_id: u64) -> Result<Option<RecordingRow>, RecordingError> {
        self.conn
            .query_row(
                "SELECT * FROM recordings WHERE episode_id = ?1",
                params![episode_id as i64],
                recording_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// All run-state keys and values.
    pub fn run_state(&self) -> Result<BTreeMap<String, String>, RecordingError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT key, value FROM run_state ORDER BY key")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
