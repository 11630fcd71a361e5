//! `cargo xtask e2e`: the browser suite (`frontend/e2e/run.mjs`) against the real unified
//! server `townlet-demo` (debug build) training a tiny pack on an ephemeral port: a lab of
//! two runs of it (`--lab`: run picker, compare view, run links), or one run where the
//! server has no `--lab` yet (the lab checks are then skipped).

use crate::workspace::Workspace;
use crate::{frontend, health, proc};
use anyhow::{Context, Result, bail};
use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const SERVER_PACKAGE: &str = "townlet-cli";
pub const SERVER_BIN: &str = "townlet-demo";
/// The test pack: L0_0_minimal with 60-step episodes and a recording every 2 episodes;
/// `global_actions.yaml` sits beside it (docs/decisions.md#browser-tests-as-root).
pub const E2E_PACK: &str = "xtask/fixtures/packs/e2e_tiny";

/// Deadlines for events: generous, never a measured timing.
const HEALTH_DEADLINE: Duration = Duration::from_secs(180);
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(120);

pub fn run() -> Result<ExitCode> {
    let ws = Workspace::load()?;
    browser_suite(&ws)?;
    println!("xtask: e2e passed");
    Ok(ExitCode::SUCCESS)
}

/// The message when the unified server is not part of the workspace (yet).
pub fn missing_server() -> String {
    format!(
        "the unified server binary `{SERVER_BIN}` (package `{SERVER_PACKAGE}`) is missing \
         from this workspace: the browser suite runs against it, so it cannot run. \
         (Frontend-only checks against the protocol fixture server: \
         `cd frontend && npm run build && npm run e2e:fixture`; that is not the CI suite.)"
    )
}

pub fn browser_suite(ws: &Workspace) -> Result<()> {
    if ws.package_with_bin(SERVER_BIN).is_none() {
        bail!(missing_server());
    }
    let pack = ws.root.join(E2E_PACK);
    if !pack.join("training.yaml").is_file() {
        bail!("the e2e test pack is missing: {}", pack.display());
    }

    if !proc::on_path("node") {
        bail!("node is not installed: the browser suite needs Node.js >= 20.19");
    }
    frontend::ensure_chromium(ws)?;
    frontend::ensure_built(ws)?;
    if !ws
        .frontend()
        .join("node_modules")
        .join("playwright-core")
        .is_dir()
    {
        frontend::npm_ci(ws)?;
    }
    // Same command and environment (and so the same feature unification and wrapper) as
    // the `cargo test` phase: after it this is a no-op, while `cargo build -p` would
    // rebuild burn with other features. The server's package has integration tests, so
    // its binaries are built too.
    proc::run(
        crate::workspace::linted_cargo()
            .args(["test", "--workspace", "--no-run"])
            .current_dir(&ws.root),
        &ws.root,
    )?;
    let binary = ws.binary("debug", SERVER_BIN);
    if !binary.is_file() {
        bail!(
            "`cargo build` succeeded but {} is missing",
            binary.display()
        );
    }

    let scratch = scratch_dir()?;
    let result = run_against_server(ws, &binary, &pack, &scratch);
    match &result {
        Ok(()) => {
            // Keep the folder when something failed: the server log and run are evidence.
            let _ = std::fs::remove_dir_all(&scratch);
        }
        Err(_) => eprintln!("xtask: e2e files kept in {}", scratch.display()),
    }
    result
}

fn scratch_dir() -> Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("townlet-e2e-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Kills the server if we leave early (an error, a panic) so no process outlives xtask.
struct Server {
    child: Child,
    log: PathBuf,
    stopped: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        proc::stop_forwarding();
    }
}

impl Server {
    /// SIGINT, then wait for the graceful exit; the exit status must be 0.
    fn stop(&mut self) -> Result<()> {
        let pid = self.child.id();
        println!("stopping {SERVER_BIN} (pid {pid}) with SIGINT");
        proc::signal(pid, "INT")?;
        let status = proc::wait_timeout(&mut self.child, SHUTDOWN_DEADLINE)?;
        self.stopped = status.is_some();
        match status {
            Some(s) if s.success() => {
                println!("{SERVER_BIN} exited 0 after SIGINT");
                Ok(())
            }
            Some(s) => bail!("{SERVER_BIN} did not exit cleanly after SIGINT ({s})"),
            None => bail!(
                "{SERVER_BIN} was still running {} s after SIGINT",
                SHUTDOWN_DEADLINE.as_secs()
            ),
        }
    }
}

/// The lab the suite runs: two runs of the test pack (different seeds, the second with an
/// override, as a lesson would have), so that the viewer has two live runs to compare.
pub fn lab_yaml(pack: &Path) -> String {
    // Single-quoted YAML: a quote inside the path is written twice.
    let pack = pack.display().to_string().replace('\'', "''");
    format!(
        "title: Browser test lab\n\
         runs:\n  \
         - {{name: first, pack: '{pack}', seed: 1}}\n  \
         - {{name: second, pack: '{pack}', seed: 2, set: {{training.epsilon_decay: 0.9}}}}\n"
    )
}

/// Whether this build of the server trains labs (`--lab FILE`).
fn supports_lab(binary: &Path) -> bool {
    Command::new(binary)
        .arg("--help")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--lab"))
}

fn run_against_server(ws: &Workspace, binary: &Path, pack: &Path, scratch: &Path) -> Result<()> {
    let port = health::free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let log = scratch.join("server.log");
    let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone().context("duplicating the log file handle")?;
    // A known teacher token, so the browser suite can open the teacher's page too.
    let token = e2e_token();
    let mut cmd = Command::new(binary);
    cmd.env("TOWNLET_TEACHER_TOKEN", &token);
    if supports_lab(binary) {
        let lab = scratch.join("e2e-lab.yaml");
        std::fs::write(&lab, lab_yaml(pack))
            .with_context(|| format!("writing {}", lab.display()))?;
        cmd.arg("--lab").arg(lab);
    } else {
        println!(
            "xtask: {SERVER_BIN} has no --lab: one run of the test pack (run picker, compare \
             view and run links are not checked)"
        );
        cmd.arg("--pack").arg(pack);
    }
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--runs-root")
        .arg(scratch.join("runs"))
        .arg("--no-open")
        .arg("--static")
        .arg(ws.frontend().join("dist"))
        .current_dir(scratch)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group: a Ctrl+C in the terminal reaches xtask, which forwards it.
        .process_group(0);
    proc::echo(&cmd, &ws.root);
    println!("server log: {}", log.display());
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut server = Server {
        child,
        log,
        stopped: false,
    };
    proc::forward_ctrl_c_to(server.child.id())?;

    health::wait_healthy(addr, &mut server.child, HEALTH_DEADLINE)
        .map_err(|e| e.context(log_tail(&server.log)))?;
    println!("{SERVER_BIN} is up at http://{addr}/");

    let mut node = Command::new("node");
    node.arg(ws.frontend().join("e2e").join("run.mjs"))
        .env("TOWNLET_URL", format!("http://{addr}"))
        .env("TOWNLET_TEACHER_TOKEN", &token)
        .current_dir(&ws.root);
    let browser = proc::run(&mut node, &ws.root);
    if proc::interrupted() {
        bail!("interrupted (Ctrl+C)");
    }
    let stopped = server.stop();
    match (browser, stopped) {
        (Ok(()), Ok(())) => {
            println!(
                "screenshots: {}",
                ws.root.join("test-output").join("screenshots").display()
            );
            Ok(())
        }
        (Err(e), _) => Err(e.context(format!(
            "browser checks failed (screenshots and e2e-results.json in test-output/screenshots)\n{}",
            log_tail(&server.log)
        ))),
        (Ok(()), Err(e)) => Err(e.context(log_tail(&server.log))),
    }
}

/// A teacher token for one run of the suite (not a secret: the server is on loopback).
fn e2e_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("e2e-teacher-{}-{nanos}", std::process::id())
}

/// The last lines of the server log, for error messages.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    format!(
        "last {} lines of {}:\n{}",
        tail.len(),
        log.display(),
        tail.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_pack_and_its_global_actions_exist() {
        let ws = Workspace::load().unwrap();
        let pack = ws.root.join(E2E_PACK);
        for f in [
            "training.yaml",
            "bars.yaml",
            "cascades.yaml",
            "affordances.yaml",
            "substrate.yaml",
        ] {
            assert!(pack.join(f).is_file(), "{f} missing in {}", pack.display());
        }
        // Test packs outside configs/ carry their own global actions beside them.
        assert!(pack.parent().unwrap().join("global_actions.yaml").is_file());
    }

    #[test]
    fn the_lab_has_two_runs_of_the_pack() {
        let yaml = lab_yaml(Path::new("/tmp/it's/e2e_tiny"));
        let runs: Vec<&str> = yaml
            .lines()
            .filter(|l| l.starts_with("  - {name: "))
            .collect();
        assert_eq!(runs.len(), 2, "{yaml}");
        for run in &runs {
            assert!(run.contains("pack: '/tmp/it''s/e2e_tiny'"), "{run}");
        }
        assert!(yaml.starts_with("title: "), "{yaml}");
    }

    #[test]
    fn missing_server_message_names_the_binary() {
        let m = missing_server();
        assert!(m.contains("townlet-demo") && m.contains("missing"), "{m}");
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = scratch_dir().unwrap();
        let log = dir.join("server.log");
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, text).unwrap();
        let tail = log_tail(&log);
        assert!(tail.contains("line 99") && tail.contains("line 60"));
        assert!(!tail.contains("line 59\n"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
