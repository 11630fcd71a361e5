//! `cargo xtask test`: what CI runs (docs/decisions.md#what-ci-runs). Phases run in
//! order and stop at the first failure; each prints what it runs and how long it took,
//! and the last line is the summary `xtask: N passed, M failed`.

use crate::workspace::{Workspace, cargo, linted_cargo};
use crate::{e2e, frontend, nats, proc};
use anyhow::Result;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

struct Phase {
    name: &'static str,
    run: fn(&Workspace) -> Result<()>,
}

fn cargo_in(ws: &Workspace, args: &[&str]) -> Result<()> {
    proc::run(
        Command::new(cargo()).args(args).current_dir(&ws.root),
        &ws.root,
    )
}

fn linted_in(ws: &Workspace, args: &[&str]) -> Result<()> {
    proc::run(linted_cargo().args(args).current_dir(&ws.root), &ws.root)
}

const PHASES: &[Phase] = &[
    Phase {
        name: "fmt",
        run: |ws| cargo_in(ws, &["fmt", "--all", "--", "--check"]),
    },
    Phase {
        // Clippy with -D warnings over every target (lib, bins, tests, examples, benches),
        // in the same build that makes the test binaries (see `linted_cargo`).
        name: "clippy + build",
        run: |ws| linted_in(ws, &["test", "--workspace", "--all-targets", "--no-run"]),
    },
    Phase {
        name: "cargo test",
        // Every test binary runs even after a failure, so one CI log shows all failures.
        // Same environment as the build phase, so nothing is rebuilt; doctests run here.
        // The bus tests start their own nats-server: provided here, and required (a
        // missing one fails them instead of skipping).
        run: |ws| {
            let nats = nats::ensure_nats_server(ws)?;
            proc::run(
                linted_cargo()
                    .args(["test", "--workspace", "--no-fail-fast"])
                    .env("TOWNLET_NATS_SERVER", nats)
                    .env("TOWNLET_REQUIRE_NATS", "1")
                    .current_dir(&ws.root),
                &ws.root,
            )
        },
    },
    Phase {
        name: "npm ci",
        run: frontend::npm_ci,
    },
    Phase {
        name: "npm test",
        run: |ws| proc::run(&mut frontend::npm(ws, &["test"]), &ws.root),
    },
    Phase {
        name: "npm run build",
        run: |ws| proc::run(&mut frontend::npm(ws, &["run", "build"]), &ws.root),
    },
    Phase {
        name: "e2e",
        run: e2e::browser_suite,
    },
];

pub fn run() -> Result<ExitCode> {
    let ws = Workspace::load()?;
    let total = PHASES.len();
    let mut timings: Vec<(&str, Duration)> = Vec::new();
    let all = Instant::now();
    for (i, phase) in PHASES.iter().enumerate() {
        println!("\n=== xtask test [{}/{total}] {} ===", i + 1, phase.name);
        let start = Instant::now();
        let result = (phase.run)(&ws);
        let took = start.elapsed();
        if let Err(e) = result {
            println!("xtask: phase `{}` FAILED after {}", phase.name, secs(took));
            eprintln!("xtask: error: {e:#}");
            let not_run = total - i - 1;
            println!(
                "xtask: stopped at `{}`; {not_run} later phase{} not run",
                phase.name,
                if not_run == 1 { "" } else { "s" }
            );
            println!("xtask: {i} passed, 1 failed");
            return Ok(ExitCode::FAILURE);
        }
        println!("xtask: phase `{}` passed in {}", phase.name, secs(took));
        timings.push((phase.name, took));
    }
    println!("\n=== xtask test: timings ===");
    for (name, took) in &timings {
        println!("  {name:<14} {:>8}", secs(*took));
    }
    println!("  {:<14} {:>8}", "total", secs(all.elapsed()));
    println!("xtask: {total} passed, 0 failed");
    Ok(ExitCode::SUCCESS)
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_in_the_ci_order() {
        let names: Vec<_> = PHASES.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "fmt",
                "clippy + build",
                "cargo test",
                "npm ci",
                "npm test",
                "npm run build",
                "e2e"
            ]
        );
    }

    #[test]
    fn ci_runs_exactly_the_readme_test_command() {
        use std::os::unix::fs::PermissionsExt;
        let ws = Workspace::load().unwrap();
        let ci = ws.root.join(".ci").join("run");
        let script = std::fs::read_to_string(&ci).unwrap();
        assert!(script.starts_with("#!/usr/bin/env bash\n"));
        assert!(script.contains("set -euo pipefail"));
        let last = script.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
        assert_eq!(last.trim(), "cargo xtask test");
        let mode = std::fs::metadata(&ci).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, ".ci/run is not executable");
        let readme = std::fs::read_to_string(ws.root.join("README.md")).unwrap();
        assert!(readme.contains("```sh\ncargo xtask test\n```"));
    }

    #[test]
    fn secs_has_one_decimal() {
        assert_eq!(secs(Duration::from_millis(83_240)), "83.2 s");
    }
}
