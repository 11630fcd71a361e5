//! The integration tests of townlet-config, in one test binary (one link instead of one
//! per file). Modules that depend on the process's current directory hold
//! `common::cwd_lock()`.

mod api;
mod common;
mod cwd;
mod errors;
mod lab;
mod overrides;
mod said_once;
mod shipped_packs;
