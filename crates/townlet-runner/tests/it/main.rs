//! The runner's integration tests, in one test binary.

mod common;
mod errors;
mod runner;
