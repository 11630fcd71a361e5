//! The NATS server the bus tests and `cargo xtask cluster` use: Debian's `nats-server`
//! package (JetStream included), installed with apt-get when absent. Never downloads a
//! binary from elsewhere.

use crate::proc;
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

/// Where Debian installs it.
const DEBIAN_PATH: &str = "/usr/sbin/nats-server";

fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TOWNLET_NATS_SERVER").map(PathBuf::from)
        && p.is_file()
    {
        return Some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

/// The nats-server binary, installing Debian's package when there is none.
pub fn ensure_nats_server(ws: &Workspace) -> Result<PathBuf> {
    if let Some(p) = find() {
        println!("nats-server: {}", p.display());
        return Ok(p);
    }
    println!("nats-server: absent; installing Debian's package");
    if !proc::on_path("apt-get") {
        bail!(
            "nats-server is missing and apt-get is not available: install the nats-server \
             package with the system's package manager (or set TOWNLET_NATS_SERVER=PATH)"
        );
    }
    proc::run(Command::new("apt-get").arg("update"), &ws.root)
        .context("apt-get update (installing nats-server needs root)")?;
    proc::run(
        Command::new("apt-get")
            .args(["install", "-y", "nats-server"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        &ws.root,
    )
    .context("apt-get install -y nats-server (needs root)")?;
    match find() {
        Some(p) => Ok(p),
        None => bail!("apt-get installed nats-server but {DEBIAN_PATH} is still missing"),
    }
}
