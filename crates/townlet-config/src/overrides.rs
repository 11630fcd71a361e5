//! Overrides: pack values replaced from outside the pack files (`--set KEY=VALUE` on the
//! command line, a lab file's `set:` map, or the pack folder's own `overrides.yaml`).
//!
//! A key is the value's dotted path in its pack file, list items as `[i]`:
//!
//! * `exploration.initial_intrinsic_weight`: no prefix means `training.yaml`, and the
//!   first segment must be one of its sections (`environment`, `population`,
//!   `curriculum`, `exploration`, `training`, `recording`, `run_metadata`);
//! * `bars.yaml:bars[0].initial`: another pack file is named before a colon
//!   (`substrate.yaml`, `bars.yaml`, `cascades.yaml`, `affordances.yaml`, or
//!   `training.yaml`). The shared `global_actions.yaml` cannot be overridden.
//!
//! The value is read as YAML (`0`, `0.99`, `true`, `null`, `[1, 2]`, `{a: 1}`,
//! `recurrent`). Overrides are written into the parsed files *before* validation, so a
//! value is checked exactly like the same value written in the file, and a key the file
//! does not know is reported as an unknown key. Errors caused by an override say so:
//! `… (from --set exploration.initial_intrinsic_weight=-1)`.
//!
//! A later override of the same key replaces an earlier one.

use crate::error::ConfigError;
use crate::load::PACK_FILES;
use crate::walk::{Errs, describe, render};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};
use std::fmt;

/// The file a key without a `FILE:` prefix belongs to.
const DEFAULT_FILE: &str = "training.yaml";

/// The top-level sections of `training.yaml` (what an unprefixed key may start with).
pub const TRAINING_SECTIONS: [&str; 7] = [
    "run_metadata",
    "environment",
    "population",
    "curriculum",
    "exploration",
    "training",
    "recording",
];

/// The file, next to a pack's five files, whose flat `key: value` map is applied as
/// overrides whenever the pack is loaded (run snapshots keep their `--set` values there).
pub const OVERRIDES_FILE: &str = "overrides.yaml";

/// Where an override came from (for messages only; not part of equality).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--set KEY=VALUE` on a command line.
    Flag,
    /// A lab file's `set:` map.
    Lab,
    /// The pack folder's `overrides.yaml`.
    PackFile,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// One overridden value.
#[derive(Debug, Clone)]
pub struct Override {
    file: &'static str,
    path: Vec<Seg>,
    value: Value,
    /// The value as the user wrote it (command line), else its one-line YAML rendering.
    text: String,
    origin: Origin,
}

impl PartialEq for Override {
    fn eq(&self, other: &Self) -> bool {
        self.file == other.file && self.path == other.path && self.value == other.value
    }
}

/// A `--set` argument or a `set:` key that cannot be used, before any pack is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--set {arg}: {problem}")]
pub struct OverrideError {
    /// The argument as given.
    pub arg: String,
    /// What is wrong with it.
    pub problem: String,
}

impl Override {
    /// Parses one `--set` argument, `KEY=VALUE`.
    pub fn parse_flag(arg: &str) -> Result<Self, OverrideError> {
        let fail = |problem: String| OverrideError {
            arg: arg.to_string(),
            problem,
        };
        let Some((key, text)) = arg.split_once('=') else {
            return Err(fail("expected KEY=VALUE".into()));
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(fail("the value is empty (write null for null)".into()));
        }
        let value = serde_norway::from_str::<Value>(text)
            .map_err(|err| fail(format!("the value is not valid YAML: {err}")))?;
        let mut o = Self::new(key.trim(), value, Origin::Flag).map_err(fail)?;
        o.text = text.to_string();
        Ok(o)
    }

    /// An override of `key` (see the module docs for its form) with an already parsed
    /// value. The error says what is wrong with the key.
    pub fn new(key: &str, value: Value, origin: Origin) -> Result<Self, String> {
        let (file, rest) = match key.split_once(':') {
            Some((f, rest)) => match PACK_FILES.iter().find(|p| **p == f) {
                Some(p) => (*p, rest),
                None => {
                    return Err(format!(
                        "'{f}' is not a pack file (one of {})",
                        PACK_FILES.join(", ")
                    ));
                }
            },
            None => (DEFAULT_FILE, key),
        };
        let path = parse_path(rest)?;
        if file == DEFAULT_FILE
            && let Some(Seg::Key(first)) = path.first()
            && !TRAINING_SECTIONS.contains(&first.as_str())
        {
            let hint = if key.contains(':') {
                String::new()
            } else {
                "; a key of another pack file is written FILE:KEY, e.g. bars.yaml:bars[0].initial"
                    .to_string()
            };
            return Err(format!(
                "'{first}' is not a section of training.yaml (one of {}){hint}",
                TRAINING_SECTIONS.join(", ")
            ));
        }
        let text = render(&value);
        Ok(Self {
            file,
            path,
            value,
            text,
            origin,
        })
    }

    /// The pack file this override changes, e.g. `training.yaml`.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The key path inside the file, as errors name it: `bars[0].initial`.
    pub fn path(&self) -> String {
        let mut s = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(k) if s.is_empty() => s.push_str(k),
                Seg::Key(k) => {
                    s.push('.');
                    s.push_str(k);
                }
                Seg::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }

    /// The key as written in `--set` and `overrides.yaml`: the path, prefixed with
    /// `FILE:` unless the file is `training.yaml`.
    pub fn key(&self) -> String {
        if self.file == DEFAULT_FILE {
            self.path()
        } else {
            format!("{}:{}", self.file, self.path())
        }
    }

    /// The value, one line (as given on the command line, else rendered as YAML).
    pub fn value_text(&self) -> &str {
        &self.text
    }

    /// The value as JSON (for protocol messages and logs).
    pub fn value_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.value).unwrap_or(serde_json::Value::Null)
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Where an error caused by this override says it came from.
    fn source_note(&self) -> String {
        match self.origin {
            Origin::Flag => format!("--set {}={}", self.key(), self.text),
            Origin::Lab => format!("the lab's set: {}: {}", self.key(), self.text),
            Origin::PackFile => format!("{OVERRIDES_FILE}: {}: {}", self.key(), self.text),
        }
    }

    /// Writes the value into `doc` (the parsed file); the error names what is in the way.
    fn apply(&self, doc: &mut Value) -> Result<(), String> {
        let mut cur = doc;
        let mut at = String::new();
        for (i, seg) in self.path.iter().enumerate() {
            let last = i + 1 == self.path.len();
            match seg {
                Seg::Key(k) => {
                    if matches!(cur, Value::Null) {
                        *cur = Value::Mapping(Mapping::new());
                    }
                    let Value::Mapping(m) = cur else {
                        return Err(not_a(&at, cur, "mapping"));
                    };
                    let key = Value::String(k.clone());
                    if last {
                        m.insert(key, self.value.clone());
                        return Ok(());
                    }
                    at = crate::walk::join(&at, k);
                    cur = m.entry(key).or_insert(Value::Null);
                }
                Seg::Index(n) => {
                    let Value::Sequence(seq) = cur else {
                        return Err(not_a(&at, cur, "list"));
                    };
                    let len = seq.len();
                    let Some(item) = seq.get_mut(*n) else {
                        return Err(format!("{at} has {len} items; there is no [{n}]"));
                    };
                    at.push_str(&format!("[{n}]"));
                    if last {
                        *item = self.value.clone();
                        return Ok(());
                    }
                    cur = item;
                }
            }
        }
        Ok(())
    }
}

fn not_a(at: &str, v: &Value, what: &str) -> String {
    let at = if at.is_empty() { "the file" } else { at };
    format!("{at} is {}, not a {what}", describe(v))
}

/// `a.b[2].c` → segments; every name non-empty, indices plain numbers.
fn parse_path(s: &str) -> Result<Vec<Seg>, String> {
    if s.is_empty() {
        return Err("the key is empty".into());
    }
    let mut out = Vec::new();
    for part in s.split('.') {
        let (name, mut idx) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() {
            return Err(format!("'{s}' has an empty key segment"));
        }
        if name.contains(']') {
            return Err(format!("'{s}': unmatched ']' in '{part}'"));
        }
        out.push(Seg::Key(name.to_string()));
        while !idx.is_empty() {
            let close = idx
                .find(']')
                .filter(|_| idx.starts_with('['))
                .ok_or_else(|| format!("'{s}': '{part}' is not NAME or NAME[INDEX]"))?;
            let n = idx[1..close]
                .parse::<usize>()
                .map_err(|_| format!("'{s}': '{}' is not a list index", &idx[1..close]))?;
            out.push(Seg::Index(n));
            idx = &idx[close + 1..];
        }
    }
    Ok(out)
}

/// Overrides in the order given; a key given again replaces the earlier value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides(Vec<Override>);

impl Overrides {
    /// Parses `--set` arguments; every bad one is reported.
    pub fn from_flags<S: AsRef<str>>(args: &[S]) -> Result<Self, Vec<OverrideError>> {
        let mut out = Self::default();
        let mut errors = Vec::new();
        for a in args {
            match Override::parse_flag(a.as_ref()) {
                Ok(o) => out.push(o),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Adds `o`, replacing an override of the same key.
    pub fn push(&mut self, o: Override) {
        self.0.retain(|x| x.key() != o.key());
        self.0.push(o);
    }

    /// `self`, then `later` (whose keys win).
    pub fn merged(&self, later: &Overrides) -> Overrides {
        let mut out = self.clone();
        for o in &later.0 {
            out.push(o.clone());
        }
        out
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Override> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `overrides.yaml` text: a flat map `key: value`.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }

    /// Reads an `overrides.yaml` document (errors recorded against `file`).
    pub(crate) fn from_doc(e: &mut Errs, file: &str, doc: &Value) -> Overrides {
        let mut out = Overrides::default();
        let Value::Mapping(m) = doc else {
            e.push(
                file,
                "",
                format!("expected a mapping of key: value, got {}", describe(doc)),
            );
            return out;
        };
        for (k, v) in m {
            let Value::String(key) = k else {
                e.push(file, &render(k), "a key must be a string");
                continue;
            };
            match Override::new(key, v.clone(), Origin::PackFile) {
                Ok(o) => out.push(o),
                Err(problem) => e.push(file, key, problem),
            }
        }
        out
    }

    /// Writes every override into its file's parsed document (`docs` in `PACK_FILES`
    /// order; a `None` file failed to read and is skipped). A path that cannot be
    /// followed is an error against `labels[i]`.
    pub(crate) fn apply(&self, e: &mut Errs, docs: &mut [Option<Value>], labels: &[String]) {
        for o in &self.0 {
            let Some(i) = PACK_FILES.iter().position(|f| *f == o.file) else {
                continue;
            };
            if let Some(doc) = docs[i].as_mut()
                && let Err(problem) = o.apply(doc)
            {
                e.push(
                    &labels[i],
                    &o.path(),
                    format!("{problem} (from {})", o.source_note()),
                );
            }
        }
    }

    /// Adds `(from --set KEY=VALUE)` to each error an override caused: at its key (or
    /// below it) in its file, or naming its key in the message.
    pub(crate) fn annotate(&self, errors: &mut [ConfigError], labels: &[String]) {
        for err in errors {
            if err.message.contains(" (from ") {
                continue;
            }
            let notes: Vec<String> = self
                .0
                .iter()
                .filter(|o| {
                    let path = o.path();
                    let in_file = PACK_FILES
                        .iter()
                        .position(|f| *f == o.file)
                        .is_some_and(|i| labels[i] == err.file);
                    let below = err.key == path
                        || err.key.starts_with(&format!("{path}."))
                        || err.key.starts_with(&format!("{path}["));
                    (in_file && below) || err.message.contains(&path)
                })
                .map(Override::source_note)
                .collect();
            if !notes.is_empty() {
                err.message = format!("{} (from {})", err.message, notes.join(", "));
            }
        }
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key(), self.text)
    }
}

impl<'a> IntoIterator for &'a Overrides {
    type Item = &'a Override;
    type IntoIter = std::slice::Iter<'a, Override>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// As the flat map of `overrides.yaml`.
impl Serialize for Overrides {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for o in &self.0 {
            m.serialize_entry(&o.key(), &o.value)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Overrides {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Overrides;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of override key to value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Overrides, A::Error> {
                let mut out = Overrides::default();
                while let Some((k, v)) = a.next_entry::<String, Value>()? {
                    let o = Override::new(&k, v, Origin::PackFile)
                        .map_err(|p| serde::de::Error::custom(format!("{k}: {p}")))?;
                    out.push(o);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}
