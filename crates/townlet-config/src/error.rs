//! Validation errors. Every problem found in a pack is one [`ConfigError`]; loading
//! collects all of them before failing ([`ConfigErrors`]).

use std::fmt;

/// One problem in one file: `<file>: <key path>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `<pack>/<file>` (e.g. `L1_full_observability/bars.yaml`), or
    /// `<configs root name>/global_actions.yaml` for the shared file.
    pub file: String,
    /// Dotted key path with `[i]` list indices, e.g. `affordances[3].effects[1].meter`.
    /// Empty for file-level problems (missing file, YAML syntax error).
    pub key: String,
    /// What is wrong; contains the offending value where there is one.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every error found while loading a pack (never empty when returned by `load_pack`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct ConfigErrors(pub Vec<ConfigError>);

fn render(list: &[ConfigError]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigErrors {
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when some error is in a file whose name ends with `file` and has exactly `key`.
    pub fn has(&self, file: &str, key: &str) -> bool {
        self.0
            .iter()
            .any(|e| e.file.ends_with(file) && e.key == key)
    }
}
