//! The recording crate's integration tests, in one test binary: the recorder and its
//! files, and the `metrics.db` index.

mod common;
mod database;
mod recorder;
