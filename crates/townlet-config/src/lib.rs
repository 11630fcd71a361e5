//! Parsing and validation of Townlet config packs (config-packs.md, D26).
//!
//! `load_pack(dir)` reads the five pack files plus `<configs root>/global_actions.yaml`,
//! collects **all** errors (each naming `<pack>/<file>: <key path>: <message>`), and
//! returns typed structs. No other crate reads YAML.

mod error;
mod hash;
mod load;
mod snapshot;
mod types;
mod walk;

pub use error::{ConfigError, ConfigErrors};
pub use hash::{config_hash, config_hash_diff, config_hash_hex};
pub use load::{GLOBAL_ACTIONS_FILE, PACK_FILES, load_pack};
pub use snapshot::write_snapshot;
pub use types::*;
