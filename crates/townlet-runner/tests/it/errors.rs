//! The errors a user meets with a bad `--run` folder or a checkpoint of another pack, as
//! printed: the whole `source()` chain, each thing said once.

use crate::common::{chain, opts, refused, repo, train};
use townlet_agent::checkpoint::{checkpoint_file_name, list_checkpoints};
use townlet_runner::RunnerOptions;

#[test]
fn a_run_folder_that_cannot_be_created_names_the_folder_then_the_os_error() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("not-a-folder");
    std::fs::write(&file, "x").unwrap();
    assert_eq!(
        chain(&refused(&opts(&file, 2, 1))),
        format!(
            "error: cannot create run folder {}\n  caused by: Not a directory (os error 20)",
            file.display()
        )
    );
}

#[test]
fn a_folder_that_is_not_a_run_cannot_be_resumed() {
    let t = tempfile::tempdir().unwrap();
    let resume = |dir: &std::path::Path| RunnerOptions {
        run_dir: Some(dir.to_path_buf()),
        ..Default::default()
    };
    assert_eq!(
        chain(&refused(&resume(t.path()))),
        format!(
            "error: {} is not a Townlet run folder (it has no config_snapshot/); pass --pack to start a new run in it",
            t.path().display()
        )
    );
    let absent = t.path().join("absent");
    assert_eq!(
        chain(&refused(&resume(&absent))),
        format!(
            "error: run folder {} does not exist; pass --pack to start a new run there",
            absent.display()
        )
    );
    assert_eq!(
        chain(&refused(&RunnerOptions::default())),
        "error: no pack given: pass --pack for a new run, or --run with an existing run folder"
    );
}

#[test]
fn a_run_folder_with_an_empty_snapshot_is_named() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("config_snapshot")).unwrap();
    assert_eq!(
        chain(&refused(&RunnerOptions {
            run_dir: Some(t.path().to_path_buf()),
            ..Default::default()
        })),
        format!(
            "error: run folder {} has no pack in its config_snapshot/ (is it a Townlet run folder?)",
            t.path().display()
        )
    );
}

#[test]
fn a_checkpoint_of_another_pack_names_the_run_the_checkpoint_and_both_packs() {
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("minimal");
    train(&opts(&run, 2, 1));
    let other = t.path().join("dual");
    train(&RunnerOptions {
        pack_dir: Some(repo().join("configs/L0_5_dual_resource")),
        ..opts(&other, 3, 1)
    });
    // The other run's newest checkpoint lands in this run as its newest.
    let (_, newest) = list_checkpoints(&other.join("checkpoints")).pop().unwrap();
    let foreign = run.join("checkpoints").join(checkpoint_file_name(2));
    std::fs::copy(newest, &foreign).unwrap();
    let err = refused(&RunnerOptions {
        run_dir: Some(run.clone()),
        episodes: Some(4),
        ..Default::default()
    });
    assert_eq!(
        chain(&err),
        format!(
            "error: cannot resume run folder {}\n  caused by: its newest checkpoint {} was made for pack 'L0_5_dual_resource', but the run's config snapshot is pack 'L0_0_minimal'",
            run.display(),
            foreign.display()
        )
    );
}
