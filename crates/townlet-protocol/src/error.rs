//! Error codes shared by the server and its clients. The codes are part of the protocol:
//! they never change meaning, and a client may branch on them.

use serde::{Deserialize, Serialize};
use std::fmt;
use ts_rs::TS;

/// Stable, machine-readable error codes carried by the `error` message (`code` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON (or not UTF-8 text).
    InvalidJson,
    /// The JSON is valid but not an object.
    NotAnObject,
    /// The object has no string `type` field.
    MissingType,
    /// `type` names no known message.
    UnknownType,
    /// `v` is present and is not [`crate::PROTOCOL_VERSION`].
    UnsupportedVersion,
    /// A field is missing, has the wrong JSON type, or an unknown enum value.
    InvalidField,
    /// `speed` is not a number in `[MIN_SPEED, MAX_SPEED]` or `"instant"`.
    InvalidSpeed,
    /// `filter` is malformed, names an unknown kind, or has `n == 0`.
    InvalidFilter,
    /// Any other out-of-range value (e.g. a recordings `limit` of 0, `min_reward > max_reward`).
    InvalidValue,
    /// The episode id is neither in the server's ring nor among the recordings.
    UnknownEpisode,
    /// `seek {index}` past the end of the episode being delivered.
    SeekOutOfRange,
    /// Inbound frame above the size limit (the server then closes with 1009,
    /// docs/decisions.md#oversized-and-malformed-frames).
    FrameTooLarge,
    /// The server is at its client limit; the connection is closed after this message.
    TooManyClients,
    /// The command does not apply in this mode or state (e.g. `set_policy` in live mode).
    NotAvailable,
    /// A checkpoint could not be loaded (checkpoint mode); the last good model stays.
    CheckpointError,
    /// Something failed inside the server; the connection stays open.
    Internal,
    /// `watch {run_id}` or `/ws?run=` names no run of this server.
    UnknownRun,
    /// A teacher-only message from a viewer's connection (docs/security.md).
    Forbidden,
}

impl ErrorCode {
    /// Every code, in declaration order (for docs and exhaustive tests).
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::InvalidJson,
        ErrorCode::NotAnObject,
        ErrorCode::MissingType,
        ErrorCode::UnknownType,
        ErrorCode::UnsupportedVersion,
        ErrorCode::InvalidField,
        ErrorCode::InvalidSpeed,
        ErrorCode::InvalidFilter,
        ErrorCode::InvalidValue,
        ErrorCode::UnknownEpisode,
        ErrorCode::SeekOutOfRange,
        ErrorCode::FrameTooLarge,
        ErrorCode::TooManyClients,
        ErrorCode::NotAvailable,
        ErrorCode::CheckpointError,
        ErrorCode::Internal,
        ErrorCode::UnknownRun,
        ErrorCode::Forbidden,
    ];

    /// The wire spelling, e.g. `"invalid_speed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::NotAnObject => "not_an_object",
            ErrorCode::MissingType => "missing_type",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::InvalidSpeed => "invalid_speed",
            ErrorCode::InvalidFilter => "invalid_filter",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::UnknownEpisode => "unknown_episode",
            ErrorCode::SeekOutOfRange => "seek_out_of_range",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::TooManyClients => "too_many_clients",
            ErrorCode::NotAvailable => "not_available",
            ErrorCode::CheckpointError => "checkpoint_error",
            ErrorCode::Internal => "internal",
            ErrorCode::UnknownRun => "unknown_run",
            ErrorCode::Forbidden => "forbidden",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message that could not be accepted. `request` is the `type` of the offending
/// message when it could be read, so the reply can say which command failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProtocolError {
    pub code: ErrorCode,
    pub message: String,
    pub request: Option<String>,
}

impl ProtocolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ProtocolError {
            code,
            message: message.into(),
            request: None,
        }
    }

    pub(crate) fn with_request(mut self, request: &str) -> Self {
        self.request = Some(request.to_owned());
        self
    }

    /// The `error` message to send back to the client that caused this.
    pub fn to_server_message(&self) -> crate::ServerMessage {
        self.to_server_message_for(None)
    }

    /// The `error` message, naming the run the request was about.
    pub fn to_server_message_for(&self, run_id: Option<&str>) -> crate::ServerMessage {
        crate::ServerMessage::Error(crate::ErrorMessage {
            code: self.code,
            message: self.message.clone(),
            request: self.request.clone(),
            run_id: run_id.map(str::to_owned),
        })
    }
}
