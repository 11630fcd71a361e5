//! The export crate's integration tests, in one test binary.

mod gif_export;
