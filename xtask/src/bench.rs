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
            proc::run(
                Command::new(cargo())
                    .args(["bench", "-p", &p.name])
                    .current_dir(&ws.root),
                &ws.root,
            )?;
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
    // Pass the checker's own verdict (its exit code) through unchanged.
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => {
            eprintln!("xtask: {LEARN_CHECK_BIN} ended by a signal ({status})");
            ExitCode::FAILURE
        }
    })
}

fn not_available(bin: &str, what: &str) -> String {
    format!("{what} are not available yet: no workspace crate defines the binary `{bin}`")
}

fn release_run(
    ws: &Workspace,
    package: &str,
    bin: &str,
    args: &[String],
) -> Result<std::process::ExitStatus> {
    let mut cmd = Command::new(cargo());
    cmd.args(["run", "--release", "-p", package, "--bin", bin, "--"])
        .args(args)
        .current_dir(&ws.root);
    proc::echo(&cmd, &ws.root);
    cmd.status()
        .with_context(|| format!("could not start `{}`", proc::describe(&cmd)))
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
