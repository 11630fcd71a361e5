//! Townlet over NATS JetStream (docs/deployment.md): trainers on any machines publish
//! their runs to a NATS server, viewer servers anywhere subscribe and serve every run to
//! their browsers as if it trained in the same process. One machine needs none of
//! this: the in-process live channel stays the default.
//!
//! * [`publish_queue`] + [`Publisher`]: the trainer side. The recorder's live-stream
//!   callback offers each finished episode to a bounded queue (never waits); the
//!   publisher, on its own thread, publishes the summary and the full episode and keeps
//!   the run descriptor (with a heartbeat) in the bucket.
//! * [`subscribe`]: the viewer side. Adds every run of the bucket to a
//!   [`townlet_inference::Runs`] registry, with its history from the streams, then
//!   follows it live.
//!
//! ```no_run
//! # fn demo(world: townlet_inference::WorldInfo) -> Result<(), townlet_nats::NatsError> {
//! use townlet_nats::{NatsOptions, Publisher, RunDescriptor, publish_queue};
//! let (sender, queue) = publish_queue(townlet_nats::PUBLISH_QUEUE_CAPACITY);
//! let callback = sender.into_callback(); // hand to DemoRunner::new / EpisodeRecorder::new
//! # drop(callback);
//! let run = RunDescriptor::live("my-run", "my-run", 7, Default::default(), world);
//! let publisher = Publisher::start(&NatsOptions::new("nats://127.0.0.1:4222"), queue, run)?;
//! // … train …
//! let report = publisher.finish(std::time::Duration::from_secs(5));
//! println!("{report}");
//! # Ok(())
//! # }
//! ```

mod error;
mod layout;
mod publish;
mod serve;
mod subscribe;

pub use error::{NatsError, redact};
pub use layout::{
    BusRunStatus, BusSummary, EPISODE_STREAM, EPISODES_PER_RUN, FORMAT_VERSION, Layout,
    MAX_BUS_RUN_ID_LEN, RUNS_BUCKET, RunDescriptor, SUBJECT_PREFIX, SUMMARIES_PER_RUN,
    SUMMARY_STREAM, bus_run_id, decode_episode, encode_episode, episode_subject, run_id_of_subject,
    summary_subject, unix_ms, valid_bus_run_id,
};
pub use publish::{
    BusQueue, BusSender, HEARTBEAT, NatsOptions, PUBLISH_QUEUE_CAPACITY, PublishCounters,
    PublishReport, Publisher, both, publish_queue,
};
pub use serve::serve_bus;
pub use subscribe::{STALE_HEARTBEATS, SubscribeCounters, Subscription, subscribe};

/// Prometheus text for `(name, kind, help, value)` rows (names get `townlet_`).
pub(crate) fn prometheus(rows: &[(&str, &str, &str, u64)]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (name, kind, help, value) in rows {
        let _ = writeln!(out, "# HELP townlet_{name} {help}");
        let _ = writeln!(out, "# TYPE townlet_{name} {kind}");
        let _ = writeln!(out, "townlet_{name} {value}");
    }
    out
}

/// An error and its causes on one line (for log lines).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
