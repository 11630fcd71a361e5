//! `cargo xtask cluster [-- --runs N --viewers M --pack DIR --episodes E --nats-port P
//! --port P --debug]`: on one machine, what docs/deployment.md puts on many: a `nats-server` with
//! JetStream, N trainers publishing to it (`townlet-train --publish`) and M viewer servers
//! subscribing (`townlet-inference --subscribe`); prints each viewer's URL. Ctrl+C stops
//! the trainers (they close their episode and publish `finished`), then the viewers, then
//! the NATS server.

use crate::workspace::{Workspace, cargo};
use crate::{frontend, health, nats, proc};
use anyhow::{Context, Result, bail};
use clap::Parser;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(name = "cargo xtask cluster")]
struct Args {
    /// Trainers to start (seeds 1..=N).
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Viewer servers to start (ports --port, --port + 1, …).
    #[arg(long, default_value_t = 2)]
    viewers: u32,
    /// The pack every trainer trains.
    #[arg(long, default_value = "configs/L0_0_minimal")]
    pack: PathBuf,
    /// Episodes per trainer (default: the pack's).
    #[arg(long)]
    episodes: Option<u64>,
    /// The NATS server's client port.
    #[arg(long, default_value_t = 4222)]
    nats_port: u16,
    /// The first viewer's port.
    #[arg(long, default_value_t = 8770)]
    port: u16,
    /// Use the debug build (quick to build, slower to train) instead of release.
    #[arg(long)]
    debug: bool,
}

const TRAIN_BIN: &str = "townlet-train";
const VIEW_BIN: &str = "townlet-inference";

struct Proc {
    name: String,
    child: Child,
}

fn spawn(name: String, cmd: &mut Command, root: &Path, log: &Path) -> Result<Proc> {
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Own process group: the terminal's Ctrl+C reaches xtask only, which stops the
        // pieces in order.
        .process_group(0)
        .current_dir(root);
    proc::echo(cmd, root);
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {name} ({})", proc::describe(cmd)))?;
    Ok(Proc { name, child })
}

fn stop_all(procs: &mut [Proc], signal: &str) {
    for p in procs.iter() {
        let _ = proc::signal(p.child.id(), signal);
    }
    for p in procs.iter_mut() {
        match proc::wait_timeout(&mut p.child, Duration::from_secs(30)) {
            Ok(Some(_)) => {}
            _ => {
                eprintln!("xtask: {} did not stop in 30 s; killing it", p.name);
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
        }
    }
}

pub fn run(user_args: &[String]) -> Result<ExitCode> {
    let rest = user_args.iter().skip_while(|a| *a == "--").cloned();
    let args = Args::try_parse_from(std::iter::once("cluster".to_owned()).chain(rest))?;
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let ws = Workspace::load()?;
    let nats_bin = nats::ensure_nats_server(&ws)?;
    frontend::ensure_built(&ws)?;
    let profile = if args.debug { "debug" } else { "release" };
    let mut build = Command::new(cargo());
    // The whole workspace, as the other commands build it: a narrower selection would
    // unify other features and rebuild burn (docs/decisions.md#what-ci-runs).
    if args.debug {
        // Same debug build as `cargo test --workspace` (its dev-dependencies included).
        build.args(["build", "--workspace", "--all-targets"]);
    } else {
        // Same release build as `cargo xtask demo / run / bench`.
        build.args(["build", "--release", "--workspace"]);
    }
    proc::run(build.current_dir(&ws.root), &ws.root)?;
    let dir = ws.root.join("runs").join("cluster");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    proc::forward_ctrl_c_to(0)?;

    let url = format!("nats://127.0.0.1:{}", args.nats_port);
    let mut bus = vec![spawn(
        "nats-server".into(),
        Command::new(&nats_bin)
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(args.nats_port.to_string())
            .arg("-sd")
            .arg(dir.join("nats")),
        &ws.root,
        &logs.join("nats-server.log"),
    )?];
    let nats_addr = SocketAddr::from(([127, 0, 0, 1], args.nats_port));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(nats_addr).is_err() {
        if std::time::Instant::now() > deadline || bus[0].child.try_wait()?.is_some() {
            stop_all(&mut bus, "TERM");
            bail!(
                "nats-server did not start on port {} (see {})",
                args.nats_port,
                logs.join("nats-server.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut viewers = Vec::new();
    let mut urls = Vec::new();
    for i in 0..args.viewers {
        let port = args.port + i as u16;
        let mut cmd = Command::new(ws.binary(profile, VIEW_BIN));
        cmd.args(["--subscribe", &url, "--port", &port.to_string()]);
        viewers.push(spawn(
            format!("viewer {i}"),
            &mut cmd,
            &ws.root,
            &logs.join(format!("viewer-{i}.log")),
        )?);
        urls.push((port, format!("http://127.0.0.1:{port}/")));
    }
    let mut trainers = Vec::new();
    for i in 0..args.runs {
        let mut cmd = Command::new(ws.binary(profile, TRAIN_BIN));
        cmd.arg("--pack")
            .arg(&args.pack)
            .args(["--seed", &(i + 1).to_string(), "--threads", "1", "--quiet"])
            .args(["--publish", &url])
            .arg("--runs-root")
            .arg(dir.join("runs"))
            .args(["--bus-run-id", &format!("run-{}", i + 1)]);
        if let Some(e) = args.episodes {
            cmd.args(["--episodes", &e.to_string()]);
        }
        trainers.push(spawn(
            format!("trainer {}", i + 1),
            &mut cmd,
            &ws.root,
            &logs.join(format!("trainer-{}.log", i + 1)),
        )?);
    }
    for ((port, url), v) in urls.iter().zip(viewers.iter_mut()) {
        let addr = SocketAddr::from(([127, 0, 0, 1], *port));
        match health::wait_healthy(addr, &mut v.child, Duration::from_secs(60)) {
            Ok(()) => println!("viewer: {url}"),
            Err(e) => eprintln!("xtask: {}: {e:#}", v.name),
        }
    }
    println!(
        "\n{} trainers → {url} → {} viewers; logs in {}. Ctrl+C stops everything.\n",
        args.runs,
        args.viewers,
        logs.display()
    );
    while !proc::interrupted() {
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("xtask: stopping the trainers, then the viewers, then nats-server");
    stop_all(&mut trainers, "INT");
    stop_all(&mut viewers, "INT");
    stop_all(&mut bus, "TERM");
    Ok(ExitCode::SUCCESS)
}
