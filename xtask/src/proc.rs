//! Running child processes: echo what runs, fail with the command in the message, and
//! (for long-lived servers) deliver Ctrl+C to them ourselves.

use anyhow::{Context, Result, bail};
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// `program arg arg…` as a shell-like line, for echoing and error messages.
pub fn describe(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program());
    // `$CARGO` is an absolute toolchain path; "cargo" reads better and means the same.
    let mut s = if program.file_name() == Some(OsStr::new("cargo")) {
        "cargo".to_string()
    } else {
        program.to_string_lossy().into_owned()
    };
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&quote(a));
    }
    s
}

fn quote(a: &OsStr) -> String {
    let a = a.to_string_lossy();
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
    {
        a.into_owned()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// Prints `$ command` (and the folder when it is not the workspace root).
pub fn echo(cmd: &Command, root: &Path) {
    let dir = match cmd.get_current_dir() {
        Some(d) if d != root => format!("   (in {})", d.strip_prefix(root).unwrap_or(d).display()),
        _ => String::new(),
    };
    let envs: String = cmd
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| format!("{}={} ", k.to_string_lossy(), quote(v))))
        .collect();
    println!("$ {envs}{}{dir}", describe(cmd));
}

/// Runs `cmd` to completion with inherited stdio; a non-zero exit is an error naming it.
pub fn run(cmd: &mut Command, root: &Path) -> Result<()> {
    echo(cmd, root);
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", describe(cmd)))?;
    check(status, cmd)
}

pub fn check(status: ExitStatus, cmd: &Command) -> Result<()> {
    if status.success() {
        Ok(())
    } else {
        bail!("`{}` failed ({status})", describe(cmd))
    }
}

/// Whether `program` can be found on PATH (or is an existing path).
pub fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Sends `signal` (e.g. "INT") to `pid` through `kill(1)`, which keeps xtask free of
/// unsafe FFI.
pub fn signal(pid: u32, signal: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running `kill`")?;
    if !status.success() {
        bail!("`kill -{signal} {pid}` failed ({status})");
    }
    Ok(())
}

/// Waits up to `deadline` for the child to exit; `None` if it is still running.
pub fn wait_timeout(child: &mut Child, deadline: Duration) -> Result<Option<ExitStatus>> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().context("waiting for a child process")? {
            return Ok(Some(status));
        }
        if start.elapsed() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The server child that Ctrl+C is forwarded to (0 = none). Servers run in their own
/// process group, so the terminal's SIGINT reaches only xtask, which passes it on once
/// per press: the server's own "second Ctrl+C forces exit" then works as documented.
static FORWARD_TO: AtomicU32 = AtomicU32::new(0);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static HANDLER: Once = Once::new();
static HANDLER_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// Installs (once) the Ctrl+C handler and makes `pid` the process that receives it.
pub fn forward_ctrl_c_to(pid: u32) -> Result<()> {
    HANDLER.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            INTERRUPTED.store(true, Ordering::SeqCst);
            let pid = FORWARD_TO.load(Ordering::SeqCst);
            if pid != 0 {
                // Nothing useful to do if the child is already gone.
                let _ = signal(pid, "INT");
            }
        });
        if let Err(e) = installed
            && let Ok(mut slot) = HANDLER_ERROR.lock()
        {
            *slot = Some(e.to_string());
        }
    });
    if let Ok(slot) = HANDLER_ERROR.lock()
        && let Some(e) = slot.as_ref()
    {
        bail!("installing the Ctrl+C handler: {e}");
    }
    FORWARD_TO.store(pid, Ordering::SeqCst);
    Ok(())
}

/// Stops forwarding Ctrl+C (the child has exited).
pub fn stop_forwarding() {
    FORWARD_TO.store(0, Ordering::SeqCst);
}

/// Whether Ctrl+C was pressed since the handler was installed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_quotes_only_what_needs_it() {
        let mut c = Command::new("cargo");
        c.args([
            "clippy",
            "--workspace",
            "--",
            "-D",
            "warnings",
            "a b",
            "it's",
        ]);
        assert_eq!(
            describe(&c),
            r"cargo clippy --workspace -- -D warnings 'a b' 'it'\''s'"
        );
    }

    #[test]
    fn failing_command_is_an_error_naming_it() {
        let root = Path::new("/");
        let err = run(Command::new("false").arg("x"), root).unwrap_err();
        assert!(err.to_string().contains("`false x` failed"), "{err}");
        run(&mut Command::new("true"), root).unwrap();
    }

    #[test]
    fn missing_program_is_an_error() {
        let err = run(
            &mut Command::new("/nonexistent/townlet-xyz"),
            Path::new("/"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("could not start"), "{err}");
    }

    #[test]
    fn on_path_finds_sh() {
        assert!(on_path("sh"));
        assert!(!on_path("townlet-no-such-program-xyz"));
    }

    /// SIGTERM, not SIGINT: a shell that starts a job in the background (`cmd &`) ignores
    /// SIGINT in it, and `sleep` inherits that, so a CI runner launched that way would see
    /// `sleep` outlive SIGINT. (The servers xtask stops install their own handlers.)
    #[test]
    fn signal_reaches_a_child() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        signal(child.id(), "TERM").unwrap();
        let status = wait_timeout(&mut child, Duration::from_secs(30)).unwrap();
        let status = status.expect("sleep should exit on SIGTERM");
        assert!(!status.success());
    }
}
