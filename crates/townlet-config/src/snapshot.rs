//! Config snapshot (docs/decisions.md#config-snapshot-and-config-hash): the pack as used,
//! in the configs-root shape, so that `load_pack(<snapshot>/<pack>)` finds the same global
//! actions, and the overrides in force kept in `<pack>/overrides.yaml` so that the reload
//! applies them again.

use crate::hash::config_hash;
use crate::load::{GLOBAL_ACTIONS_FILE, PACK_FILES, load_pack};
use crate::overrides::OVERRIDES_FILE;
use crate::types::Pack;
use std::io;
use std::path::{Path, PathBuf};

/// Copies the five pack files to `dest/<pack name>/` and the configs root's
/// `global_actions.yaml` (when the pack had one) to `dest/global_actions.yaml`, and
/// writes `pack.overrides` (when there are any) to `dest/<pack name>/overrides.yaml`.
/// Returns the snapshot's pack folder.
///
/// The copy is reloaded and its config hash compared with `pack`'s, so a pack edited on
/// disk after it was loaded is reported (`InvalidData`) instead of snapshotting settings
/// the run never used. Pass the pack as loaded, before any command-line overrides
/// that enter the hash (e.g. `--network`), or this check fails.
pub fn write_snapshot(pack: &Pack, dest: &Path) -> io::Result<PathBuf> {
    let pack_dir = dest.join(&pack.name);
    std::fs::create_dir_all(&pack_dir)?;
    for f in PACK_FILES {
        std::fs::copy(pack.dir.join(f), pack_dir.join(f))?;
    }
    let overrides = pack_dir.join(OVERRIDES_FILE);
    if pack.overrides.is_empty() {
        if overrides.exists() {
            std::fs::remove_file(&overrides)?;
        }
    } else {
        let text = format!(
            "# Values that replace the pack files' (--set, a lab's set:), applied on load.\n{}",
            pack.overrides.to_yaml()
        );
        std::fs::write(&overrides, text)?;
    }
    let global = pack.configs_root.join(GLOBAL_ACTIONS_FILE);
    if global.is_file() {
        std::fs::copy(&global, dest.join(GLOBAL_ACTIONS_FILE))?;
    }
    let reloaded = load_pack(&pack_dir).map_err(|err| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the snapshot in {} does not load: {err}",
                pack_dir.display()
            ),
        )
    })?;
    if config_hash(&reloaded) != config_hash(pack) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the pack files in {} changed since they were loaded; the snapshot in {} \
                 would not match this run",
                pack.dir.display(),
                pack_dir.display()
            ),
        ));
    }
    Ok(pack_dir)
}
