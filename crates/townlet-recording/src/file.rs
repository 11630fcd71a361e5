//! Episode files (docs/decisions.md#episode-files): `recordings/episode_000123.twrec`, a
//! `townlet-codec` envelope with magic `TWREC` around the bincode of [`RecordedEpisode`].

use crate::error::RecordingError;
use crate::types::LiveEpisode;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const RECORDING_MAGIC: &[u8; 5] = b"TWREC";
/// Current format version; readers accept 1..=this.
pub const RECORDING_VERSION: u16 = 1;
pub const RECORDING_EXTENSION: &str = "twrec";

/// What a recording file holds: the episode exactly as streamed, plus why it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEpisode {
    pub reason: String,
    pub episode: LiveEpisode,
}

/// Serialises exactly like [`RecordedEpisode`] without owning the episode.
#[derive(Serialize)]
struct RecordedEpisodeRef<'a> {
    reason: &'a str,
    episode: &'a LiveEpisode,
}

/// `episode_000123.twrec`.
pub fn recording_file_name(episode_id: u64) -> String {
    format!("episode_{episode_id:06}.{RECORDING_EXTENSION}")
}

/// Serialise an episode into file bytes.
pub fn encode_recording(
    reason: &str,
    episode: &LiveEpisode,
    compress: bool,
) -> Result<Vec<u8>, RecordingError> {
    let rec = RecordedEpisodeRef { reason, episode };
    Ok(townlet_codec::encode(
        RECORDING_MAGIC,
        RECORDING_VERSION,
        &rec,
        compress,
    )?)
}

pub fn decode_recording(bytes: &[u8]) -> Result<RecordedEpisode, RecordingError> {
    let (_, rec) = townlet_codec::decode(RECORDING_MAGIC, 1..=RECORDING_VERSION, bytes)?;
    Ok(rec)
}

/// Writes atomically (temp name, fsync, rename); returns the file size.
pub fn write_recording(
    path: &Path,
    reason: &str,
    episode: &LiveEpisode,
    compress: bool,
) -> Result<u64, RecordingError> {
    let bytes = encode_recording(reason, episode, compress)?;
    townlet_codec::write_atomic(path, &bytes)?;
    Ok(bytes.len() as u64)
}

pub fn read_recording(path: &Path) -> Result<RecordedEpisode, RecordingError> {
    let bytes = townlet_codec::read_file(path)?;
    decode_recording(&bytes)
}
