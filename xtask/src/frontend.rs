//! The frontend's npm steps and the Debian chromium the browser suite drives.

use crate::proc;
use crate::workspace::Workspace;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

pub fn npm(ws: &Workspace, args: &[&str]) -> Command {
    let mut c = Command::new("npm");
    c.args(args).current_dir(ws.frontend());
    c
}

fn require_npm() -> Result<()> {
    if !proc::on_path("npm") {
        bail!(
            "npm is not installed: the frontend needs Node.js >= 20.19 with npm \
             (Debian: apt-get install -y nodejs npm)"
        );
    }
    Ok(())
}

/// `npm ci`: installs exactly what `package-lock.json` records.
pub fn npm_ci(ws: &Workspace) -> Result<()> {
    require_npm()?;
    proc::run(&mut npm(ws, &["ci"]), &ws.root)
}

/// Builds `frontend/dist` when it is missing or older than the sources (`npm ci` first
/// when `node_modules` is missing). Returns whether it built.
pub fn ensure_built(ws: &Workspace) -> Result<bool> {
    let dir = ws.frontend();
    let dist = dir.join("dist").join("index.html");
    let built = modified(&dist);
    let sources = newest_source(&dir)?;
    match (built, sources) {
        (Some(b), Some(s)) if b >= s => {
            println!("frontend/dist is up to date");
            return Ok(false);
        }
        (Some(_), _) => println!("frontend/dist is older than the sources: rebuilding"),
        (None, _) => println!("frontend/dist is missing: building it"),
    }
    // npm writes node_modules/.package-lock.json on install: older than the lock file
    // means the installed packages are stale.
    let installed = dir.join("node_modules").join(".package-lock.json");
    if !installed.is_file() || newer(&dir.join("package-lock.json"), &installed) {
        npm_ci(ws)?;
    } else {
        require_npm()?;
    }
    proc::run(&mut npm(ws, &["run", "build"]), &ws.root)?;
    if !dist.is_file() {
        bail!("`npm run build` finished but {} is missing", dist.display());
    }
    Ok(true)
}

fn modified(p: &Path) -> Option<SystemTime> {
    p.metadata().and_then(|m| m.modified()).ok()
}

fn newer(a: &Path, b: &Path) -> bool {
    matches!((modified(a), modified(b)), (Some(x), Some(y)) if x > y)
}

/// The newest modification time among the files the build reads.
fn newest_source(frontend: &Path) -> Result<Option<SystemTime>> {
    let mut newest = None;
    for name in [
        "src",
        "public",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
    ] {
        walk(&frontend.join(name), &mut newest)?;
    }
    Ok(newest)
}

fn walk(p: &Path, newest: &mut Option<SystemTime>) -> Result<()> {
    let Ok(meta) = p.metadata() else {
        return Ok(()); // optional entries (public/) may be absent
    };
    if meta.is_dir() {
        for entry in std::fs::read_dir(p).with_context(|| format!("reading {}", p.display()))? {
            walk(
                &entry
                    .with_context(|| format!("reading {}", p.display()))?
                    .path(),
                newest,
            )?;
        }
    } else if let Ok(t) = meta.modified() {
        *newest = Some(newest.map_or(t, |n: SystemTime| n.max(t)));
    }
    Ok(())
}

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Installs Debian's `chromium` when `/usr/bin/chromium` is absent
/// (docs/decisions.md#browser-tests-as-root). Never downloads a browser of its own.
pub fn ensure_chromium(ws: &Workspace) -> Result<()> {
    if Path::new(CHROMIUM).is_file() {
        println!("chromium: {CHROMIUM}");
        return Ok(());
    }
    println!("chromium: {CHROMIUM} is absent; installing Debian's package");
    if !proc::on_path("apt-get") {
        bail!(
            "{CHROMIUM} is missing and apt-get is not available: install chromium with the \
             system's package manager (the browser suite never downloads a browser)"
        );
    }
    proc::run(Command::new("apt-get").arg("update"), &ws.root)
        .context("apt-get update (installing chromium needs root)")?;
    proc::run(
        Command::new("apt-get")
            .args(["install", "-y", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        &ws.root,
    )
    .context("apt-get install -y chromium (needs root)")?;
    if !Path::new(CHROMIUM).is_file() {
        bail!("apt-get installed chromium but {CHROMIUM} is still missing");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_source_sees_nested_files() {
        let dir = std::env::temp_dir().join(format!("xtask-fe-{}", std::process::id()));
        let nested = dir.join("src").join("lib");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(newest_source(&dir).unwrap(), None);
        std::fs::write(nested.join("a.ts"), "x").unwrap();
        let t = modified(&nested.join("a.ts"));
        assert!(t.is_some());
        assert_eq!(newest_source(&dir).unwrap(), t);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
