//! `cargo xtask bench` and `cargo xtask learn-check`: dispatch to whatever benchmark and
//! check programs the workspace holds, found by name, saying clearly what is missing.

use crate::proc;
use crate::workspace::{Workspace, cargo};
use anyhow::{Context, Result, bail};
use std::process::{Command, ExitCode};

pub const BENCH_BIN: &str = "townlet-bench";
pub const LEARN_CHECK_BIN: &str = "townlet-learn-check";

pub fn bench(criterion: bool, training: bool, args: &[String]) -> Result<ExitCode> {
    let ws = Workspace::load()?;
    if criterion {
        let packages = ws.bench_packages();
        if packages.is_empty() {
            println!("xtask: no crate has criterion benches");
        }
        for p in packages {
            println!("\n=== criterion: {} ({}) ===", p.name, p.benches.join(", "));
            for b in &p.benches {
                // `--workspace --bench NAME` rather than `-p`: one feature set, so the
                // benches reuse the release build instead of rebuilding burn.
                proc::run(
                    Command::new(cargo())
                        .args(["bench", "--workspace", "--bench", b])
                        .current_dir(&ws.root),
                    &ws.root,
                )?;
            }
        }
    }
    if training {
        match ws.package_with_bin(BENCH_BIN) {
            Some(p) => {
                println!("\n=== training / streaming benchmarks: {BENCH_BIN} ===");
                let status = release_run(&ws, &p.name, BENCH_BIN, args)?;
                if !status.success() {
                    bail!("{BENCH_BIN} failed ({status})");
                }
            }
            None if !criterion => bail!(not_available(
                BENCH_BIN,
                "the training/streaming benchmarks"
            )),
            None => println!(
                "\nxtask: {}; skipped",
                not_available(BENCH_BIN, "the training/streaming benchmarks")
            ),
        }
    }
    println!("\nxtask: benchmark results and how to read them: docs/benchmarks.md");
    Ok(ExitCode::SUCCESS)
}

pub fn learn_check(args: &[String]) -> Result<ExitCode> {
    let ws = Workspace::load()?;
    let Some(p) = ws.package_with_bin(LEARN_CHECK_BIN) else {
        bail!(not_available(LEARN_CHECK_BIN, "the learning checks"));
    };
    let status = release_run(&ws, &p.name, LEARN_CHECK_BIN, args)?;
    Ok(pass_through(LEARN_CHECK_BIN, status))
}

/// `cargo xtask run BIN -- ARGS`: any workspace binary, release, from the caller's folder.
pub fn run_bin(bin: &str, args: &[String]) -> Result<ExitCode> {
    let ws = Workspace::load()?;
    let Some(p) = ws.package_with_bin(bin) else {
        bail!("no workspace crate defines the binary `{bin}`");
    };
    proc::run(
        Command::new(cargo())
            .args(["build", "--release", "--workspace", "--bin", bin])
            .current_dir(&ws.root),
        &ws.root,
    )
    .with_context(|| format!("building {bin} (package {})", p.name))?;
    let binary = ws.binary("release", bin);
    let mut cmd = Command::new(&binary);
    cmd.args(args);
    proc::echo(&cmd, &ws.root);
    // Become the program (Unix exec): Ctrl+C, exit codes and stdin are its own, as with
    // `cargo run`.
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    Err(err).with_context(|| format!("could not start `{}`", binary.display()))
}

/// The program's own exit code, unchanged (a learn-check verdict, a usage error, …).
fn pass_through(bin: &str, status: std::process::ExitStatus) -> ExitCode {
    match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => {
            eprintln!("xtask: {bin} ended by a signal ({status})");
            ExitCode::FAILURE
        }
    }
}

fn not_available(bin: &str, what: &str) -> String {
    format!("{what} are not available yet: no workspace crate defines the binary `{bin}`")
}

/// Build `bin` (release) and run it with `args`. The build selects the whole workspace
/// rather than `-p package`: cargo unifies features over the selected packages, and a
/// different selection would rebuild burn and friends from scratch (~10 min on 2 cores).
fn release_run(
    ws: &Workspace,
    package: &str,
    bin: &str,
    args: &[String],
) -> Result<std::process::ExitStatus> {
    proc::run(
        Command::new(cargo())
            .args(["build", "--release", "--workspace", "--bin", bin])
            .current_dir(&ws.root),
        &ws.root,
    )
    .with_context(|| format!("building {bin} (package {package})"))?;
    let binary = ws.binary("release", bin);
    let mut cmd = Command::new(&binary);
    cmd.args(args).current_dir(&ws.root);
    proc::echo(&cmd, &ws.root);
    cmd.status()
        .with_context(|| format!("could not start `{}`", binary.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_available_names_the_binary() {
        let m = not_available(LEARN_CHECK_BIN, "the learning checks");
        assert!(m.contains("`townlet-learn-check`") && m.contains("not available"));
    }
}
