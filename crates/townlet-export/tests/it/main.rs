//! The export crate's integration tests, in one test binary.

mod common;
mod gif_export;
mod mp4_export;
