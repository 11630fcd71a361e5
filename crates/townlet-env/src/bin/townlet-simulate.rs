//! `townlet-simulate`: script one episode of one agent and print every step, so a teacher
//! can see the dynamics and we can check the world against reference trajectories.
//!
//! Exit codes: 0 success, 2 bad flags or values (clap's usage errors included), 1 when
//! writing the output fails.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use serde::Serialize;
use serde::ser::SerializeMap;
use townlet_env::{EndReason, Env};

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

/// Meters as a JSON object in index order.
struct MeterMap<'a> {
    names: &'a [String],
    values: &'a [f32],
}

impl Serialize for MeterMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.names.len()))?;
        for (n, v) in self.names.iter().zip(self.values) {
            map.serialize_entry(n, v)?;
        }
        map.end()
    }
}

/// One `--json` line (issue 2 item 4; every value is the state after the step).
#[derive(Serialize)]
struct StepLine<'a> {
    step: u32,
    action: &'a str,
    position: [i32; 2],
    meters: MeterMap<'a>,
    reward: f32,
    done: bool,
    end_reason: Option<EndReason>,
    next_action_mask: &'a [bool],
    observation: &'a [f32],
    time_of_day: u32,
    interaction_ticks: u32,
}

enum Failure {
    /// Bad flags or values: exit code 2.
    Usage(anyhow::Error),
    /// Writing the output failed: exit code 1.
    Output(io::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Usage(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2.
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("townlet-simulate: error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("townlet-simulate: error writing output: {e}");
            ExitCode::from(1)
        }
    }
}

fn parse_action(env: &Env, token: &str) -> anyhow::Result<u32> {
    let dim = env.action_dim();
    if let Ok(id) = token.parse::<u32>() {
        if (id as usize) < dim {
            return Ok(id);
        }
        bail!("action id {id} is outside 0..{dim}");
    }
    env.action_id(token).ok_or_else(|| {
        anyhow!(
            "unknown action '{token}' (known: {})",
            env.action_names().join(", ")
        )
    })
}

fn load_actions(cli: &Cli, env: &Env) -> anyhow::Result<Vec<u32>> {
    let mut actions = Vec::new();
    if let Some(list) = &cli.actions {
        for token in list.split(',').map(str::trim) {
            if token.is_empty() {
                bail!("--actions '{list}': empty entry");
            }
            actions.push(parse_action(env, token).with_context(|| format!("--actions '{list}'"))?);
        }
    } else if let Some(path) = &cli.actions_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--actions-file '{}': cannot read", path.display()))?;
        for (i, line) in text.lines().enumerate() {
            let token = line.trim();
            if token.is_empty() || token.starts_with('#') {
                continue;
            }
            actions.push(
                parse_action(env, token).with_context(|| {
                    format!("--actions-file '{}' line {}", path.display(), i + 1)
                })?,
            );
        }
    }
    if actions.is_empty() {
        bail!("no actions given (use --actions or --actions-file)");
    }
    Ok(actions)
}

fn apply_start_state(cli: &Cli, env: &mut Env) -> anyhow::Result<()> {
    if let Some(path) = &cli.layout {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--layout '{}': cannot read", path.display()))?;
        let map: BTreeMap<String, [i32; 2]> = serde_json::from_str(&text).with_context(|| {
            format!(
                "--layout '{}': expected a JSON object of name -> [x, y]",
                path.display()
            )
        })?;
        let layout: Vec<(String, [i32; 2])> = map.into_iter().collect();
        env.set_layout(&layout)
            .with_context(|| format!("--layout '{}'", path.display()))?;
    }
    if let Some(start) = cli.start {
        env.set_position(0, start)
            .with_context(|| format!("--start '{},{}'", start[0], start[1]))?;
    }
    if let Some(list) = &cli.meters {
        for item in list.split(',').map(str::trim) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| anyhow!("--meters '{list}': expected NAME=VALUE, got '{item}'"))?;
            let value: f32 = value
                .trim()
                .parse()
                .map_err(|_| anyhow!("--meters '{list}': '{value}' is not a number"))?;
            env.set_meter(0, name.trim(), value).with_context(|| {
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

fn run(cli: &Cli) -> Result<(), Failure> {
    let pack = townlet_config::load_pack(&cli.pack).map_err(|e| {
        anyhow!(
            "--pack '{}': the pack does not load:\n{e}",
            cli.pack.display()
        )
    })?;
    for w in &pack.warnings {
        eprintln!("townlet-simulate: warning: {w}");
    }
    let max_steps = cli
        .max_steps
        .unwrap_or(pack.curriculum.max_steps_per_episode);
    if max_steps == 0 {
        return Err(anyhow!("--max-steps '0': must be at least 1").into());
    }
    let mut env =
        Env::new(&pack, 1, cli.seed).with_context(|| format!("--pack '{}'", cli.pack.display()))?;
    env.reset();
    apply_start_state(cli, &mut env)?;
    let actions = load_actions(cli, &env)?;

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if !cli.json {
        print_header(&mut out, &env, &pack.name)?;
    }
    for (i, &action) in actions.iter().enumerate().take(max_steps as usize) {
        let step = i as u32 + 1;
        let (reward, done, mut end_reason) = {
            let r = env
                .step(&[action], cli.multiplier)
                .map_err(anyhow::Error::from)?;
            (r.rewards[0], r.dones[0], r.end_reasons[0])
        };
        if !done && step == max_steps {
            end_reason = Some(EndReason::Truncated);
        }
        let line = StepLine {
            step,
            action: &env.action_names()[action as usize],
            position: env.positions()[0],
            meters: MeterMap {
                names: env.meter_names(),
                values: env.meters(0),
            },
            reward,
            done,
            end_reason,
            next_action_mask: env.action_mask(0),
            observation: env.observation(0),
            time_of_day: env.time_of_day(),
            interaction_ticks: env.progress(0),
        };
        if cli.json {
            serde_json::to_writer(&mut out, &line).map_err(io::Error::from)?;
            writeln!(out)?;
        } else {
            print_row(
                &mut out,
                &line,
                env.last_result().successful_interactions[0],
                &env,
            )?;
        }
        if done {
            break;
        }
    }
    out.flush()?;
    Ok(())
}

fn print_header(out: &mut impl Write, env: &Env, pack: &str) -> io::Result<()> {
    writeln!(out, "pack {pack}, grid {0}x{0}", env.grid_size())?;
    let layout: Vec<String> = env
        .layout()
        .iter()
        .map(|(n, c)| format!("{n}@{},{}", c[0], c[1]))
        .collect();
    writeln!(out, "layout: {}", layout.join(" "))?;
    let p = env.positions()[0];
    writeln!(
        out,
        "start: position [{},{}], time_of_day {}, meters {}",
        p[0],
        p[1],
        env.time_of_day(),
        fmt_meters(env.meter_names(), env.meters(0))
    )?;
    write!(
        out,
        "{:>4} {:<9} {:>7} {:>9} {:<5} {:<9}",
        "step", "action", "pos", "reward", "done", "end"
    )?;
    for n in env.meter_names() {
        write!(out, " {:>9}", truncate(n, 9))?;
    }
    writeln!(out, " {:>4} {:>5} interaction", "hour", "ticks")
}

fn print_row(
    out: &mut impl Write,
    l: &StepLine<'_>,
    interaction: Option<usize>,
    env: &Env,
) -> io::Result<()> {
    let end = match l.end_reason {
        None => "-",
        Some(EndReason::Died) => "died",
        Some(EndReason::Retired) => "retired",
        Some(EndReason::Truncated) => "truncated",
        Some(EndReason::Interrupted) => "interrupt",
    };
    write!(
        out,
        "{:>4} {:<9} {:>7} {:>9.6} {:<5} {:<9}",
        l.step,
        l.action,
        format!("[{},{}]", l.position[0], l.position[1]),
        l.reward,
        l.done,
        end
    )?;
    for v in l.meters.values {
        write!(out, " {v:>9.6}")?;
    }
    let inter = interaction.map_or("-", |i| env.affordance_names()[i].as_str());
    writeln!(
        out,
        " {:>4} {:>5} {inter}",
        l.time_of_day, l.interaction_ticks
    )
}

fn fmt_meters(names: &[String], values: &[f32]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
