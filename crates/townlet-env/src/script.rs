//! Scripted episodes of one agent, as `townlet-simulate` runs them: read the actions (names
//! in any case, or ids), the start layout and meter overrides, then step through the
//! actions and write every step as a table row or a JSON line.
//!
//! ```
//! use std::path::Path;
//! use townlet_env::Env;
//! use townlet_env::script::{self, Format, Script};
//!
//! let pack = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/L0_0_minimal");
//! let mut env = Env::load(Path::new(pack), 1, 7)?;
//! env.reset();
//! let actions = script::parse_action_list(&env, "WAIT,wait,5")?;
//! let script = Script { actions: &actions, multiplier: 1.0, max_steps: 2 };
//! let mut out = Vec::new();
//! script::run(&mut env, "L0_0_minimal", &script, Format::JsonLines, &mut out)?;
//! let text = String::from_utf8(out).unwrap();
//! assert_eq!(text.lines().count(), 2); // stopped by max_steps
//! assert!(text.lines().last().unwrap().contains(r#""end_reason":"truncated""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::{EndReason, Env, EnvError};

/// What went wrong reading or running a script. Each message names the offending text;
/// the caller adds where it came from (a flag, a file).
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("unknown action '{token}' (known: {known})")]
    UnknownAction { token: String, known: String },
    #[error("action id {id} is outside 0..{action_dim}")]
    ActionOutOfRange { id: u32, action_dim: usize },
    #[error("empty entry")]
    EmptyEntry,
    /// A problem on one line of an actions file (1-based).
    #[error("line {line}")]
    Line {
        line: usize,
        #[source]
        source: Box<ScriptError>,
    },
    #[error("expected NAME=VALUE, got '{0}'")]
    MeterSyntax(String),
    #[error("'{0}' is not a number")]
    MeterNumber(String),
    #[error("expected a JSON object of name -> [x, y]")]
    LayoutJson(#[source] serde_json::Error),
    #[error(transparent)]
    Env(#[from] EnvError),
    /// Writing the rows failed (a closed pipe included).
    #[error("writing the output")]
    Output(#[from] io::Error),
}

/// One action: an id in `0..action_dim`, or a name (exact, then ASCII case-insensitive).
pub fn parse_action(env: &Env, token: &str) -> Result<u32, ScriptError> {
    let action_dim = env.action_dim();
    if let Ok(id) = token.parse::<u32>() {
        if (id as usize) < action_dim {
            return Ok(id);
        }
        return Err(ScriptError::ActionOutOfRange { id, action_dim });
    }
    env.action_id(token)
        .ok_or_else(|| ScriptError::UnknownAction {
            token: token.to_string(),
            known: env.action_names().join(", "),
        })
}

/// A comma-separated list of actions; an empty entry is an error.
pub fn parse_action_list(env: &Env, list: &str) -> Result<Vec<u32>, ScriptError> {
    list.split(',')
        .map(str::trim)
        .map(|token| {
            if token.is_empty() {
                Err(ScriptError::EmptyEntry)
            } else {
                parse_action(env, token)
            }
        })
        .collect()
}

/// One action per line; blank lines and lines starting with `#` are skipped.
pub fn parse_action_lines(env: &Env, text: &str) -> Result<Vec<u32>, ScriptError> {
    let mut actions = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let token = line.trim();
        if token.is_empty() || token.starts_with('#') {
            continue;
        }
        let action = parse_action(env, token).map_err(|e| ScriptError::Line {
            line: i + 1,
            source: Box::new(e),
        })?;
        actions.push(action);
    }
    Ok(actions)
}

/// A layout as a JSON object mapping each deployed affordance name to `[x, y]`, in name
/// order (give it to [`Env::set_layout`]).
pub fn parse_layout_json(text: &str) -> Result<Vec<(String, [i32; 2])>, ScriptError> {
    let map: BTreeMap<String, [i32; 2]> =
        serde_json::from_str(text).map_err(ScriptError::LayoutJson)?;
    Ok(map.into_iter().collect())
}

/// Meter overrides `NAME=VALUE,...` (give each to [`Env::set_meter`], which checks the
/// name and the range).
pub fn parse_meter_overrides(list: &str) -> Result<Vec<(String, f32)>, ScriptError> {
    list.split(',')
        .map(str::trim)
        .map(|item| {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| ScriptError::MeterSyntax(item.to_string()))?;
            let value = value.trim();
            let v = value
                .parse::<f32>()
                .map_err(|_| ScriptError::MeterNumber(value.to_string()))?;
            Ok((name.trim().to_string(), v))
        })
        .collect()
}

/// How [`run`] writes the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A header (pack, layout, start state) and one aligned row per step.
    Table,
    /// One JSON object per step, nothing else.
    JsonLines,
}

/// The actions of agent 0 and how to step them.
#[derive(Debug, Clone, Copy)]
pub struct Script<'a> {
    pub actions: &'a [u32],
    /// Depletion multiplier for every step (> 0).
    pub multiplier: f32,
    /// The step with this number ends with `end_reason` "truncated" unless the agent is
    /// done; later actions are not run.
    pub max_steps: u32,
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

/// One JSON line; every value is the state after the step.
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

/// Runs `script` for agent 0 of `env` from its current state, writing every step to `out`
/// until the agent is done or `max_steps` is reached. `Table` starts with a header naming
/// the pack `pack_name`. Stops at the first error.
pub fn run(
    env: &mut Env,
    pack_name: &str,
    script: &Script<'_>,
    format: Format,
    out: &mut impl Write,
) -> Result<(), ScriptError> {
    if format == Format::Table {
        write_header(out, env, pack_name)?;
    }
    for (i, &action) in script
        .actions
        .iter()
        .enumerate()
        .take(script.max_steps as usize)
    {
        let step = i as u32 + 1;
        let r = env.step(&[action], script.multiplier)?;
        let (reward, done, mut end_reason) = (r.rewards[0], r.dones[0], r.end_reasons[0]);
        let interaction = r.successful_interactions[0];
        if !done && step == script.max_steps {
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
        match format {
            Format::JsonLines => {
                serde_json::to_writer(&mut *out, &line).map_err(io::Error::from)?;
                writeln!(out)?;
            }
            Format::Table => {
                let inter = interaction.map_or("-", |i| env.affordance_names()[i].as_str());
                write_row(out, &line, inter)?;
            }
        }
        if done {
            break;
        }
    }
    out.flush()?;
    Ok(())
}

fn write_header(out: &mut impl Write, env: &Env, pack: &str) -> io::Result<()> {
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

fn write_row(out: &mut impl Write, l: &StepLine<'_>, interaction: &str) -> io::Result<()> {
    // The table keeps its 9-character column: "interrupted" is shortened.
    let end = match l.end_reason {
        None => "-",
        Some(EndReason::Interrupted) => "interrupt",
        Some(e) => e.as_str(),
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
    writeln!(
        out,
        " {:>4} {:>5} {interaction}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_overrides() {
        let got = parse_meter_overrides("energy=0.3, money = 0.1").unwrap();
        assert_eq!(got, [("energy".into(), 0.3), ("money".into(), 0.1)]);
        assert!(matches!(
            parse_meter_overrides("energy"),
            Err(ScriptError::MeterSyntax(s)) if s == "energy"
        ));
        assert!(matches!(
            parse_meter_overrides("energy=x"),
            Err(ScriptError::MeterNumber(s)) if s == "x"
        ));
    }

    #[test]
    fn truncate_counts_chars() {
        assert_eq!(truncate("satiation_x", 9), "satiation");
        assert_eq!(truncate("énergie", 3), "éne");
        assert_eq!(truncate("mood", 9), "mood");
    }
}
