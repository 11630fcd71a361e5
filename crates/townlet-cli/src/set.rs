//! `--set KEY=VALUE` (repeatable) for the binaries that load a pack.

use townlet_config::Overrides;

/// Help text shared by the binaries' `--set` flag.
pub const HELP: &str = "Replace a pack value, e.g. --set training.epsilon_decay=0.99 (repeatable). \
KEY is the dotted key in training.yaml, or FILE:KEY in another pack file \
(bars.yaml:bars[0].initial); VALUE is YAML. Kept in the run's config snapshot.";

/// Parses every `--set` argument; all bad ones are reported in one error, one per line.
pub fn parse(args: &[String]) -> anyhow::Result<Overrides> {
    Overrides::from_flags(args).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(lines.join("\n"))
    })
}
