//! Replay from the run's `metrics.db` and recording files. SQLite and file reads run on
//! the blocking pool, never on the async threads.

use crate::convert;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use townlet_protocol::{self as proto, ErrorCode, ProtocolError};
use townlet_recording::{Database, LiveEpisode, RecordingError, RecordingFilter};

/// The run's database path, when the server has a run folder.
pub(crate) fn db_path(run_dir: Option<&Path>) -> Result<PathBuf, ProtocolError> {
    let dir = run_dir.ok_or_else(|| {
        ProtocolError::new(
            ErrorCode::NotAvailable,
            "this server has no run folder, so there are no recordings",
        )
    })?;
    Ok(dir.join("metrics.db"))
}

fn db_error(e: RecordingError) -> ProtocolError {
    match e {
        RecordingError::NotFound(m) => ProtocolError::new(ErrorCode::NotAvailable, m),
        other => ProtocolError::new(ErrorCode::Internal, other.to_string()),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ProtocolError> + Send + 'static,
) -> Result<T, ProtocolError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ProtocolError::new(ErrorCode::Internal, format!("worker failed: {e}")))?
}

/// `list_recordings` (and `GET /api/recordings`): newest first, `total` = all matches.
pub(crate) async fn list(
    run_dir: Option<&Path>,
    filters: proto::RecordingFilters,
) -> Result<proto::Recordings, ProtocolError> {
    filters.validate()?;
    let path = db_path(run_dir)?;
    blocking(move || {
        let db = Database::open_read(&path).map_err(db_error)?;
        let rows = db
            .list_recordings(&RecordingFilter {
                stage: filters.stage,
                reason: filters.reason.clone(),
                min_reward: None,
                max_reward: None,
                limit: None,
            })
            .map_err(db_error)?;
        // Reward bounds are on the extrinsic reward, which the index filter does
        // not know; end reason likewise.
        let matching: Vec<_> = rows
            .iter()
            .filter(|r| {
                filters
                    .end_reason
                    .is_none_or(|e| convert::end_reason(r.end_reason) == e)
                    && filters
                        .min_reward
                        .is_none_or(|lo| f64::from(r.extrinsic_reward) >= lo)
                    && filters
                        .max_reward
                        .is_none_or(|hi| f64::from(r.extrinsic_reward) <= hi)
            })
            .collect();
        let total = matching.len() as u64;
        let items = matching
            .into_iter()
            .take(filters.effective_limit() as usize)
            .map(convert::recording_info)
            .collect();
        // The caller names the run.
        Ok(proto::Recordings {
            run_id: String::new(),
            items,
            total,
        })
    })
    .await
}

/// A recorded episode by id; `unknown_episode` when the run has no recording of it.
pub(crate) async fn load(
    run_dir: Option<&Path>,
    episode_id: u64,
) -> Result<Arc<LiveEpisode>, ProtocolError> {
    let path = db_path(run_dir)?;
    blocking(move || {
        let unknown = || {
            ProtocolError::new(
                ErrorCode::UnknownEpisode,
                format!("episode {episode_id} is neither recent nor recorded"),
            )
        };
        if !path.is_file() {
            return Err(unknown());
        }
        let mut replay = townlet_recording::ReplayManager::open(&path).map_err(db_error)?;
        match replay.load(episode_id) {
            Ok(ep) => Ok(Arc::new(ep.clone())),
            Err(RecordingError::NotFound(_)) => Err(unknown()),
            Err(e) => Err(ProtocolError::new(
                ErrorCode::Internal,
                format!("recording of episode {episode_id} is unreadable: {e}"),
            )),
        }
    })
    .await
}

/// `GET /api/episodes?limit=N`: the newest metrics rows, oldest first.
pub(crate) async fn episodes(
    run_dir: Option<&Path>,
    limit: usize,
) -> Result<Vec<townlet_recording::EpisodeRow>, ProtocolError> {
    let path = db_path(run_dir)?;
    blocking(move || {
        let db = Database::open_read(&path).map_err(db_error)?;
        db.latest_episodes(limit).map_err(db_error)
    })
    .await
}
