//! The inference server's integration tests, in one test binary.

mod checkpoint;
mod common;
mod live;
mod probe;
mod replay;
mod runs;
