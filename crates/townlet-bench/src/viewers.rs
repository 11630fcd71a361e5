//! Many viewers (issue 5 item 8, issue 6 item 5 (d),
//! docs/decisions.md#acceptance-figures): N WebSocket clients on loopback, each receiving
//! every `episode_summary` and pulling a full episode every 5 s, against the unified
//! server while it trains. The clients run in a child process (this binary's hidden
//! `clients` command), so this process's memory is the server's and the trainer's alone.
//! Compared with streaming off in interleaved pairs, like `streaming`.

use crate::client::{Behaviour, Viewers, ViewersReport};
use crate::stats::Spread;
use crate::streaming::{self, OnRun, RunCost, ViewerGroup};
use serde::Serialize;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// The viewers in a child process: it prints `ready` once all have their `hello`, and
/// its report as one JSON line when its stdin closes.
pub struct ChildViewers {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl ChildViewers {
    pub fn start(
        port: u16,
        n: usize,
        pull_every: Duration,
    ) -> anyhow::Result<Box<dyn ViewerGroup>> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([
                "clients",
                "--url",
                &format!("ws://127.0.0.1:{port}/ws"),
                "--count",
                &n.to_string(),
                "--pull-every-s",
                &pull_every.as_secs_f64().to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout from the client process"))?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Box::new(ChildViewers {
            child,
            stdin,
            lines,
        }))
    }
}

impl ViewerGroup for ChildViewers {
    fn all_connected(&mut self) -> anyhow::Result<bool> {
        match self.lines.try_recv() {
            Ok(l) if l.trim() == "ready" => Ok(true),
            Ok(_) => Ok(false),
            Err(std::sync::mpsc::TryRecvError::Empty) => Ok(false),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                anyhow::bail!("the client process ended early ({:?})", self.child.wait()?)
            }
        }
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<ViewersReport> {
        drop(self.stdin.take());
        let report = loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(l) if l.starts_with('{') => break serde_json::from_str(&l)?,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    anyhow::bail!("the client process did not report within 60 s");
                }
                Err(RecvTimeoutError::Disconnected) => {
                    anyhow::bail!("the client process ended without a report")
                }
            }
        };
        self.child.wait()?;
        Ok(report)
    }
}

/// The child side: `n` pulling viewers until stdin closes, then one JSON line.
pub fn clients_main(url: &str, n: usize, pull_every: Duration) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let group = Viewers::spawn(rt.handle(), url, n, Behaviour::PullEvery(pull_every));
    let t0 = std::time::Instant::now();
    while group.connected() < n as u64 && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = std::io::stdout();
    if group.connected() >= n as u64 {
        writeln!(out, "ready")?;
        out.flush()?;
    }
    // Wait for the parent to close our stdin.
    let mut sink = String::new();
    while std::io::stdin().read_line(&mut sink)? > 0 {
        sink.clear();
    }
    let report = rt.block_on(group.stop(Duration::from_secs(10)));
    writeln!(out, "{}", serde_json::to_string(&report)?)?;
    out.flush()?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct ManyViewersReport {
    pub clients: usize,
    pub pairs: usize,
    pub episodes_per_run: u64,
    pub off: Vec<RunCost>,
    pub on: Vec<OnRun>,
    pub cpu_overhead_pct: Spread,
    pub wall_slowdown_pct: Spread,
}

/// `pairs` interleaved pairs: streaming off vs on with `clients` pulling viewers.
pub fn run(
    pack: &Path,
    clients: usize,
    pairs: usize,
    episodes: u64,
    seed: u64,
) -> anyhow::Result<ManyViewersReport> {
    let p = streaming::interleaved_pairs(pack, pairs, episodes, seed, clients, |port| {
        ChildViewers::start(port, clients, Duration::from_secs(5))
    })?;
    Ok(ManyViewersReport {
        clients,
        pairs,
        episodes_per_run: episodes,
        off: p.off,
        on: p.on,
        cpu_overhead_pct: p.cpu_overhead_pct,
        wall_slowdown_pct: p.wall_slowdown_pct,
    })
}

pub fn print(r: &ManyViewersReport) {
    println!(
        "(d) {} WebSocket viewers (every summary + a full episode pulled every 5 s), {} interleaved pairs of {} episodes:",
        r.clients, r.pairs, r.episodes_per_run
    );
    println!(
        "    training CPU per env step +{} % vs streaming off",
        r.cpu_overhead_pct
    );
    println!(
        "    wall-clock training slowdown {} % (target < 5 %)",
        r.wall_slowdown_pct
    );
    for (i, o) in r.on.iter().enumerate() {
        let v = &o.viewers;
        println!(
            "    run {}: {} of {} connected, {} disconnected; {} summaries (missing {}), p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 < 200 ms); {} pull requests, {} full episodes received; live drops {}; RSS with viewers {:.0} MiB (peak {:.0} MiB)",
            i + 1,
            v.connected,
            v.clients,
            v.disconnected,
            v.summaries,
            v.summaries_missing,
            v.latency.p50_ms,
            v.latency.p99_ms,
            v.latency.max_ms,
            v.requests,
            v.episodes,
            o.dropped_live,
            o.rss_connected_kib as f64 / 1024.0,
            o.rss_peak_kib as f64 / 1024.0
        );
    }
}
