//! `ReplayManager`: load a recorded episode by id (database row + file), step through it,
//! seek (0-based step indices), list recordings with filters.

use crate::db::{Database, RecordingFilter, RecordingRow};
use crate::error::RecordingError;
use crate::file::{RecordedEpisode, read_recording};
use crate::types::{LiveEpisode, RecordedStep};
use std::path::Path;

#[derive(Debug)]
pub struct ReplayManager {
    db: Database,
    loaded: Option<(RecordingRow, RecordedEpisode)>,
    position: usize,
}

impl ReplayManager {
    /// Opens a run's `metrics.db` read-only; recording paths resolve against its folder.
    pub fn open(database: &Path) -> Result<Self, RecordingError> {
        Ok(Self::new(Database::open_read(database)?))
    }

    pub fn new(db: Database) -> Self {
        Self {
            db,
            loaded: None,
            position: 0,
        }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn list_recordings(
        &self,
        filter: &RecordingFilter,
    ) -> Result<Vec<RecordingRow>, RecordingError> {
        self.db.list_recordings(filter)
    }

    /// Loads the recording of `episode_id` and rewinds to step index 0.
    pub fn load(&mut self, episode_id: u64) -> Result<&LiveEpisode, RecordingError> {
        let row = self.db.recording_row(episode_id)?.ok_or_else(|| {
            RecordingError::NotFound(format!("no recording of episode {episode_id}"))
        })?;
        let path = self.db.run_dir().join(&row.path);
        let rec = read_recording(&path)?;
        if rec.episode.episode_id != episode_id {
            return Err(RecordingError::NotFound(format!(
                "{} holds episode {}, not {episode_id}",
                path.display(),
                rec.episode.episode_id
            )));
        }
        self.loaded = Some((row, rec));
        self.position = 0;
        Ok(&self
            .loaded
            .as_ref()
            .map(|(_, r)| r)
            .expect("just loaded")
            .episode)
    }

    pub fn episode(&self) -> Option<&LiveEpisode> {
        self.loaded.as_ref().map(|(_, r)| &r.episode)
    }

    pub fn recording(&self) -> Option<&RecordingRow> {
        self.loaded.as_ref().map(|(row, _)| row)
    }

    /// Why the loaded episode was recorded.
    pub fn reason(&self) -> Option<&str> {
        self.loaded.as_ref().map(|(_, r)| r.reason.as_str())
    }

    /// Number of steps of the loaded episode (0 when none is loaded).
    pub fn len(&self) -> usize {
        self.episode().map_or(0, LiveEpisode::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Current 0-based step index.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The step at the current index (None when nothing is loaded or the episode is empty).
    pub fn current_step(&self) -> Option<RecordedStep> {
        self.episode()?.step(self.position)
    }

    /// Advances one step and returns it; None (and no move) at the last step.
    pub fn next_step(&mut self) -> Option<RecordedStep> {
        if self.position + 1 >= self.len() {
            return None;
        }
        self.position += 1;
        self.current_step()
    }

    /// Whether the current index is the last step.
    pub fn at_end(&self) -> bool {
        self.position + 1 >= self.len()
    }

    /// Moves to 0-based step index `index` (bounds-checked) and returns that step.
    pub fn seek(&mut self, index: usize) -> Result<RecordedStep, RecordingError> {
        let len = self.len();
        if self.loaded.is_none() {
            return Err(RecordingError::NotFound("no episode loaded".into()));
        }
        if index >= len {
            return Err(RecordingError::SeekOutOfRange { index, len });
        }
        self.position = index;
        self.current_step()
            .ok_or(RecordingError::SeekOutOfRange { index, len })
    }

    /// Back to step index 0.
    pub fn reset(&mut self) {
        self.position = 0;
    }
}
