//! TypeScript declarations of every protocol message, generated from the Rust types with
//! ts-rs. The viewer imports them from [`TYPESCRIPT_PATH`]; this crate's tests fail when
//! that file differs from [`typescript`] and rewrite it under `TOWNLET_BLESS=1`.

use crate::{ClientMessage, Inbound, ServerMessage, StepRow};
use std::collections::BTreeMap;
use ts_rs::{Config, TS, TypeVisitor};

/// Where the generated declarations live, relative to the repository root.
pub const TYPESCRIPT_PATH: &str = "frontend/src/lib/generated/protocol.ts";

const HEADER: &str = "\
// Generated from the Rust crate `townlet-protocol` by ts-rs. Do not edit by hand.
// Regenerate with: TOWNLET_BLESS=1 cargo test -p townlet-protocol
";

/// Collects the declaration of every named type reachable from the visited ones.
struct Collect<'a> {
    cfg: &'a Config,
    /// TypeScript name → declaration (with its doc comment).
    decls: BTreeMap<String, String>,
}

impl TypeVisitor for Collect<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Primitives and containers have no declaration of their own.
        if T::output_path().is_none() {
            return;
        }
        let name = T::ident(self.cfg);
        if self.decls.contains_key(&name) {
            return;
        }
        let mut decl = T::docs().unwrap_or_default();
        decl.push_str("export ");
        decl.push_str(&T::decl(self.cfg));
        self.decls.insert(name, decl);
        T::visit_dependencies(self);
    }
}

/// `PROTOCOL_VERSION` and the TypeScript declarations of both directions — `ServerFrame` (a server message with
/// its `v`), `ServerMessage`, `ClientMessage` — and every type they contain, sorted by
/// name. Deterministic. 64-bit integers become `number` (ids, counters and unix
/// milliseconds stay below 2^53).
pub fn typescript() -> String {
    let cfg = Config::new().with_large_int("number");
    let mut collect = Collect {
        cfg: &cfg,
        decls: BTreeMap::new(),
    };
    collect.visit::<Inbound>();
    collect.visit::<ServerMessage>();
    collect.visit::<ClientMessage>();
    // Flattened into `StepMessage`; the viewer also builds rows from an episode's columns.
    collect.visit::<StepRow>();
    let mut out = String::from(HEADER);
    out.push_str(&format!(
        "\n/** Sent as `v` in every server message. */\nexport const PROTOCOL_VERSION = {};\n",
        crate::PROTOCOL_VERSION
    ));
    for decl in collect.decls.values() {
        out.push('\n');
        out.push_str(decl);
        out.push('\n');
    }
    out
}
