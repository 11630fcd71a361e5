//! Why an episode ended: the one definition shared by the env, the drivers and the
//! recordings (which store it by its snake_case name).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an agent's episode ended. The env itself produces `Died` and `Retired`; drivers use
/// `Truncated` (max steps reached) and `Interrupted` (stop requested).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Died,
    Retired,
    Truncated,
    Interrupted,
}

impl EndReason {
    /// The snake_case name, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Died => "died",
            EndReason::Retired => "retired",
            EndReason::Truncated => "truncated",
            EndReason::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for EndReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "died" => Ok(EndReason::Died),
            "retired" => Ok(EndReason::Retired),
            "truncated" => Ok(EndReason::Truncated),
            "interrupted" => Ok(EndReason::Interrupted),
            other => Err(format!("unknown end reason {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [EndReason; 4] = [
        EndReason::Died,
        EndReason::Retired,
        EndReason::Truncated,
        EndReason::Interrupted,
    ];

    #[test]
    fn serde_names() {
        let names: Vec<String> = ALL
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                r#""died""#,
                r#""retired""#,
                r#""truncated""#,
                r#""interrupted""#
            ]
        );
        let back: EndReason = serde_json::from_str(r#""retired""#).unwrap();
        assert_eq!(back, EndReason::Retired);
    }

    #[test]
    fn names_round_trip_and_match_serde() {
        for e in ALL {
            assert_eq!(e.as_str().parse::<EndReason>(), Ok(e));
            assert_eq!(serde_json::to_string(&e).unwrap(), format!("\"{e}\""));
        }
        assert!("asleep".parse::<EndReason>().is_err());
    }
}
