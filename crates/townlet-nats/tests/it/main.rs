//! townlet-nats integration tests: each starts its own `nats-server` (JetStream, free port,
//! temporary store). `cargo xtask test` provides the binary (apt-get when absent) and sets
//! `TOWNLET_REQUIRE_NATS`; a plain `cargo test` without it skips these tests with a message.

mod bus;
mod demo;
mod support;
