//! Config hash (docs/decisions.md#config-snapshot-and-config-hash): identifies the world
//! and learner settings of a run so a resume with different settings is refused.
//! Run-length and logging keys are left out, so `--episodes` or a new recording setting
//! never blocks a resume.

use crate::types::Pack;
use serde_json::Value;
use std::collections::BTreeMap;

/// Top-level `Pack` fields outside the hash: paths, names, logging, and the list of
/// overrides (their values are hashed where they landed).
const EXCLUDED_TOP: [&str; 7] = [
    "name",
    "dir",
    "configs_root",
    "warnings",
    "overrides",
    "recording",
    "run_metadata",
];

/// `training.*` keys outside the hash: run length, checkpoint and snapshot cadence, backend,
/// gradient path (both paths do the same update and read each other's checkpoints), update
/// overlap (the state at an episode end has the same shape either way).
const EXCLUDED_TRAINING: [&str; 7] = [
    "max_episodes",
    "checkpoint_interval",
    "snapshot_interval",
    "keep_checkpoints",
    "device",
    "gradients",
    "overlap_updates",
];

/// Hashed content of a pack as JSON (the doc-only strings removed too).
fn hashed_view(pack: &Pack) -> Value {
    // Serializing plain structs of numbers/strings/enums cannot fail; fall back to Null
    // rather than panic so the function stays total.
    let mut v = serde_json::to_value(pack).unwrap_or(Value::Null);
    if let Value::Object(top) = &mut v {
        for k in EXCLUDED_TOP {
            top.remove(k);
        }
        if let Some(Value::Object(t)) = top.get_mut("training") {
            for k in EXCLUDED_TRAINING {
                t.remove(k);
            }
        }
        // Free text: changing a description must not block a resume.
        for (list, keys) in [
            ("meters", &["description"][..]),
            ("custom_actions", &["description", "icon"][..]),
        ] {
            if let Some(Value::Array(items)) = top.get_mut(list) {
                for item in items {
                    if let Value::Object(o) = item {
                        for k in keys {
                            o.remove(*k);
                        }
                    }
                }
            }
        }
    }
    v
}

/// Canonical text: object keys sorted, no whitespace (independent of serde_json's map
/// ordering feature).
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, &Value> = m.iter().collect();
            out.push('{');
            for (i, (k, x)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(x, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Stable FNV-1a 64 hash of the world and learner settings.
///
/// `training.*` keys outside the hash: run length, checkpoint and snapshot cadence, backend,
/// gradient path (both paths do the same update and read each other's checkpoints), update
/// overlap (the state at an episode end has the same shape either way).
/// `recording`, `run_metadata`, the pack's name/paths/warnings, and description texts.
pub fn config_hash(pack: &Pack) -> u64 {
    let mut s = String::new();
    canonical(&hashed_view(pack), &mut s);
    fnv1a64(s.as_bytes())
}

/// [`config_hash`] as 16 lowercase hex digits (for checkpoints and logs).
pub fn config_hash_hex(pack: &Pack) -> String {
    format!("{:016x}", config_hash(pack))
}

fn flatten(v: &Value, path: &str, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(x, &p, out);
            }
        }
        Value::Array(a) => {
            // Keep the length so a shorter list shows up even when its items match.
            out.insert(format!("{path}.len"), a.len().to_string());
            for (i, x) in a.iter().enumerate() {
                flatten(x, &format!("{path}[{i}]"), out);
            }
        }
        other => {
            out.insert(path.to_string(), other.to_string());
        }
    }
}

/// The hashed keys whose values differ between `a` and `b`, e.g.
/// `["population.learning_rate"]`; empty exactly when the hashes agree on content.
pub fn config_hash_diff(a: &Pack, b: &Pack) -> Vec<String> {
    let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
    flatten(&hashed_view(a), "", &mut fa);
    flatten(&hashed_view(b), "", &mut fb);
    let mut keys: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| fa.get(*k) != fb.get(*k))
        .map(|k| k.strip_suffix(".len").unwrap_or(k).to_string())
        .fold(Vec::new(), |mut acc, k| {
            if acc.last() != Some(&k) {
                acc.push(k);
            }
            acc
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn canonical_text_sorts_keys() {
        let v: Value =
            serde_json::from_str(r#"{"b": [1, {"d": 2, "c": 3}], "a": null}"#).expect("json");
        let mut s = String::new();
        canonical(&v, &mut s);
        assert_eq!(s, r#"{"a":null,"b":[1,{"c":3,"d":2}]}"#);
    }
}
