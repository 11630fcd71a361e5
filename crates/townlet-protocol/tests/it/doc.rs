//! `docs/protocol.md` shows one literal example of every message. Each example follows a
//! marker line `<!-- example: server hello -->` (or `client subscribe`) and must equal, as
//! JSON, what `townlet_protocol::examples` builds, and must parse. So the doc cannot drift
//! from the types.
//!
//! To regenerate the blocks after changing the types:
//! `TOWNLET_BLESS=1 cargo test -p townlet-protocol`.

use serde_json::Value;
use std::path::PathBuf;
use townlet_protocol::examples::{client_examples, server_examples};
use townlet_protocol::{parse_client_message, parse_server_message, to_json};

const MARKER: &str = "<!-- example: ";

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol.md")
}

/// (marker key, compact JSON) for every example.
fn expected() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = server_examples()
        .into_iter()
        .map(|(name, m)| (format!("server {name}"), to_json(&m)))
        .collect();
    out.extend(
        client_examples()
            .into_iter()
            .map(|(name, m)| (format!("client {name}"), m.to_json())),
    );
    out
}

/// Minimal order-preserving JSON tree, for readable formatting of compact JSON.
enum J {
    Scalar(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn parse_tree(s: &[u8], i: &mut usize) -> J {
    match s[*i] {
        b'{' => {
            *i += 1;
            let mut fields = Vec::new();
            while s[*i] != b'}' {
                let key = scalar(s, i);
                *i += 1; // ':'
                let value = parse_tree(s, i);
                fields.push((key, value));
                if s[*i] == b',' {
                    *i += 1;
                }
            }
            *i += 1;
            J::Obj(fields)
        }
        b'[' => {
            *i += 1;
            let mut items = Vec::new();
            while s[*i] != b']' {
                items.push(parse_tree(s, i));
                if s[*i] == b',' {
                    *i += 1;
                }
            }
            *i += 1;
            J::Arr(items)
        }
        _ => J::Scalar(scalar(s, i)),
    }
}

fn scalar(s: &[u8], i: &mut usize) -> String {
    let start = *i;
    if s[*i] == b'"' {
        *i += 1;
        while s[*i] != b'"' {
            if s[*i] == b'\\' {
                *i += 1;
            }
            *i += 1;
        }
        *i += 1;
    } else {
        while !matches!(s[*i], b',' | b'}' | b']' | b':') {
            *i += 1;
        }
    }
    String::from_utf8_lossy(&s[start..*i]).into_owned()
}

/// Written on one line when that line stays short.
fn is_flat(j: &J, used: usize) -> bool {
    matches!(j, J::Scalar(_)) || inline(j).len() + used <= 88
}

fn inline(j: &J) -> String {
    match j {
        J::Scalar(s) => s.clone(),
        J::Arr(items) => format!(
            "[{}]",
            items.iter().map(inline).collect::<Vec<_>>().join(", ")
        ),
        J::Obj(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Objects one key per line, arrays one item per line, unless short enough for one line.
/// `used`: columns taken on the current line before the value (indent and key).
fn format(j: &J, indent: usize, used: usize, out: &mut String) {
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match j {
        _ if is_flat(j, used) => out.push_str(&inline(j)),
        J::Arr(items) => {
            out.push_str("[\n");
            for (n, item) in items.iter().enumerate() {
                out.push_str(&pad);
                format(item, indent + 1, pad.len(), out);
                out.push_str(if n + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&end);
            out.push(']');
        }
        J::Obj(fields) => {
            out.push_str("{\n");
            for (n, (k, v)) in fields.iter().enumerate() {
                out.push_str(&pad);
                out.push_str(k);
                out.push_str(": ");
                format(v, indent + 1, pad.len() + k.len() + 2, out);
                out.push_str(if n + 1 < fields.len() { ",\n" } else { "\n" });
            }
            out.push_str(&end);
            out.push('}');
        }
        J::Scalar(s) => out.push_str(s),
    }
}

fn pretty(compact: &str) -> String {
    let mut i = 0;
    let tree = parse_tree(compact.as_bytes(), &mut i);
    let mut out = String::new();
    format(&tree, 0, 0, &mut out);
    out
}

/// The JSON block following each marker: key → (block start line, end line, text).
fn blocks(doc: &str) -> Vec<(String, usize, usize, String)> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim().strip_prefix(MARKER) else {
            continue;
        };
        let key = rest.trim_end_matches("-->").trim().to_owned();
        let open = (n + 1..lines.len())
            .find(|&k| lines[k].trim_start().starts_with("```"))
            .expect("a code block after the marker");
        let close = (open + 1..lines.len())
            .find(|&k| lines[k].trim_start().starts_with("```"))
            .expect("the code block is closed");
        out.push((key, open, close, lines[open + 1..close].join("\n")));
    }
    out
}

#[test]
fn formatter_keeps_the_json() {
    for (_, compact) in expected() {
        let a: Value = serde_json::from_str(&compact).unwrap();
        let b: Value = serde_json::from_str(&pretty(&compact)).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn doc_shows_every_message_as_built_by_the_types() {
    let path = doc_path();
    let mut doc =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    if std::env::var_os("TOWNLET_BLESS").is_some() {
        // Replace every block's content, last first so line numbers stay valid.
        let mut lines: Vec<String> = doc.lines().map(str::to_owned).collect();
        let expected = expected();
        for (key, open, close, _) in blocks(&doc).into_iter().rev() {
            let (_, compact) = expected
                .iter()
                .find(|(k, _)| *k == key)
                .unwrap_or_else(|| panic!("doc marker `{key}` names no example"));
            lines.splice(open + 1..close, pretty(compact).lines().map(str::to_owned));
        }
        doc = lines.join("\n") + "\n";
        std::fs::write(&path, &doc).unwrap();
    }
    let found = blocks(&doc);
    for (key, compact) in expected() {
        let hits: Vec<_> = found.iter().filter(|(k, ..)| *k == key).collect();
        assert_eq!(
            hits.len(),
            1,
            "doc needs exactly one example marked `{key}`"
        );
        let text = &hits[0].3;
        let shown: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("example `{key}` is not JSON: {e}\n{text}"));
        let built: Value = serde_json::from_str(&compact).unwrap();
        assert_eq!(
            shown, built,
            "example `{key}` drifted from the types; rerun with TOWNLET_BLESS=1"
        );
        if key.starts_with("server ") {
            parse_server_message(text).unwrap_or_else(|e| panic!("{key}: {e}"));
        } else {
            parse_client_message(text).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
    }
    for (key, ..) in &found {
        assert!(
            expected().iter().any(|(k, _)| k == key),
            "doc marker `{key}` names no example"
        );
    }
}

/// The frontend replays `frontend/e2e/fixtures/protocol.json`; it must be what the types
/// build today.
#[test]
fn frontend_fixtures_are_current() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../frontend/e2e/fixtures/protocol.json");
    let built = townlet_protocol::examples::frontend_fixtures();
    if std::env::var_os("TOWNLET_BLESS").is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, &built).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read {}: {e} (create it with TOWNLET_BLESS=1)",
            path.display()
        )
    });
    let stored: Value = serde_json::from_str(&stored).unwrap();
    let built: Value = serde_json::from_str(&built).unwrap();
    assert!(
        stored == built,
        "{} is stale; rerun with TOWNLET_BLESS=1",
        path.display()
    );
    // Every stream message parses with the Rust parser too.
    for (_, v) in stored["stream"].as_object().unwrap() {
        let items = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
        for item in items {
            parse_server_message(&item.to_string()).unwrap();
        }
    }
}
