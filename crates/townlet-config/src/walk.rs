//! A hand-written walker over `serde_norway::Value`. Reading mappings by hand (instead of
//! `#[derive(Deserialize)]` on whole files) lets validation record every problem and go
//! on, so one load reports all errors across all files, each with its exact key path.
//! Leaf words (`boundary: clamp`, `operator: "<="`) are read with the enum's own
//! `Deserialize` ([`as_word`]).

use crate::error::ConfigError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::de::value::StrDeserializer;
use serde_norway::{Mapping, Value};

/// Collector shared by every check of one load.
#[derive(Debug, Default)]
pub(crate) struct Errs {
    pub list: Vec<ConfigError>,
}

impl Errs {
    pub fn push(&mut self, file: &str, key: &str, message: impl Into<String>) {
        self.list.push(ConfigError {
            file: file.to_string(),
            key: key.to_string(),
            message: message.into(),
        });
    }
}

/// Joins a parent path and a key: `a.b` (or just `b` at the top).
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Compact one-line YAML-ish rendering of a value, for messages.
pub(crate) fn render(v: &Value) -> String {
    let s = match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("\"{s}\""),
        Value::Sequence(seq) => {
            let items: Vec<String> = seq.iter().map(render).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Mapping(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", render_key(k), render(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Tagged(t) => format!("{} {}", t.tag, render(&t.value)),
    };
    // Keep messages one readable line even for a huge misplaced block.
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

fn render_key(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => render(other),
    }
}

/// "string \"high\"", "number 3", "a list [..]" — what was found instead.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("bool {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => format!("string {}", render(v)),
        Value::Sequence(_) => format!("a list {}", render(v)),
        Value::Mapping(_) => format!("a mapping {}", render(v)),
        Value::Tagged(_) => format!("a tagged value {}", render(v)),
    }
}

/// f64 for messages: `1` not `1.0`, `0.005` as written.
pub(crate) fn fmt_num(v: f64) -> String {
    format!("{v}")
}

/// Allowed range of a float.
#[derive(Debug, Clone, Copy)]
pub(crate) enum R {
    Any,
    /// `>= x`
    Ge(f64),
    /// `> x`
    Gt(f64),
    /// `[lo, hi]`
    In(f64, f64),
    /// `(lo, hi]`
    InOpenLo(f64, f64),
}

impl R {
    fn check(self, v: f64) -> Result<(), String> {
        let n = fmt_num(v);
        let msg = match self {
            R::Any => return Ok(()),
            R::Ge(x) if v >= x => return Ok(()),
            R::Gt(x) if v > x => return Ok(()),
            R::In(lo, hi) if v >= lo && v <= hi => return Ok(()),
            R::InOpenLo(lo, hi) if v > lo && v <= hi => return Ok(()),
            R::Ge(x) => format!("{n} must be ≥ {}", fmt_num(x)),
            R::Gt(x) => format!("{n} must be > {}", fmt_num(x)),
            R::In(lo, hi) => format!("{n} is outside [{}, {}]", fmt_num(lo), fmt_num(hi)),
            R::InOpenLo(lo, hi) => {
                format!("{n} is outside ({}, {}]", fmt_num(lo), fmt_num(hi))
            }
        };
        Err(msg)
    }
}

/// Reads a float (integers accepted). Pushes an error and returns `None` otherwise.
pub(crate) fn as_f64(e: &mut Errs, file: &str, key: &str, v: &Value, r: R) -> Option<f64> {
    let x = match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    let Some(x) = x else {
        e.push(file, key, format!("expected a number, got {}", describe(v)));
        return None;
    };
    if !x.is_finite() {
        e.push(file, key, format!("{x} is not a finite number"));
        return None;
    }
    if let Err(m) = r.check(x) {
        e.push(file, key, m);
        return None;
    }
    Some(x)
}

/// Reads a meter amount: f64 checked, then rounded to f32 once.
pub(crate) fn as_f32(e: &mut Errs, file: &str, key: &str, v: &Value, r: R) -> Option<f32> {
    let x = as_f64(e, file, key, v, r)?;
    #[allow(clippy::cast_possible_truncation)] // the one intended rounding
    let y = x as f32;
    if !y.is_finite() {
        e.push(file, key, format!("{x} does not fit in a 32-bit float"));
        return None;
    }
    Some(y)
}

/// Reads an integer (floats rejected) with a lower bound, converted to `T`.
pub(crate) fn as_int<T: TryFrom<i128>>(
    e: &mut Errs,
    file: &str,
    key: &str,
    v: &Value,
    min: i128,
) -> Option<T> {
    let x: Option<i128> = match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i128::from(i))
            } else {
                n.as_u64().map(i128::from)
            }
        }
        _ => None,
    };
    let Some(x) = x else {
        let what = match v {
            Value::Number(n) => format!("{n}"),
            other => describe(other),
        };
        e.push(file, key, format!("expected an integer, got {what}"));
        return None;
    };
    if x < min {
        e.push(file, key, format!("{x} must be ≥ {min}"));
        return None;
    }
    match T::try_from(x) {
        Ok(t) => Some(t),
        Err(_) => {
            e.push(file, key, format!("{x} is too large"));
            None
        }
    }
}

pub(crate) fn as_str<'a>(e: &mut Errs, file: &str, key: &str, v: &'a Value) -> Option<&'a str> {
    match v {
        Value::String(s) => Some(s.as_str()),
        other => {
            e.push(
                file,
                key,
                format!("expected a string, got {}", describe(other)),
            );
            None
        }
    }
}

/// A string that must not be empty (names).
pub(crate) fn as_nonempty<'a>(
    e: &mut Errs,
    file: &str,
    key: &str,
    v: &'a Value,
) -> Option<&'a str> {
    let s = as_str(e, file, key, v)?;
    if s.is_empty() {
        e.push(file, key, "must not be empty");
        return None;
    }
    Some(s)
}

pub(crate) fn as_bool(e: &mut Errs, file: &str, key: &str, v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        other => {
            e.push(
                file,
                key,
                format!("expected true or false, got {}", describe(other)),
            );
            None
        }
    }
}

/// Reads one word of a closed set into the enum `T`, using `T`'s own `Deserialize`
/// (its `rename`s and variant order), so the accepted words are written down once, on
/// the type. An unknown word is reported with every accepted one.
pub(crate) fn as_word<T: DeserializeOwned>(
    e: &mut Errs,
    file: &str,
    key: &str,
    v: &Value,
) -> Option<T> {
    let s = as_str(e, file, key, v)?;
    match T::deserialize(StrDeserializer::<WordError>::new(s)) {
        Ok(t) => Some(t),
        Err(err) => {
            e.push(
                file,
                key,
                format!("'{s}' is not one of {}", err.0.join(", ")),
            );
            None
        }
    }
}

/// The word a unit variant is written as in a pack (its serde name), for messages.
pub(crate) fn word<T: Serialize>(t: &T) -> String {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".to_string(),
    }
}

/// The error of [`as_word`]: the words the enum accepts, as serde lists them.
#[derive(Debug)]
struct WordError(&'static [&'static str]);

impl std::fmt::Display for WordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected one of {}", self.0.join(", "))
    }
}

impl std::error::Error for WordError {}

impl serde::de::Error for WordError {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        // A derived unit-variant enum read from a string fails only by unknown_variant.
        WordError(&[])
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        WordError(expected)
    }
}

/// A list of integers (any sign), each checked.
pub(crate) fn int_list(e: &mut Errs, file: &str, key: &str, v: &Value) -> Option<Vec<i64>> {
    let items = as_list(e, file, key, v)?;
    let mut out = Some(Vec::new());
    for (p, item) in &items {
        match (
            as_int::<i64>(e, file, p, item, i128::from(i64::MIN)),
            out.as_mut(),
        ) {
            (Some(x), Some(l)) => l.push(x),
            _ => out = None,
        }
    }
    out
}

/// A list's items with their key paths (`path[i]`).
pub(crate) fn as_list<'a>(
    e: &mut Errs,
    file: &str,
    key: &str,
    v: &'a Value,
) -> Option<Vec<(String, &'a Value)>> {
    match v {
        Value::Sequence(seq) => Some(
            seq.iter()
                .enumerate()
                .map(|(i, item)| (format!("{key}[{i}]"), item))
                .collect(),
        ),
        other => {
            e.push(
                file,
                key,
                format!("expected a list, got {}", describe(other)),
            );
            None
        }
    }
}

/// A mapping being read. It remembers which keys were consumed, so `finish` can report
/// the rest as unknown keys.
pub(crate) struct Obj<'a> {
    pub file: &'a str,
    pub path: String,
    map: &'a Mapping,
    used: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    /// `v` must be a mapping; otherwise an error is pushed at `path`.
    pub fn new(e: &mut Errs, file: &'a str, path: &str, v: &'a Value) -> Option<Self> {
        match v {
            Value::Mapping(map) => Some(Obj {
                file,
                path: path.to_string(),
                map,
                used: Vec::new(),
            }),
            other => {
                e.push(
                    file,
                    path,
                    format!("expected a mapping, got {}", describe(other)),
                );
                None
            }
        }
    }

    pub fn key(&self, k: &str) -> String {
        join(&self.path, k)
    }

    /// The value under `k` (None when absent), marking `k` as known.
    pub fn get(&mut self, k: &'static str) -> Option<&'a Value> {
        self.used.push(k);
        self.map.get(k)
    }

    pub fn has(&self, k: &str) -> bool {
        self.map.get(k).is_some()
    }

    /// Like `get`, but absent and `null` both read as absent (the default applies).
    pub fn get_opt(&mut self, k: &'static str) -> Option<&'a Value> {
        match self.get(k) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// The value under a required key; "required key is missing" when absent.
    pub fn req(&mut self, e: &mut Errs, k: &'static str) -> Option<&'a Value> {
        let v = self.get(k);
        if v.is_none() {
            e.push(self.file, &self.key(k), "required key is missing");
        }
        v
    }

    /// Marks doc keys as known without reading them.
    pub fn doc(&mut self, keys: &[&'static str]) {
        self.used.extend_from_slice(keys);
    }

    /// A required doc string: must be present and a string, never read.
    pub fn req_doc(&mut self, e: &mut Errs, k: &'static str) {
        if let Some(v) = self.req(e, k) {
            let key = self.key(k);
            as_str(e, self.file, &key, v);
        }
    }

    pub fn req_f64(&mut self, e: &mut Errs, k: &'static str, r: R) -> Option<f64> {
        let v = self.req(e, k)?;
        as_f64(e, self.file, &self.key(k), v, r)
    }

    pub fn opt_f64(&mut self, e: &mut Errs, k: &'static str, default: f64, r: R) -> Option<f64> {
        match self.get_opt(k) {
            None => Some(default),
            Some(v) => as_f64(e, self.file, &self.key(k), v, r),
        }
    }

    pub fn req_f32(&mut self, e: &mut Errs, k: &'static str, r: R) -> Option<f32> {
        let v = self.req(e, k)?;
        as_f32(e, self.file, &self.key(k), v, r)
    }

    pub fn req_int<T: TryFrom<i128>>(
        &mut self,
        e: &mut Errs,
        k: &'static str,
        min: i128,
    ) -> Option<T> {
        let v = self.req(e, k)?;
        as_int(e, self.file, &self.key(k), v, min)
    }

    pub fn opt_int<T: TryFrom<i128>>(
        &mut self,
        e: &mut Errs,
        k: &'static str,
        default: T,
        min: i128,
    ) -> Option<T> {
        match self.get_opt(k) {
            None => Some(default),
            Some(v) => as_int(e, self.file, &self.key(k), v, min),
        }
    }

    pub fn req_str(&mut self, e: &mut Errs, k: &'static str) -> Option<&'a str> {
        let v = self.req(e, k)?;
        as_str(e, self.file, &self.key(k), v)
    }

    pub fn req_nonempty(&mut self, e: &mut Errs, k: &'static str) -> Option<&'a str> {
        let v = self.req(e, k)?;
        as_nonempty(e, self.file, &self.key(k), v)
    }

    pub fn req_bool(&mut self, e: &mut Errs, k: &'static str) -> Option<bool> {
        let v = self.req(e, k)?;
        as_bool(e, self.file, &self.key(k), v)
    }

    pub fn opt_bool(&mut self, e: &mut Errs, k: &'static str, default: bool) -> Option<bool> {
        match self.get_opt(k) {
            None => Some(default),
            Some(v) => as_bool(e, self.file, &self.key(k), v),
        }
    }

    pub fn req_word<T: DeserializeOwned>(&mut self, e: &mut Errs, k: &'static str) -> Option<T> {
        let v = self.req(e, k)?;
        as_word(e, self.file, &self.key(k), v)
    }

    pub fn opt_word<T: DeserializeOwned>(
        &mut self,
        e: &mut Errs,
        k: &'static str,
        default: T,
    ) -> Option<T> {
        match self.get_opt(k) {
            None => Some(default),
            Some(v) => as_word(e, self.file, &self.key(k), v),
        }
    }

    pub fn req_list(&mut self, e: &mut Errs, k: &'static str) -> Option<Vec<(String, &'a Value)>> {
        let v = self.req(e, k)?;
        as_list(e, self.file, &self.key(k), v)
    }

    /// An optional list; absent or null is the empty list.
    pub fn opt_list(&mut self, e: &mut Errs, k: &'static str) -> Option<Vec<(String, &'a Value)>> {
        match self.get_opt(k) {
            None => Some(Vec::new()),
            Some(v) => as_list(e, self.file, &self.key(k), v),
        }
    }

    pub fn req_obj(&mut self, e: &mut Errs, k: &'static str) -> Option<Obj<'a>> {
        let v = self.req(e, k)?;
        Obj::new(e, self.file, &self.key(k), v)
    }

    /// An optional sub-mapping; `Ok(None)` when absent or null, `Err(())` when invalid.
    #[allow(clippy::result_unit_err)]
    pub fn opt_obj(&mut self, e: &mut Errs, k: &'static str) -> Result<Option<Obj<'a>>, ()> {
        match self.get_opt(k) {
            None => Ok(None),
            Some(v) => Obj::new(e, self.file, &self.key(k), v).map(Some).ok_or(()),
        }
    }

    /// Reports every key that no reader asked for. `hint` may add advice for a key.
    pub fn finish_with(self, e: &mut Errs, hint: impl Fn(&str) -> Option<&'static str>) {
        for (k, _) in self.map {
            let name = match k {
                Value::String(s) => s.clone(),
                other => render(other),
            };
            if self.used.iter().any(|u| *u == name) {
                continue;
            }
            let msg = match hint(&name) {
                Some(h) => format!("unknown key '{name}' ({h})"),
                None => format!("unknown key '{name}'"),
            };
            e.push(self.file, &join(&self.path, &name), msg);
        }
    }

    pub fn finish(self, e: &mut Errs) {
        self.finish_with(e, |_| None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_norway::from_str(s).expect("test yaml")
    }

    #[test]
    fn ranges_reject_edges_and_nan() {
        assert!(R::In(0.0, 1.0).check(1.0).is_ok());
        assert!(R::In(0.0, 1.0).check(1.2).is_err());
        assert!(R::InOpenLo(0.0, 1.0).check(0.0).is_err());
        assert!(R::Gt(0.0).check(f64::NAN).is_err());
        assert_eq!(R::Ge(1.0).check(0.5), Err("0.5 must be ≥ 1".to_string()));
    }

    #[test]
    fn integers_read_as_floats_but_not_the_reverse() {
        let mut e = Errs::default();
        assert_eq!(as_f64(&mut e, "f", "k", &yaml("3"), R::Any), Some(3.0));
        assert_eq!(as_int::<u32>(&mut e, "f", "k", &yaml("3"), 0), Some(3));
        assert!(e.list.is_empty());
        assert_eq!(as_int::<u32>(&mut e, "f", "k", &yaml("3.0"), 0), None);
        assert_eq!(as_int::<u8>(&mut e, "f", "k", &yaml("300"), 0), None);
        assert_eq!(as_int::<u32>(&mut e, "f", "k", &yaml("-1"), 0), None);
        let msgs: Vec<&str> = e.list.iter().map(|x| x.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "expected an integer, got 3.0",
                "300 is too large",
                "-1 must be ≥ 0"
            ]
        );
    }

    #[test]
    fn words_are_read_with_the_enums_serde_names() {
        use crate::types::{CascadeCategory, CmpOp};
        let mut e = Errs::default();
        assert_eq!(as_word(&mut e, "f", "k", &yaml("\"<=\"")), Some(CmpOp::Le));
        let cat = as_word(&mut e, "f", "k", &yaml("secondary_to_primary"));
        assert_eq!(cat, Some(CascadeCategory::SecondaryToPrimary));
        assert!(e.list.is_empty());
        assert_eq!(as_word::<CmpOp>(&mut e, "f", "k", &yaml("=<")), None);
        assert_eq!(as_word::<CmpOp>(&mut e, "f", "k", &yaml("3")), None);
        let shown: Vec<String> = e.list.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "f: k: '=<' is not one of <=, >=, <, >, ==",
                "f: k: expected a string, got number 3"
            ]
        );
        assert_eq!(
            word(&CascadeCategory::PrimaryToPivotal),
            "primary_to_pivotal"
        );
    }

    #[test]
    fn messages_show_the_value_found() {
        assert_eq!(describe(&yaml("high")), "string \"high\"");
        assert_eq!(describe(&yaml("[0, 100]")), "a list [0, 100]");
        assert_eq!(render(&yaml("{a: 1, b: [x]}")), "{a: 1, b: [\"x\"]}");
        let long = format!("[{}]", vec!["1"; 100].join(", "));
        assert!(render(&yaml(&long)).ends_with("..."));
    }

    #[test]
    fn unread_keys_are_reported_with_their_path() {
        let v = yaml("a: 1\nb: 2\nepsilon_x: 3\n");
        let mut e = Errs::default();
        let mut o = Obj::new(&mut e, "f.yaml", "sec", &v).expect("mapping");
        assert_eq!(o.req_int::<u32>(&mut e, "a", 0), Some(1));
        o.finish_with(&mut e, |k| k.starts_with("epsilon_").then_some("hint"));
        let shown: Vec<String> = e.list.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "f.yaml: sec.b: unknown key 'b'",
                "f.yaml: sec.epsilon_x: unknown key 'epsilon_x' (hint)"
            ]
        );
    }
}
