//! `townlet-simulate`: script one episode of one agent and print every step, so a teacher
//! can see the dynamics and we can check the world against reference trajectories.
//!
//! Exit codes: 0 success, 2 bad flags or values (clap's usage errors included), 1 when
//! writing the output fails. The episode itself runs in `townlet_env::script`.

use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use townlet_cli::report;
use townlet_env::Env;
use townlet_env::script::{self, Format, Script, ScriptError};

#[derive(Debug, Parser)]
#[command(
    name = "townlet-simulate",
    about = "Run a scripted Townlet episode (one agent) and print every step",
    after_help = "Example:\n  townlet-simulate --pack configs/L1_full_observability --seed 7 \
                  --start 0,0 --actions WAIT,RIGHT,INTERACT --json"
)]
struct Cli {
    /// Pack folder, e.g. configs/L1_full_observability.
    #[arg(long, value_name = "DIR")]
    pack: PathBuf,
    /// Seed of the env's RNG (layout shuffle and spawn).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    seed: u64,
    /// JSON object mapping every deployed affordance name to [x, y]; default: seeded layout.
    #[arg(long, value_name = "FILE")]
    layout: Option<PathBuf>,
    /// Start cell; default: the seeded spawn.
    #[arg(long, value_name = "X,Y", value_parser = parse_xy, allow_hyphen_values = true)]
    start: Option<[i32; 2]>,
    /// Depletion multiplier (> 0).
    #[arg(long, default_value_t = 1.0, value_parser = parse_multiplier, allow_hyphen_values = true)]
    multiplier: f32,
    /// Comma-separated action names (any case) or ids.
    #[arg(
        long,
        value_name = "A,B,...",
        conflicts_with = "actions_file",
        required_unless_present = "actions_file"
    )]
    actions: Option<String>,
    /// File with one action (name or id) per line; blank lines and `#` comments are skipped.
    #[arg(long, value_name = "FILE")]
    actions_file: Option<PathBuf>,
    /// Start meter overrides, e.g. energy=0.3,money=0.1 (each in [0, 1]).
    #[arg(long, value_name = "NAME=V,...", allow_hyphen_values = true)]
    meters: Option<String>,
    /// Start hour, 0..23.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    time_of_day: Option<u32>,
    /// Stop after this many steps with end_reason "truncated" (default: the pack's
    /// curriculum.max_steps_per_episode).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    max_steps: Option<u32>,
    /// One JSON object per step instead of a table.
    #[arg(long)]
    json: bool,
}

fn parse_xy(s: &str) -> Result<[i32; 2], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if let [x, y] = parts[..]
        && let (Ok(x), Ok(y)) = (x.parse::<i32>(), y.parse::<i32>())
    {
        return Ok([x, y]);
    }
    Err(format!("expected two integers X,Y, got '{s}'"))
}

fn parse_multiplier(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("must be a finite number > 0, got {v}")),
        Err(_) => Err(format!("expected a number, got '{s}'")),
    }
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2.
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<ScriptError>() {
            Some(ScriptError::Output(io)) if io.kind() == io::ErrorKind::BrokenPipe => {
                ExitCode::SUCCESS
            }
            Some(ScriptError::Output(_)) => report::fail(&e),
            // Everything else is a bad flag or value.
            _ => {
                eprintln!("{}", report::render(&e));
                ExitCode::from(2)
            }
        },
    }
}

fn read(flag: &str, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("{flag} '{}': cannot read", path.display()))
}

fn load_actions(cli: &Cli, env: &Env) -> anyhow::Result<Vec<u32>> {
    let actions = if let Some(list) = &cli.actions {
        script::parse_action_list(env, list).with_context(|| format!("--actions '{list}'"))?
    } else if let Some(path) = &cli.actions_file {
        script::parse_action_lines(env, &read("--actions-file", path)?)
            .with_context(|| format!("--actions-file '{}'", path.display()))?
    } else {
        Vec::new()
    };
    if actions.is_empty() {
        bail!("no actions given (use --actions or --actions-file)");
    }
    Ok(actions)
}

fn apply_start_state(cli: &Cli, env: &mut Env) -> anyhow::Result<()> {
    if let Some(path) = &cli.layout {
        let flag = || format!("--layout '{}'", path.display());
        let layout = script::parse_layout_json(&read("--layout", path)?).with_context(flag)?;
        env.set_layout(&layout).with_context(flag)?;
    }
    if let Some(start) = cli.start {
        env.set_position(0, start)
            .with_context(|| format!("--start '{},{}'", start[0], start[1]))?;
    }
    if let Some(list) = &cli.meters {
        let flag = || format!("--meters '{list}'");
        for (name, value) in script::parse_meter_overrides(list).with_context(flag)? {
            env.set_meter(0, &name, value).with_context(|| {
                format!(
                    "--meters '{list}' (meters: {})",
                    env.meter_names().join(", ")
                )
            })?;
        }
    }
    if let Some(t) = cli.time_of_day {
        env.set_time_of_day(t)
            .with_context(|| format!("--time-of-day '{t}'"))?;
    }
    Ok(())
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let pack = townlet_config::load_pack(&cli.pack)
        .with_context(|| format!("--pack '{}': the pack does not load", cli.pack.display()))?;
    for w in &pack.warnings {
        eprintln!("townlet-simulate: warning: {w}");
    }
    let max_steps = cli
        .max_steps
        .unwrap_or(pack.curriculum.max_steps_per_episode);
    if max_steps == 0 {
        bail!("--max-steps '0': must be at least 1");
    }
    let mut env =
        Env::new(&pack, 1, cli.seed).with_context(|| format!("--pack '{}'", cli.pack.display()))?;
    env.reset();
    apply_start_state(cli, &mut env)?;
    let actions = load_actions(cli, &env)?;
    let script = Script {
        actions: &actions,
        multiplier: cli.multiplier,
        max_steps,
    };
    let format = if cli.json {
        Format::JsonLines
    } else {
        Format::Table
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    script::run(&mut env, &pack.name, &script, format, &mut out)?;
    Ok(())
}
