//! Tidy: the repository stands on its own. A unit test (run by `cargo test -p xtask`, so by
//! CI) reads every tracked or new text file and fails, listing `file:line` of each
//! offence, when a file
//!
//! * names a markdown document (`x.md`, `dir/x.md`, `x.md#anchor`) that is not in the
//!   repository (resolved relative to the file, to the repository root and to `docs/`);
//! * names `x.md#anchor` (or links `](#anchor)` inside a markdown file) where the anchor
//!   is not a heading or an explicit `<a id>` / `<a name>` of that document;
//! * cites a numbered section (`§ 3`, `§16.3`) of a document: sections are cited by
//!   heading anchor;
//! * uses a numbered decision label (`D` followed by one or two digits): decisions are
//!   cited by their anchor in `docs/decisions.md`.
//!
//! Only std; the whole tree is checked in well under a second.
#![cfg(test)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

/// This file: its docs and tests show the offences on purpose.
const SELF_PATH: &str = "xtask/src/tidy.rs";

/// The files to check: every path (for existence) and the text of the text files.
#[derive(Debug, Default)]
struct Tree {
    paths: BTreeSet<String>,
    texts: BTreeMap<String, String>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Offence {
    file: String,
    line: usize,
    message: String,
}

impl Tree {
    /// An in-memory tree: every entry is a text file.
    fn from_texts(files: &[(&str, &str)]) -> Tree {
        let mut t = Tree::default();
        for (p, c) in files {
            t.paths.insert((*p).to_string());
            t.texts.insert((*p).to_string(), (*c).to_string());
        }
        t
    }

    /// The repository: tracked files plus new files git does not ignore.
    fn from_repo(root: &Path) -> Tree {
        let out = Command::new("git")
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .current_dir(root)
            .output()
            .expect("tidy: cannot run `git ls-files` (is git installed?)");
        assert!(out.status.success(), "tidy: `git ls-files` failed");
        let mut t = Tree::default();
        for p in String::from_utf8_lossy(&out.stdout).split('\0') {
            if p.is_empty() {
                continue;
            }
            let Ok(bytes) = std::fs::read(root.join(p)) else {
                continue; // tracked but deleted in the working tree
            };
            t.paths.insert(p.to_string());
            if skipped(p) || bytes.contains(&0) {
                continue;
            }
            if let Ok(text) = String::from_utf8(bytes) {
                t.texts.insert(p.to_string(), text);
            }
        }
        t
    }
}

/// Lock files, images, fonts and this file are not checked.
fn skipped(path: &str) -> bool {
    const EXT: [&str; 11] = [
        ".lock", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".webp", ".svg", ".woff", ".woff2",
        ".ttf",
    ];
    let lower = path.to_ascii_lowercase();
    path == SELF_PATH
        || lower.ends_with("package-lock.json")
        || EXT.iter().any(|e| lower.ends_with(e))
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')
}

fn is_anchor_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_'
}

/// GitHub's heading slug: markup removed, lower case, letters/digits/`-`/`_` kept,
/// spaces to `-`, everything else dropped.
fn slug(heading: &str) -> String {
    // `[text](url)` reads as `text`.
    let mut plain = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        let Some(mid) = rest[open..].find("](") else {
            break;
        };
        let Some(close) = rest[open + mid..].find(')') else {
            break;
        };
        plain.push_str(&rest[..open]);
        plain.push_str(&rest[open + 1..open + mid]);
        rest = &rest[open + mid + close + 1..];
    }
    plain.push_str(rest);
    plain
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if is_anchor_char(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// Every anchor of a markdown text: heading slugs (numbered `-1`, `-2` when repeated, as
/// GitHub does; headings in fenced code do not count) and explicit `<a id>` / `<a name>`.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut fenced = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for key in ["<a id=\"", "<a name=\""] {
            let mut rest = line;
            while let Some(i) = rest.find(key) {
                let tail = &rest[i + key.len()..];
                if let Some(end) = tail.find('"') {
                    out.insert(tail[..end].to_string());
                }
                rest = tail;
            }
        }
        let hashes = t.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            let base = slug(t[hashes..].trim().trim_end_matches('#'));
            let n = seen.entry(base.clone()).or_insert(0);
            out.insert(if *n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            });
            *n += 1;
        }
    }
    out
}

/// `base/rel` with `.` and `..` resolved; None when it leaves the repository.
fn join(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Where a named document lives: relative to the naming file's folder or any folder above
/// it (code joins paths to its crate folder), the root included, or to `docs/`.
fn resolve(tree: &Tree, file: &str, name: &str) -> Option<String> {
    let mut bases = vec![];
    let mut dir = file;
    while let Some((d, _)) = dir.rsplit_once('/') {
        bases.push(d);
        dir = d;
    }
    bases.extend(["", "docs"]);
    bases
        .iter()
        .filter_map(|base| join(base, name))
        .find(|p| tree.paths.contains(p))
}

/// The markdown documents a line names: (name, anchor).
fn doc_names(line: &str) -> Vec<(String, Option<String>)> {
    let mut out = vec![];
    let mut from = 0;
    while let Some(i) = line[from..].find(".md").map(|i| i + from) {
        from = i + 3;
        let after = &line[i + 3..];
        if after.chars().next().is_some_and(is_word) {
            continue; // `.mdx`, `.md_file`
        }
        let start = line[..i]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| is_path_char(c))
            .last()
            .map_or(i, |(j, _)| j);
        let name = &line[start..i + 3];
        let stem = &name[..name.len() - 3];
        if stem.is_empty()
            || stem.ends_with('/')
            || stem.ends_with('.')
            || name.starts_with("//") // a URL: `https://host/…/x.md`
            || name.contains("node_modules/")
        {
            continue;
        }
        let anchor = after.strip_prefix('#').map(|a| {
            a.chars()
                .take_while(|&c| is_anchor_char(c))
                .collect::<String>()
        });
        out.push((name.to_string(), anchor.filter(|a| !a.is_empty())));
    }
    out
}

/// `D` + one or two digits standing alone (`D13`, `(D5–D12)`), as in the removed labels.
fn decision_labels(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = vec![];
    for i in 0..chars.len() {
        if chars[i] != 'D' || (i > 0 && is_word(chars[i - 1])) {
            continue;
        }
        let digits = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        let end = i + 1 + digits;
        if (1..=2).contains(&digits) && chars.get(end).is_none_or(|&c| !is_word(c)) {
            out.push(chars[i..end].iter().collect());
        }
    }
    out
}

/// A numbered section reference: `§` followed (after optional spaces) by a digit.
fn section_number(line: &str) -> bool {
    line.match_indices('§').any(|(i, _)| {
        line[i + '§'.len_utf8()..]
            .trim_start()
            .starts_with(|c: char| c.is_ascii_digit())
    })
}

fn check(tree: &Tree) -> Vec<Offence> {
    let mut anchor_cache: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut anchors_of = |path: &str| -> BTreeSet<String> {
        anchor_cache
            .entry(path.to_string())
            .or_insert_with(|| tree.texts.get(path).map(|t| anchors(t)).unwrap_or_default())
            .clone()
    };
    let mut out = vec![];
    for (file, text) in &tree.texts {
        let is_md = file.ends_with(".md");
        for (n, line) in text.lines().enumerate() {
            let mut push = |message: String| {
                out.push(Offence {
                    file: file.clone(),
                    line: n + 1,
                    message,
                })
            };
            for (name, anchor) in doc_names(line) {
                match resolve(tree, file, &name) {
                    None => push(format!("names `{name}`, which is not in this repository")),
                    Some(target) => {
                        if let Some(a) = anchor
                            && !anchors_of(&target).contains(&a)
                        {
                            push(format!(
                                "`{name}#{a}`: `{target}` has no heading with anchor `#{a}`"
                            ));
                        }
                    }
                }
            }
            if is_md {
                let mut rest = line;
                while let Some(i) = rest.find("](#") {
                    let a: String = rest[i + 3..]
                        .chars()
                        .take_while(|&c| is_anchor_char(c))
                        .collect();
                    if !a.is_empty() && !anchors_of(file).contains(&a) {
                        push(format!(
                            "link `#{a}`: this file has no heading with that anchor"
                        ));
                    }
                    rest = &rest[i + 3..];
                }
            }
            if section_number(line) {
                push("cites a numbered section (`§…`) of a document".to_string());
            }
            for label in decision_labels(line) {
                push(format!("decision label `{label}`"));
            }
        }
    }
    out.sort();
    out
}

const HOW_TO_FIX: &str = "How to fix: point at a document of this repository by its path and a \
heading anchor, e.g. `docs/decisions.md#stop-at-the-next-step`, `docs/world.md#cascades`, \
`docs/training.md#learn-check`, `docs/packs.md#training-file` (an anchor is the heading in \
lower case, punctuation dropped, spaces as `-`). Decisions have no numbers: cite their heading \
in docs/decisions.md, adding one there if the decision is new. A document that is not in the \
repository cannot be cited: write down what the reader needs instead.";

fn report(offences: &[Offence]) -> String {
    let mut s = format!(
        "tidy: {} reference(s) point outside this repository:\n",
        offences.len()
    );
    for o in offences {
        s.push_str(&format!("{}:{}: {}\n", o.file, o.line, o.message));
    }
    s.push('\n');
    s.push_str(HOW_TO_FIX);
    s
}

#[test]
fn tidy_references_stay_inside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root");
    let tree = Tree::from_repo(root);
    assert!(
        tree.texts.contains_key("docs/decisions.md"),
        "tidy: docs/decisions.md is missing, or git ls-files saw nothing"
    );
    let offences = check(&tree);
    assert!(offences.is_empty(), "{}", report(&offences));
}

mod checker {
    use super::*;

    const DECISIONS: &str = "# Decisions\n\n## Stopping\n\n### Stop at the next step\n\n\
        ### What `hello` carries\n\n```\n## Not a heading\n```\n<a id=\"explicit\"></a>\n";

    fn offences(files: &[(&str, &str)]) -> Vec<String> {
        check(&Tree::from_texts(files))
            .into_iter()
            .map(|o| format!("{}:{}: {}", o.file, o.line, o.message))
            .collect()
    }

    /// One offending line in `file`, beside a valid docs/decisions.md.
    fn one(file: &str, line: &str) -> Vec<String> {
        offences(&[("docs/decisions.md", DECISIONS), (file, line)])
    }

    #[test]
    fn slugs_follow_github() {
        assert_eq!(slug("Stop at the next step"), "stop-at-the-next-step");
        assert_eq!(slug("What `hello` carries"), "what-hello-carries");
        assert_eq!(slug("next, order and history"), "next-order-and-history");
        assert_eq!(slug("Grid: substrate.yaml"), "grid-substrateyaml");
        assert_eq!(slug("See [world](world.md)"), "see-world");
        let a = anchors(DECISIONS);
        assert!(a.contains("what-hello-carries") && a.contains("explicit"));
        assert!(
            !a.contains("not-a-heading"),
            "fenced code holds no headings"
        );
        assert!(anchors("## A\n## A\n").contains("a-1"));
    }

    #[test]
    fn a_clean_tree_passes() {
        let found = offences(&[
            ("docs/decisions.md", DECISIONS),
            (
                "README.md",
                "See [decisions](docs/decisions.md#stop-at-the-next-step).",
            ),
            (
                "docs/world.md",
                "# World\n## Cascades\nSee [below](#cascades), [stop](decisions.md#stop-at-the-next-step) \
                 and <a id=\"x\"></a>[x](#x).\n",
            ),
            (
                "crates/a/src/lib.rs",
                "//! Stops at the next step (docs/decisions.md#explicit). A 2D grid, colour \
                 #D3D3D3, DD12, D123, D1x, the README.md, https://example.com/a/CHANGE.md, \
                 {name}.md, *.md, foo.mdx, node_modules/pkg/README.md.\n",
            ),
            (
                "crates/a/tests/it/doc.rs",
                "manifest_dir.join(\"../../docs/decisions.md\")",
            ),
        ]);
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn missing_documents_fail() {
        // The paths are split so this file names no outside document itself.
        for (file, line, needle) in [
            (
                "crates/a/src/lib.rs",
                concat!("// as spec", "/training.md says"),
                concat!("`spec", "/training.md`"),
            ),
            ("crates/a/src/lib.rs", "// see design.md", "`design.md`"),
            (
                "docs/protocol.md",
                concat!("From `..", "/shared/spec", "/decisions.md`."),
                concat!("`..", "/shared/spec", "/decisions.md`"),
            ),
            (
                "configs/README.md",
                concat!("See `spec", "/config-packs.md`."),
                concat!("`spec", "/config-packs.md`"),
            ),
            (
                "a.rs",
                "// /work/shared/spec/environment.md",
                "/work/shared/spec/environment.md",
            ),
        ] {
            let found = one(file, line);
            assert_eq!(found.len(), 1, "{line}: {found:?}");
            assert!(found[0].contains(needle) && found[0].contains("not in this repository"));
            assert!(found[0].starts_with(&format!("{file}:1: ")), "{found:?}");
        }
    }

    #[test]
    fn numbered_sections_fail_even_when_the_file_exists() {
        let found = one("a.rs", "// training.md §16.3");
        assert_eq!(found.len(), 2, "{found:?}"); // no training.md here, and a § number
        let found = offences(&[
            ("docs/decisions.md", DECISIONS),
            ("docs/training.md", "# Training\n"),
            ("a.rs", "// training.md § 3 and the burn notes §4"),
        ]);
        assert_eq!(
            found,
            vec!["a.rs:1: cites a numbered section (`§…`) of a document"]
        );
    }

    #[test]
    fn unknown_anchors_fail() {
        let found = one("a.rs", "// docs/decisions.md#stop-at-the-next-episode");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("no heading with anchor `#stop-at-the-next-episode`"));
        assert_eq!(one("a.rs", "// decisions.md#not-a-heading").len(), 1);
        let found = offences(&[("docs/decisions.md", "# D\n[x](#nowhere)\n")]);
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn decision_labels_fail() {
        for line in [
            "/// Stop mid-episode (D13).",
            "    help = \"compute threads (D29)\"",
            "Decisions D17–D22 apply",
            "# D5",
            "D9",
        ] {
            let found = one("x.rs", line);
            assert!(!found.is_empty(), "{line}");
            assert!(
                found.iter().all(|f| f.contains("decision label `D")),
                "{found:?}"
            );
        }
        assert_eq!(one("x.rs", "(D17–D22, D34)").len(), 3);
        let report = report(&check(&Tree::from_texts(&[("x.rs", "// D13")])));
        assert!(report.contains("x.rs:1: decision label `D13`"));
        assert!(
            report.contains("docs/decisions.md#"),
            "the report says how to fix"
        );
    }
}
