//! Integration tests of `townlet-protocol`, one binary: the docs' examples, the wire
//! messages, and the generated TypeScript declarations.
//!
//! `TOWNLET_BLESS=1 cargo test -p townlet-protocol` rewrites every generated file these
//! tests check (the examples in `docs/protocol.md`, the frontend's fixtures and its
//! generated types).

mod doc;
mod messages;
mod typescript;
