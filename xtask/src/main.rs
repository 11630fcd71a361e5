//! `cargo xtask <command>`: Townlet's automation, in Rust so it runs wherever cargo does.
//!
//! * `test` — what CI runs (docs/decisions.md#what-ci-runs): fmt check, clippy
//!   `-D warnings`, all cargo tests, the frontend's `npm ci` / Vitest / build, then the
//!   browser suite (`e2e`).
//! * `e2e` — the browser suite alone, against the unified server `townlet-demo`.
//! * `demo` — build the frontend and the unified server (release), start it, open a browser.
//! * `bench` — the criterion benches, then the training/streaming benchmark binary.
//! * `learn-check` — dispatch to the learning checks binary.
//! * `run` — build any workspace binary in release and run it (same build as `demo`).
//! * `cluster` — nats-server, N trainers publishing, M viewer servers subscribing
//!   (docs/deployment.md).

mod bench;
mod cluster;
mod demo;
mod e2e;
mod frontend;
mod health;
mod nats;
mod proc;
mod test;
mod tidy;
mod workspace;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Townlet automation (demo, test, e2e, bench, learn-check)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// What CI runs: fmt, clippy, cargo tests, frontend tests and build, browser suite.
    Test,
    /// The browser end-to-end suite against the unified server (debug build, tiny pack).
    E2e,
    /// Build everything (release) and start live training with the viewer.
    /// Flags for townlet-demo follow, after `--` (default: --pack configs/L1_full_observability).
    Demo {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Criterion benches of every crate that has them, then the training/streaming
    /// benchmarks (townlet-bench). Flags after `--` go to townlet-bench.
    Bench {
        /// Skip the criterion benches.
        #[arg(long)]
        skip_criterion: bool,
        /// Skip the training/streaming benchmark binary.
        #[arg(long)]
        skip_training: bool,
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Learning checks (townlet-learn-check, release). Its flags follow (after `--` or directly).
    LearnCheck {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// On one machine: nats-server (JetStream), N trainers publishing to it and M viewer
    /// servers subscribing (docs/deployment.md). Flags after `--`: --runs N --viewers M
    /// --pack DIR --episodes E --nats-port P --port P. Ctrl+C stops everything.
    Cluster {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build a workspace binary in release and run it from the current folder, e.g.
    /// `cargo xtask run townlet-train -- --pack configs/L0_0_minimal`. Unlike
    /// `cargo run -p …`, it shares one release build with demo, bench and learn-check.
    Run {
        /// townlet-train, townlet-inference, townlet-demo, townlet-simulate, …
        bin: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Test => test::run(),
        Command::E2e => e2e::run(),
        Command::Demo { args } => demo::run(&args),
        Command::Cluster { args } => cluster::run(&args),
        Command::Bench {
            skip_criterion,
            skip_training,
            args,
        } => bench::bench(!skip_criterion, !skip_training, &args),
        Command::LearnCheck { args } => bench::learn_check(&args),
        Command::Run { bin, args } => bench::run_bin(&bin, &args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
