//! Training events (docs/decisions.md#training-events): a change a teacher made to a
//! running trainer (pause, ε, learning rate, …), kept in `metrics.db`'s `training_events`
//! table through the writer thread (docs/decisions.md#one-sqlite-writer) and read back by
//! the server for the charts' markers.

use crate::db::Database;
use crate::error::RecordingError;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

/// The table, created on open for writing; a run folder written before it existed gets
/// it the next time a trainer opens it, and readers treat a missing table as no events.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS training_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    episode INTEGER NOT NULL,
    who TEXT NOT NULL,
    control TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL
);
";

/// One applied change: when, before which episode (the first one played with the new
/// value), who asked, what changed and from what to what (as shown to people:
/// `"0.05"`, `"schedule"`, `"paused"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingEvent {
    /// Unix ms when the trainer applied it.
    pub time_ms: u64,
    /// The first episode played with the new value.
    pub episode: u64,
    /// Who asked (`teacher`, or the caller's name for it).
    pub who: String,
    /// `pause`, `epsilon`, `learning_rate`, `intrinsic_weight`, `stage`, `depletion_multiplier`.
    pub control: String,
    pub old: String,
    pub new: String,
}

pub(crate) fn write_event(conn: &mut Connection, ev: &TrainingEvent) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO training_events (time_ms, episode, who, control, old_value, new_value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            ev.time_ms as i64,
            ev.episode as i64,
            ev.who,
            ev.control,
            ev.old,
            ev.new
        ],
    )?;
    Ok(())
}

impl Database {
    /// Every training event of the run, oldest first (none for a database written before
    /// training events existed).
    pub fn training_events(&self) -> Result<Vec<TrainingEvent>, RecordingError> {
        let conn = self.connection();
        let exists: bool = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'training_events'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.database_error(e))?;
        if !exists {
            return Ok(Vec::new());
        }
        let mut st = conn
            .prepare_cached(
                "SELECT time_ms, episode, who, control, old_value, new_value
                 FROM training_events ORDER BY id",
            )
            .map_err(|e| self.database_error(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(TrainingEvent {
                    time_ms: r.get::<_, i64>(0)? as u64,
                    episode: r.get::<_, i64>(1)? as u64,
                    who: r.get(2)?,
                    control: r.get(3)?,
                    old: r.get(4)?,
                    new: r.get(5)?,
                })
            })
            .map_err(|e| self.database_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.database_error(e))
    }
}
