//! The WebSocket protocol between the Townlet inference server and its viewers
//! (docs/protocol.md, the choices behind it in docs/decisions.md#server-protocol-and-viewers).
//! JSON text frames; every server message carries `type` and `v`; clients send one `type`
//! per command.
//!
//! * Server side: build a [`ServerMessage`], send [`to_json`]; read frames with
//!   [`parse_client_message`] and answer a [`ProtocolError`] with
//!   [`ProtocolError::to_server_message`].
//! * Client side (tests, scripts): [`parse_server_message`], [`ClientMessage::to_json`].
//!
//! `docs/protocol.md` holds the rules and an example of every message; its examples are
//! produced by [`examples`] and checked by this crate's tests. The viewer's TypeScript
//! types are generated from these types by [`typescript`] (ts-rs) into
//! [`TYPESCRIPT_PATH`]; a test fails when that file is stale.
//!
//! ```
//! use townlet_protocol::{ClientMessage, ErrorCode, Speed, parse_client_message, to_json};
//!
//! // A viewer asks for double speed.
//! let message = parse_client_message(r#"{"type":"set_speed","speed":2}"#).unwrap();
//! assert_eq!(message, ClientMessage::SetSpeed { speed: Speed::Factor(2.0) });
//!
//! // A speed out of range is answered with an `error` message naming the request.
//! let err = parse_client_message(r#"{"type":"set_speed","speed":0}"#).unwrap_err();
//! assert_eq!(err.code, ErrorCode::InvalidSpeed);
//! let reply = to_json(&err.to_server_message());
//! assert!(reply.starts_with(r#"{"type":"error","code":"invalid_speed","#));
//! assert!(reply.ends_with(r#""request":"set_speed","v":2}"#));
//! ```

mod client;
mod error;
pub mod examples;
mod probe;
mod server;
mod teacher;
mod typescript;

pub use client::{
    ClientMessage, Delivery, Filter, Order, RecordingFilters, Speed, parse_client_message,
};
pub use error::{ErrorCode, ProtocolError};
pub use probe::{ObservationParts, ProbeNetwork, ProbeResult, ProbedState};
pub use server::*;
pub use teacher::{
    PresenterState, Presenting, Role, TrainingControl, TrainingEventInfo, TrainingEvents,
};
pub use typescript::{TYPESCRIPT_PATH, typescript};

use serde::{Deserialize, Serialize};

/// Protocol version, sent as `v` in every server message. A client may send `v`; if it
/// does, it must equal this.
pub const PROTOCOL_VERSION: u32 = 2;
/// Playback rate at speed 1× (docs/decisions.md#speeds-and-limits).
pub const STEPS_PER_SECOND_AT_1X: f64 = 5.0;
/// Slowest accepted speed factor (docs/decisions.md#speeds-and-limits).
pub const MIN_SPEED: f64 = 0.25;
/// Fastest accepted speed factor; faster is `"instant"` (docs/decisions.md#speeds-and-limits).
pub const MAX_SPEED: f64 = 50.0;
/// Largest inbound frame (docs/decisions.md#oversized-and-malformed-frames).
pub const MAX_INBOUND_FRAME_BYTES: u32 = 64 * 1024;
/// Recent episodes the server keeps for `next` / `get_episode`
/// (docs/decisions.md#next-order-and-history).
pub const RING_SIZE: u32 = 200;
/// Episodes in the stats history sent on connect (docs/decisions.md#next-order-and-history).
pub const HISTORY_LEN: u32 = 1000;
/// `every_nth` without `n` (docs/decisions.md#filters-are-server-side).
pub const DEFAULT_EVERY_NTH: u32 = 10;
/// `list_recordings` limits.
pub const DEFAULT_RECORDINGS_LIMIT: u32 = 100;
pub const MAX_RECORDINGS_LIMIT: u32 = 1000;

/// Wire form of a server message: the message's own fields plus `v`.
#[derive(Serialize)]
struct Outbound<'a> {
    #[serde(flatten)]
    message: &'a ServerMessage,
    v: u32,
}

/// A server frame as received (the TypeScript `ServerFrame`): a message plus `v`.
#[derive(Deserialize, ts_rs::TS)]
#[ts(rename = "ServerFrame")]
struct Inbound {
    #[serde(flatten)]
    message: ServerMessage,
    v: u32,
}

/// Serializes a server message as one compact JSON text frame, with `v`.
///
/// Non-finite floats (NaN, ±Infinity) become `null`: JSON has no spelling for them, and
/// a viewer treats `null` as "no value".
pub fn to_json(message: &ServerMessage) -> String {
    let outbound = Outbound {
        message,
        v: PROTOCOL_VERSION,
    };
    match serde_json::to_string(&outbound) {
        Ok(json) => json,
        // Unreachable with these types (string map keys, infallible Serialize impls);
        // still a valid frame rather than a panic in the server.
        Err(e) => format!(
            r#"{{"type":"error","v":{PROTOCOL_VERSION},"code":"internal","message":{},"request":null}}"#,
            serde_json::Value::String(format!("serialization failed: {e}"))
        ),
    }
}

/// Parses a server frame (for Rust clients and tests). Checks `v`.
pub fn parse_server_message(text: &str) -> Result<ServerMessage, ProtocolError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ProtocolError::new(ErrorCode::InvalidJson, format!("invalid JSON: {e}")))?;
    match value.get("v").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
        Some(v) => {
            return Err(ProtocolError::new(
                ErrorCode::UnsupportedVersion,
                format!("protocol version {v}, expected {PROTOCOL_VERSION}"),
            ));
        }
        None => {
            return Err(ProtocolError::new(
                ErrorCode::InvalidField,
                "missing numeric `v`",
            ));
        }
    }
    let inbound = Inbound::deserialize(&value)
        .map_err(|e| ProtocolError::new(ErrorCode::InvalidField, e.to_string()))?;
    debug_assert_eq!(inbound.v, PROTOCOL_VERSION);
    Ok(inbound.message)
}

/// Current unix time in milliseconds (for `sent_at`, `finished_at`). 0 if the clock is
/// before 1970.
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
