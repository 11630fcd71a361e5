//! `cargo xtask demo [-- <townlet-demo flags>]`: build the frontend when needed and the
//! unified server in release, start live training, print the URL and open a browser.

use crate::e2e::{SERVER_BIN, SERVER_PACKAGE};
use crate::workspace::{Workspace, cargo};
use crate::{frontend, health, proc};
use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

const DEFAULT_PACK: &str = "configs/L1_full_observability";
const DEFAULT_PORT: u16 = 8766;

pub fn run(user_args: &[String]) -> Result<ExitCode> {
    let ws = Workspace::load()?;
    if ws.package_with_bin(SERVER_BIN).is_none() {
        bail!(
            "`cargo xtask demo` is not available yet: the unified server binary `{SERVER_BIN}` \
             (package `{SERVER_PACKAGE}`) is not in this workspace. Until it is, train with \
             `cargo xtask run townlet-train -- --pack {DEFAULT_PACK}`."
        );
    };
    frontend::ensure_built(&ws)?;
    proc::run(
        Command::new(cargo())
            // `--workspace`, not `-p`: features unify over the whole workspace, so this
            // build shares every artifact with `cargo xtask bench` / `learn-check`.
            .args(["build", "--release", "--workspace", "--bin", SERVER_BIN])
            .current_dir(&ws.root),
        &ws.root,
    )?;
    let binary = ws.binary("release", SERVER_BIN);
    if !binary.is_file() {
        bail!(
            "`cargo build --release` succeeded but {} is missing",
            binary.display()
        );
    }

    let args = demo_args(&ws, user_args);
    let wants_open = !has_flag(user_args, "--no-open");
    let mut cmd = Command::new(&binary);
    // xtask opens the browser itself once /healthz answers, so the server must not.
    cmd.args(&args)
        .arg("--no-open")
        .stdin(Stdio::null())
        .process_group(0);
    proc::echo(&cmd, &ws.root);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    proc::forward_ctrl_c_to(child.id())?;

    if let Some(addr) = url_addr(user_args) {
        let url = format!("http://{addr}/");
        // Training a first episode and loading weights can take a while on a fresh
        // machine; this only decides when to print the URL.
        match health::wait_healthy(addr, &mut child, Duration::from_secs(600)) {
            Ok(()) => {
                println!("\nTownlet is live at {url}  (Ctrl+C stops training and the server)\n");
                if wants_open {
                    open_browser(&url);
                }
            }
            Err(e) => eprintln!("xtask: {e:#}"),
        }
    }
    let status = child.wait().context("waiting for townlet-demo")?;
    proc::stop_forwarding();
    if status.success() {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("{SERVER_BIN} exited with {status}")
    }
}

/// The flags townlet-demo gets: the user's, or the L1 pack by default (not with a
/// `--lab`); runs go to the workspace's `runs/` and the viewer comes from `frontend/dist`
/// unless the user says otherwise (absolute paths, so `cargo xtask demo` works from any
/// folder; a `--lab` file not found from here is looked up in the workspace).
fn demo_args(ws: &Workspace, user: &[String]) -> Vec<String> {
    let mut args: Vec<String> = user.to_vec();
    resolve_lab(ws, &mut args);
    if !has_flag(user, "--pack") && !has_flag(user, "--run") && !has_flag(user, "--lab") {
        args.extend([
            "--pack".to_string(),
            ws.root.join(DEFAULT_PACK).display().to_string(),
        ]);
    }
    if !has_flag(user, "--runs-root") && !has_flag(user, "--run") {
        args.extend([
            "--runs-root".to_string(),
            ws.root.join("runs").display().to_string(),
        ]);
    }
    if !has_flag(user, "--static") {
        args.extend([
            "--static".to_string(),
            ws.frontend().join("dist").display().to_string(),
        ]);
    }
    args.retain(|a| a != "--no-open");
    args
}

/// `--lab FILE` relative to the workspace when it is not a file relative to the
/// current folder (`cargo xtask demo -- --lab configs/labs/curiosity.yaml` from anywhere).
fn resolve_lab(ws: &Workspace, args: &mut [String]) {
    let Some(i) = args
        .iter()
        .position(|a| a == "--lab" || a.starts_with("--lab="))
    else {
        return;
    };
    let (slot, value) = if args[i] == "--lab" {
        let Some(v) = args.get(i + 1) else { return };
        (i + 1, v.clone())
    } else {
        (i, args[i]["--lab=".len()..].to_string())
    };
    let path = std::path::Path::new(&value);
    if path.is_absolute() || path.is_file() || !ws.root.join(path).is_file() {
        return;
    }
    let resolved = ws.root.join(path).display().to_string();
    args[slot] = if slot == i {
        format!("--lab={resolved}")
    } else {
        resolved
    };
}

/// Whether `flag` appears as `--flag` or `--flag=value`.
fn has_flag(args: &[String], flag: &str) -> bool {
    args.iter()
        .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
}

fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let prefix = format!("{flag}=");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == flag {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix(&prefix) {
            return Some(v);
        }
    }
    None
}

/// The address a browser on this machine reaches the server at; `None` when the port
/// is chosen by the system (`--port 0`) or the flags do not parse (the server will say).
fn url_addr(args: &[String]) -> Option<SocketAddr> {
    let port = match flag_value(args, "--port") {
        Some(p) => p.parse::<u16>().ok()?,
        None => DEFAULT_PORT,
    };
    if port == 0 {
        return None;
    }
    let host = match flag_value(args, "--host") {
        None | Some("0.0.0.0") | Some("::") | Some("localhost") => "127.0.0.1",
        Some(h) => h,
    };
    format!("{host}:{port}")
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
        .ok()
}

fn open_browser(url: &str) {
    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if has_display && proc::on_path("xdg-open") {
        let opened = Command::new("xdg-open")
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if opened.is_ok() {
            return;
        }
    }
    println!("(no desktop browser found: open {url} yourself)");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn ws() -> Workspace {
        Workspace {
            root: PathBuf::from("/repo"),
            target_dir: PathBuf::from("/repo/target"),
            packages: Vec::new(),
        }
    }

    #[test]
    fn defaults_to_l1_with_absolute_paths() {
        let a = demo_args(&ws(), &[]);
        assert_eq!(
            a,
            s(&[
                "--pack",
                "/repo/configs/L1_full_observability",
                "--runs-root",
                "/repo/runs",
                "--static",
                "/repo/frontend/dist"
            ])
        );
    }

    #[test]
    fn user_flags_win() {
        let a = demo_args(
            &ws(),
            &s(&["--run", "runs/x/1", "--static=/d", "--no-open"]),
        );
        assert_eq!(a, s(&["--run", "runs/x/1", "--static=/d"]));
        let a = demo_args(&ws(), &s(&["--pack", "configs/L0_0_minimal"]));
        assert_eq!(&a[..2], &s(&["--pack", "configs/L0_0_minimal"])[..]);
        assert!(!a.iter().any(|x| x.ends_with("L1_full_observability")));
    }

    #[test]
    fn a_lab_gets_no_default_pack() {
        let a = demo_args(
            &ws(),
            &s(&["--lab", "configs/labs/curiosity.yaml", "--resume"]),
        );
        assert_eq!(
            a,
            s(&[
                "--lab",
                "configs/labs/curiosity.yaml",
                "--resume",
                "--runs-root",
                "/repo/runs",
                "--static",
                "/repo/frontend/dist"
            ])
        );
    }

    #[test]
    fn a_lab_file_is_found_in_the_workspace() {
        let root = std::env::temp_dir().join(format!("xtask-lab-{}", std::process::id()));
        std::fs::create_dir_all(root.join("configs/labs")).unwrap();
        std::fs::write(root.join("configs/labs/x.yaml"), "title: x\n").unwrap();
        let ws = Workspace {
            root: root.clone(),
            ..ws()
        };
        let want = root.join("configs/labs/x.yaml").display().to_string();
        let a = demo_args(&ws, &s(&["--lab", "configs/labs/x.yaml"]));
        assert_eq!(a[1], want);
        let a = demo_args(&ws, &s(&["--lab=configs/labs/x.yaml"]));
        assert_eq!(a[0], format!("--lab={want}"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn url_from_host_and_port() {
        assert_eq!(url_addr(&[]), "127.0.0.1:8766".parse().ok());
        assert_eq!(
            url_addr(&s(&["--port", "9000", "--host=0.0.0.0"])),
            "127.0.0.1:9000".parse().ok()
        );
        assert_eq!(
            url_addr(&s(&["--host", "::1", "--port=81"])),
            "[::1]:81".parse().ok()
        );
        assert_eq!(url_addr(&s(&["--port", "0"])), None);
        assert_eq!(url_addr(&s(&["--port", "x"])), None);
    }
}
