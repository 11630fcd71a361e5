//! The layout on the bus (docs/deployment.md#the-layout-on-the-bus): subjects, the two
//! streams, the key-value bucket of run descriptors, and what each message holds.
//! Whoever arrives first (trainer or viewer server) creates the streams and the bucket,
//! with the same settings.

use crate::error::NatsError;
use async_nats::jetstream::{self, kv, stream};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use townlet_inference::WorldInfo;
use townlet_recording::{EpisodeMetadata, LiveEpisode};

/// Subject prefix of everything Townlet publishes.
pub const SUBJECT_PREFIX: &str = "townlet.run";
/// The stream of episode summaries (`townlet.run.<run_id>.summary`).
pub const SUMMARY_STREAM: &str = "TOWNLET_SUMMARIES";
/// The stream of full episodes (`townlet.run.<run_id>.episode`).
pub const EPISODE_STREAM: &str = "TOWNLET_EPISODES";
/// The key-value bucket of run descriptors (key: run id).
pub const RUNS_BUCKET: &str = "townlet_runs";
/// Summaries kept per run (oldest discarded): the chart history a viewer starts from.
pub const SUMMARIES_PER_RUN: i64 = 1000;
/// Full episodes kept per run (oldest discarded): the viewer's episode ring.
pub const EPISODES_PER_RUN: i64 = 200;
/// Magic of the binary episode payload (townlet-codec envelope, LZ4, bincode body).
pub const EPISODE_MAGIC: &[u8; 5] = b"TWBUS";
/// Version of the episode payload and of the JSON summary and descriptor.
pub const FORMAT_VERSION: u16 = 1;
/// Longest run id on the bus.
pub const MAX_BUS_RUN_ID_LEN: usize = 64;

/// Whether `id` can name a run on the bus: 1..=64 characters from `[A-Za-z0-9_-]` (a
/// subject token and a key of the bucket; stricter than a viewer server's run ids).
pub fn valid_bus_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_BUS_RUN_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// A bus run id made from any text (a pack and run folder name): other characters become
/// `-`, the end is kept when it is too long.
pub fn bus_run_id(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let skip = clean.len().saturating_sub(MAX_BUS_RUN_ID_LEN);
    let id = &clean[skip..];
    if id.is_empty() {
        "run".to_owned()
    } else {
        id.to_owned()
    }
}

/// `townlet.run.<run_id>.summary`
pub fn summary_subject(run_id: &str) -> String {
    format!("{SUBJECT_PREFIX}.{run_id}.summary")
}

/// `townlet.run.<run_id>.episode`
pub fn episode_subject(run_id: &str) -> String {
    format!("{SUBJECT_PREFIX}.{run_id}.episode")
}

/// Whether a trainer is still training a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusRunStatus {
    Live,
    Finished,
}

/// A run's descriptor: the value under its id in the [`RUNS_BUCKET`] bucket (JSON). The
/// trainer puts it when it starts, again every heartbeat, and with `finished` at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDescriptor {
    pub format: u16,
    pub run_id: String,
    /// What the run picker shows (the run folder's name).
    pub name: String,
    pub seed: u64,
    /// The overridden pack values, as given (`--set`).
    pub overrides: BTreeMap<String, String>,
    /// What `hello` tells a viewer (pack name, grid, meters, actions, …).
    pub world: WorldInfo,
    pub status: BusRunStatus,
    /// The host the trainer runs on.
    pub host: String,
    /// Unix ms when the trainer started publishing.
    pub started_ms: u64,
    /// Unix ms of this put (the heartbeat).
    pub heartbeat_ms: u64,
    /// Heartbeat period in ms: a viewer calls the run stale after a few missed ones.
    pub heartbeat_interval_ms: u64,
    /// Episodes the trainer finished and offered to the publisher so far.
    pub episodes_offered: u64,
    /// Episodes published (summary and episode acknowledged by the stream).
    pub episodes_published: u64,
    /// Episodes not published (queue full, bus unreachable, publish failed).
    pub episodes_unpublished: u64,
}

impl RunDescriptor {
    /// A live run's descriptor for a trainer on `pack` (its seed and overrides).
    pub fn for_pack(
        run_id: &str,
        name: &str,
        pack: &townlet_config::Pack,
        world: WorldInfo,
    ) -> RunDescriptor {
        let overrides = pack
            .overrides
            .iter()
            .map(|o| (o.key(), o.value_text().to_owned()))
            .collect();
        RunDescriptor::live(run_id, name, pack.training.seed, overrides, world)
    }

    /// A live run's descriptor; the publisher fills in the times and counters.
    pub fn live(
        run_id: &str,
        name: &str,
        seed: u64,
        overrides: BTreeMap<String, String>,
        world: WorldInfo,
    ) -> RunDescriptor {
        let now = unix_ms();
        RunDescriptor {
            format: FORMAT_VERSION,
            run_id: run_id.to_owned(),
            name: name.to_owned(),
            seed,
            overrides,
            world,
            status: BusRunStatus::Live,
            host: std::env::var("HOSTNAME").unwrap_or_default(),
            started_ms: now,
            heartbeat_ms: now,
            heartbeat_interval_ms: crate::publish::HEARTBEAT.as_millis() as u64,
            episodes_offered: 0,
            episodes_published: 0,
            episodes_unpublished: 0,
        }
    }
}

/// An episode summary (`townlet.run.<run_id>.summary`, JSON): enough for charts and run
/// figures without the steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusSummary {
    pub format: u16,
    pub run_id: String,
    pub episode_id: u64,
    pub agent_id: u32,
    /// Unix ms, stamped on the training thread when the episode ended.
    pub finished_at: u64,
    pub steps: u64,
    pub metadata: EpisodeMetadata,
}

impl BusSummary {
    pub fn of(run_id: &str, ep: &LiveEpisode) -> BusSummary {
        BusSummary {
            format: FORMAT_VERSION,
            run_id: run_id.to_owned(),
            episode_id: ep.episode_id,
            agent_id: ep.agent_id,
            finished_at: ep.finished_at,
            steps: ep.len() as u64,
            metadata: ep.metadata.clone(),
        }
    }
}

/// The full episode payload (`townlet.run.<run_id>.episode`): the recorder's columns in a
/// townlet-codec envelope (CRC-checked, LZ4).
pub fn encode_episode(ep: &LiveEpisode) -> Result<Vec<u8>, townlet_codec::CodecError> {
    townlet_codec::encode(EPISODE_MAGIC, FORMAT_VERSION, ep, true)
}

/// Reads an episode payload; anything else (wrong magic, version, CRC, body) is an error.
pub fn decode_episode(bytes: &[u8]) -> Result<LiveEpisode, townlet_codec::CodecError> {
    let (_, ep) = townlet_codec::decode(EPISODE_MAGIC, 1..=FORMAT_VERSION, bytes)?;
    Ok(ep)
}

/// The run id in a subject `townlet.run.<id>.<kind>`, when it has that shape.
pub fn run_id_of_subject<'a>(subject: &'a str, kind: &str) -> Option<&'a str> {
    let rest = subject.strip_prefix(SUBJECT_PREFIX)?.strip_prefix('.')?;
    let id = rest.strip_suffix(kind)?.strip_suffix('.')?;
    valid_bus_run_id(id).then_some(id)
}

fn stream_config(name: &str, kind: &str, per_subject: i64) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects: vec![format!("{SUBJECT_PREFIX}.*.{kind}")],
        max_messages_per_subject: per_subject,
        discard: stream::DiscardPolicy::Old,
        storage: stream::StorageType::File,
        ..Default::default()
    }
}

/// The streams and the bucket, created when absent (same settings for everyone).
#[derive(Clone)]
pub struct Layout {
    pub js: jetstream::Context,
    pub summaries: Arc<stream::Stream>,
    pub episodes: Arc<stream::Stream>,
    pub runs: kv::Store,
}

impl std::fmt::Debug for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layout").finish_non_exhaustive()
    }
}

impl Layout {
    /// Gets (or creates) both streams and the bucket.
    pub async fn ensure(client: &async_nats::Client) -> Result<Layout, NatsError> {
        let js = jetstream::new(client.clone());
        let layout = |e: Box<dyn std::error::Error + Send + Sync>| NatsError::Layout { source: e };
        let summaries = js
            .get_or_create_stream(stream_config(SUMMARY_STREAM, "summary", SUMMARIES_PER_RUN))
            .await
            .map_err(|e| layout(e.into()))?;
        let episodes = js
            .get_or_create_stream(stream_config(EPISODE_STREAM, "episode", EPISODES_PER_RUN))
            .await
            .map_err(|e| layout(e.into()))?;
        // The bucket's stream is created here with the settings the client's
        // `create_key_value` would use: that call first reads account fields that
        // nats-server 2.9 (Debian's) does not send.
        js.get_or_create_stream(stream::Config {
            name: format!("KV_{RUNS_BUCKET}"),
            description: Some("Townlet run descriptors (key: run id)".to_owned()),
            subjects: vec![format!("$KV.{RUNS_BUCKET}.>")],
            max_messages_per_subject: 1,
            storage: stream::StorageType::File,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            num_replicas: 1,
            discard: stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .map_err(|e| layout(e.into()))?;
        let runs = js
            .get_key_value(RUNS_BUCKET)
            .await
            .map_err(|e| layout(e.into()))?;
        Ok(Layout {
            js,
            summaries: Arc::new(summaries),
            episodes: Arc::new(episodes),
            runs,
        })
    }
}

/// Unix time in ms.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_and_subjects() {
        assert!(valid_bus_run_id("L0_0_minimal-2026-12-05_101500"));
        assert!(!valid_bus_run_id("a.b"));
        assert!(!valid_bus_run_id("a~b"));
        assert!(!valid_bus_run_id(""));
        assert_eq!(bus_run_id("L0/2026-12-05 10:15"), "L0-2026-12-05-10-15");
        assert_eq!(bus_run_id(&"x".repeat(70)).len(), MAX_BUS_RUN_ID_LEN);
        assert_eq!(
            run_id_of_subject(&episode_subject("r-1"), "episode"),
            Some("r-1")
        );
        assert_eq!(
            run_id_of_subject("townlet.run.r-1.summary", "episode"),
            None
        );
        assert_eq!(
            run_id_of_subject("townlet.run.a.b.episode", "episode"),
            None
        );
        assert_eq!(run_id_of_subject("other.r.episode", "episode"), None);
    }

    #[test]
    fn episode_payload_round_trips_and_garbage_is_an_error() {
        let ep = LiveEpisode {
            episode_id: 3,
            agent_id: 0,
            metadata: EpisodeMetadata {
                survival_steps: 2,
                ..Default::default()
            },
            layout: vec![],
            start: Default::default(),
            steps: Default::default(),
            finished_at: 7,
        };
        let bytes = encode_episode(&ep).unwrap();
        assert_eq!(decode_episode(&bytes).unwrap(), ep);
        assert!(decode_episode(b"hello").is_err());
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert!(decode_episode(&bad).is_err());
    }
}
