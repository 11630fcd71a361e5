//! Parsing and validation of Townlet config packs (config-packs.md, D26).
//!
//! `load_pack(dir)` reads the five pack files plus `<configs root>/global_actions.yaml`,
//! collects **all** errors (each naming `<pack>/<file>: <key path>: <message>`), and
//! returns typed structs. No other crate reads YAML.

mod types;

pub use types::*;
