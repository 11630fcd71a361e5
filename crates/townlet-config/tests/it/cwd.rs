//! The pack loads (with its 8 actions) whatever the process's working directory is:
//! global_actions.yaml is found beside the pack folder, not in the cwd.
//! The cwd is process-wide: the test holds [`cwd_lock`], which puts it back afterwards.

use crate::common::{cwd_lock, fixture};
use std::path::Path;
use townlet_config::load_pack;

#[test]
fn pack_loads_from_any_working_directory() {
    let f = fixture("L2_partial_observability");
    let elsewhere = tempfile::tempdir().expect("temp dir");
    // Declared after the temp dirs, so the cwd is restored before they are removed.
    let _cwd = cwd_lock();

    // Absolute path, cwd somewhere unrelated.
    std::env::set_current_dir(elsewhere.path()).expect("cd");
    let p = load_pack(&f.pack).expect("absolute path");
    assert_eq!(p.action_dim(), 8);
    assert!(p.warnings.is_empty());

    // Relative path from the configs root's parent.
    std::env::set_current_dir(f.tmp.path()).expect("cd");
    let p = load_pack(Path::new("configs/L2_partial_observability")).expect("relative");
    assert_eq!(p.action_dim(), 8);
    assert_eq!(p.configs_root, Path::new("configs"));

    // From inside the configs root, and from inside the pack folder itself.
    std::env::set_current_dir(&f.root).expect("cd");
    let p = load_pack(Path::new("L2_partial_observability")).expect("bare name");
    assert_eq!(p.action_dim(), 8);
    std::env::set_current_dir(&f.pack).expect("cd");
    let p = load_pack(Path::new(".")).expect("dot");
    assert_eq!(p.name, "L2_partial_observability");
    assert_eq!(p.action_dim(), 8);
}
