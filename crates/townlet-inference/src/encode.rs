//! The message encodings the server uses, public for benchmarks and tools (as for the
//! one run of [`crate::serve`], id [`crate::MAIN_RUN`]).

use townlet_protocol::{ServerMessage, Source, to_json, unix_ms_now};
use townlet_recording::LiveEpisode;

/// The `episode` JSON of a recorded or live episode, as the server sends it (made once
/// per episode and shared by every client).
pub fn episode_json(
    episode: &LiveEpisode,
    source: Source,
    checkpoint_episode: Option<u64>,
) -> String {
    to_json(&crate::convert::episode(
        crate::MAIN_RUN,
        episode,
        source,
        checkpoint_episode,
        unix_ms_now(),
    ))
}

/// The `episode_summary` JSON pushed to every client.
pub fn summary_json(episode: &LiveEpisode, source: Source) -> String {
    to_json(&crate::convert::summary(
        crate::MAIN_RUN,
        episode,
        source,
        None,
        unix_ms_now(),
    ))
}

/// The `episode` message as a value (tests compare it field by field with the stored
/// episode).
pub fn episode_message(episode: &LiveEpisode, source: Source) -> ServerMessage {
    crate::convert::episode(crate::MAIN_RUN, episode, source, None, unix_ms_now())
}
