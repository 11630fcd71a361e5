//! What the workspace holds right now, from `cargo metadata --no-deps`: which packages,
//! binaries and benches exist, and where the target directory is. xtask asks instead of
//! assuming, so a command whose binary is not written yet can say so clearly.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A package of the workspace with the targets xtask cares about.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub bins: Vec<String>,
    pub benches: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    pub packages: Vec<Package>,
}

impl Workspace {
    pub fn load() -> Result<Self> {
        let out = Command::new(cargo())
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .current_dir(root_guess())
            .output()
            .context("running `cargo metadata`")?;
        if !out.status.success() {
            bail!(
                "`cargo metadata` failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let v: Value =
            serde_json::from_slice(&out.stdout).context("parsing `cargo metadata` output")?;
        Self::from_metadata(&v)
    }

    fn from_metadata(v: &Value) -> Result<Self> {
        let path = |key: &str| -> Result<PathBuf> {
            v.get(key)
                .and_then(Value::as_str)
                .map(PathBuf::from)
                .with_context(|| format!("`cargo metadata` has no `{key}`"))
        };
        let mut packages = Vec::new();
        for p in v
            .get("packages")
            .and_then(Value::as_array)
            .context("`cargo metadata` has no `packages`")?
        {
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            let mut bins = Vec::new();
            let mut benches = Vec::new();
            for t in p
                .get("targets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let tname = t.get("name").and_then(Value::as_str).unwrap_or_default();
                let kinds = t.get("kind").and_then(Value::as_array);
                let has = |k: &str| kinds.is_some_and(|ks| ks.iter().any(|x| x == k));
                if has("bin") {
                    bins.push(tname.to_string());
                }
                if has("bench") {
                    benches.push(tname.to_string());
                }
            }
            packages.push(Package {
                name: name.to_string(),
                bins,
                benches,
            });
        }
        Ok(Self {
            root: path("workspace_root")?,
            target_dir: path("target_directory")?,
            packages,
        })
    }

    /// The package that defines binary `bin`, if any.
    pub fn package_with_bin(&self, bin: &str) -> Option<&Package> {
        self.packages
            .iter()
            .find(|p| p.bins.iter().any(|b| b == bin))
    }

    /// Packages with at least one bench target, in name order.
    pub fn bench_packages(&self) -> Vec<&Package> {
        let mut v: Vec<&Package> = self
            .packages
            .iter()
            .filter(|p| !p.benches.is_empty())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    pub fn frontend(&self) -> PathBuf {
        self.root.join("frontend")
    }

    /// Where `cargo build [--release]` puts binary `bin`.
    pub fn binary(&self, profile: &str, bin: &str) -> PathBuf {
        self.target_dir
            .join(profile)
            .join(format!("{bin}{}", std::env::consts::EXE_SUFFIX))
    }
}

/// The cargo that started us (`cargo xtask` sets `CARGO`), so child builds use the same
/// toolchain.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// `cargo` with clippy as the compiler of the workspace's own crates and every warning
/// denied (what `cargo clippy -- -D warnings` does, but in a real build). One build then
/// both lints and produces the test binaries: a separate `cargo clippy` would check every
/// dependency (burn included) a second time, about three minutes on two cores.
/// Dependencies are compiled by plain rustc either way. Every command that must reuse
/// those artifacts (the test and e2e phases) has to use this same environment.
pub fn linted_cargo() -> Command {
    let mut cmd = Command::new(cargo());
    cmd.env("RUSTC_WORKSPACE_WRAPPER", "clippy-driver")
        .env("CLIPPY_ARGS", CLIPPY_ARGS);
    // CI builds once from a clean clone: incremental caches would only cost time and disk.
    if std::env::var_os("CI").is_some() {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    cmd
}

/// `-D warnings`, in the form `cargo clippy` hands it to clippy-driver.
pub const CLIPPY_ARGS: &str = "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__";

/// The workspace root: the parent of this crate's folder. Only used to run `cargo
/// metadata` from inside the workspace; the authoritative root comes from its answer.
fn root_guess() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> Value {
        serde_json::json!({
            "workspace_root": "/repo",
            "target_directory": "/repo/target",
            "packages": [
                {"name": "townlet-runner", "targets": [
                    {"name": "townlet_runner", "kind": ["lib"]},
                    {"name": "townlet-train", "kind": ["bin"]},
                    {"name": "townlet-learn-check", "kind": ["bin"]}
                ]},
                {"name": "townlet-env", "targets": [
                    {"name": "townlet_env", "kind": ["lib"]},
                    {"name": "env_step", "kind": ["bench"]}
                ]},
                {"name": "townlet-codec", "targets": [{"name": "townlet_codec", "kind": ["lib"]}]}
            ]
        })
    }

    #[test]
    fn finds_binaries_and_benches() {
        let ws = Workspace::from_metadata(&metadata()).unwrap();
        assert_eq!(ws.root, PathBuf::from("/repo"));
        assert_eq!(
            ws.package_with_bin("townlet-learn-check")
                .map(|p| p.name.as_str()),
            Some("townlet-runner")
        );
        assert!(ws.package_with_bin("townlet-demo").is_none());
        let benches: Vec<_> = ws.bench_packages().iter().map(|p| p.name.clone()).collect();
        assert_eq!(benches, ["townlet-env"]);
        assert_eq!(
            ws.binary("debug", "townlet-demo"),
            PathBuf::from(format!(
                "/repo/target/debug/townlet-demo{}",
                std::env::consts::EXE_SUFFIX
            ))
        );
    }

    #[test]
    fn missing_keys_are_errors() {
        assert!(Workspace::from_metadata(&serde_json::json!({"packages": []})).is_err());
    }

    #[test]
    fn this_workspace_has_xtask() {
        // Runs the real `cargo metadata`: the workspace we are part of lists us.
        let ws = Workspace::load().unwrap();
        assert!(ws.packages.iter().any(|p| p.name == "xtask"));
        assert!(ws.root.join("Cargo.toml").is_file());
    }
}
