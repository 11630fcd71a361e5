//! Parsing and validation of Townlet config packs (docs/packs.md).
//!
//! `load_pack(dir)` reads the five pack files plus `<configs root>/global_actions.yaml`,
//! collects **all** errors (each naming `<pack>/<file>: <key path>: <message>`), and
//! returns typed structs. No other crate reads YAML.
//!
//! ```
//! use std::path::Path;
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/L0_0_minimal");
//! let pack = townlet_config::load_pack(Path::new(dir)).expect("a shipped pack loads");
//! let grid = &pack.substrate;
//! println!(
//!     "{}: {}x{} grid, meters {:?}, actions {:?}",
//!     pack.name,
//!     grid.width,
//!     grid.height,
//!     pack.meter_names(),
//!     pack.action_names()
//! );
//! assert_eq!(pack.name, "L0_0_minimal");
//!
//! // A pack that does not load returns every problem, one `file: key: message` each.
//! let err = townlet_config::load_pack(Path::new("no/such/pack")).unwrap_err();
//! assert_eq!(err.to_string(), "no/such/pack: pack folder not found");
//! ```

mod error;
mod hash;
mod lab;
mod load;
mod overrides;
mod snapshot;
mod types;
mod walk;

pub use error::{ConfigError, ConfigErrors};
pub use hash::{config_hash, config_hash_diff, config_hash_hex};
pub use lab::{Lab, LabRun, load_lab};
pub use load::{GLOBAL_ACTIONS_FILE, PACK_FILES, load_pack, load_pack_with};
pub use overrides::{
    OVERRIDES_FILE, Origin, Override, OverrideError, Overrides, TRAINING_SECTIONS,
};
pub use snapshot::write_snapshot;
pub use types::*;
