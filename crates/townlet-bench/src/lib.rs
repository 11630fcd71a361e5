//! Townlet's training and streaming benchmarks (`cargo xtask bench`; method in
//! docs/decisions.md#acceptance-figures, results in `docs/benchmarks.md`).
//!
//! * [`training`]: L1 throughput per device/thread count, DQN update cost, phase shares.
//! * [`streaming`]: training CPU per env step with streaming off vs on (one viewer
//!   following live at 1×) in interleaved pairs, `finished_at → episode_summary` latency,
//!   and the live queue's size at capacity.
//! * [`viewers`]: many WebSocket viewers (summaries + a full episode pulled every 5 s)
//!   against the unified server while it trains.
//! * [`probe`]: "ask the agent" probe latency at step 400 (L1, L2 recurrent) while
//!   training runs, and the training slowdown while probes run back to back.
//! * [`speed`]: the training-speed figures (L1, L2 recurrent, demo vs train), hand-written
//!   gradients against the autodiff path in interleaved pairs.
//! * [`nats`]: trainers and viewer servers joined by NATS JetStream: publish on/off
//!   pairs, latency through the bus, many trainers and clients (not part of `all`).
//! * [`lab`]: several runs trained side by side in one process (a lab), each followed by
//!   one viewer: per-run throughput and `finished_at → episode_summary` latency.
//! * [`export`]: a 500-step episode exported as a GIF and as an MP4 (seconds, bytes).
//!
//! Nothing here is a pass/fail test: timings are printed with the targets beside them.

pub mod client;
pub mod export;
pub mod lab;
pub mod nats;
pub mod presenter;
pub mod probe;
pub mod procfs;
pub mod speed;
pub mod stats;
pub mod streaming;
pub mod training;
pub mod viewers;

use std::path::PathBuf;

/// The workspace root (packs are found from here, whatever the cwd).
pub fn workspace() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The L1 pack every benchmark trains on.
pub fn l1_pack() -> PathBuf {
    workspace().join("configs/L1_full_observability")
}
