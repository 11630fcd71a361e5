//! Client → server messages: one `type` per command (docs/protocol.md#client--server-messages).
//! Parsing checks structure and values and reports each problem with its own [`ErrorCode`].

use crate::error::{ErrorCode, ProtocolError};
use crate::server::EndReason;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use ts_rs::TS;

/// Every message a client may send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Sets delivery, speed and filter at once; missing fields take their defaults
    /// (`episode`, 1×, `all`).
    Subscribe {
        #[serde(default)]
        #[ts(as = "Option<_>", optional)]
        delivery: Delivery,
        #[serde(default)]
        #[ts(as = "Option<_>", optional)]
        speed: Speed,
        #[serde(default)]
        #[ts(as = "Option<_>", optional)]
        filter: Filter,
    },
    /// "My playback of `after` is done, send the next episode"
    /// (docs/decisions.md#next-order-and-history). `after: null` asks for the newest
    /// matching episode.
    Next {
        #[serde(default)]
        #[ts(optional = nullable)]
        after: Option<u64>,
        #[serde(default)]
        #[ts(as = "Option<_>", optional)]
        order: Order,
    },
    /// One episode by id: from the server's ring, else from the recordings.
    GetEpisode {
        id: u64,
    },
    SetSpeed {
        speed: Speed,
    },
    /// Server-paced delivery: stop sending steps (episode delivery: no effect on the
    /// server, the browser pauses locally).
    Pause,
    Resume,
    /// Server-paced delivery while paused: send one step.
    Step,
    /// Leave a replay / sequential walk and continue from the newest episode.
    JumpLive,
    SetFilter {
        filter: Filter,
    },
    /// Checkpoint mode: this viewer's next episodes are generated greedily
    /// (docs/decisions.md#checkpoint-mode).
    SetPolicy {
        greedy: bool,
    },
    ListRecordings {
        #[serde(default)]
        #[ts(as = "Option<_>", optional)]
        filters: RecordingFilters,
    },
    /// Deliver a recorded episode (source `replay`) by its training episode id.
    LoadReplay {
        episode_id: u64,
    },
    /// Server-paced delivery: continue from step index `index` (0-based,
    /// docs/decisions.md#recording-criteria) of the episode being delivered.
    Seek {
        index: u32,
    },
    /// Watch another run of the server on this connection (answered with its `hello`,
    /// `stats` with history and latest episode; the session's settings stay).
    Watch {
        run_id: String,
    },
    /// Ask the agent (docs/protocol.md#probe): the network's Q-values on every cell for the
    /// state before step `step` (1-based) of episode `episode_id` of run `run_id`; `meters`
    /// (all of them, each in [0, 1]) and `time_of_day` replace the step's real values.
    Probe {
        run_id: String,
        episode_id: u64,
        step: u32,
        #[serde(default)]
        #[ts(optional = nullable)]
        meters: Option<Vec<f32>>,
        #[serde(default)]
        #[ts(optional = nullable)]
        time_of_day: Option<u8>,
    },
    /// Teacher only: change the training of `run_id` (default: the watched run).
    TrainingControl {
        #[serde(default)]
        #[ts(optional = nullable)]
        run_id: Option<String>,
        control: crate::teacher::TrainingControl,
    },
    /// Teacher only: start (`on: true`) or stop presenting.
    Present {
        on: bool,
    },
    /// Teacher only, while presenting: where the teacher is now.
    PresenterState {
        state: crate::teacher::PresenterState,
    },
    /// Follow the presenting teacher (`on: true`, the default) or detach.
    Follow {
        on: bool,
    },
}

impl ClientMessage {
    /// Every client `type`, in the order the docs list them.
    pub const TYPES: [&'static str; 19] = [
        "subscribe",
        "next",
        "get_episode",
        "set_speed",
        "pause",
        "resume",
        "step",
        "jump_live",
        "set_filter",
        "set_policy",
        "list_recordings",
        "load_replay",
        "seek",
        "watch",
        "probe",
        "training_control",
        "present",
        "presenter_state",
        "follow",
    ];

    /// The wire `type` of this message.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientMessage::Subscribe { .. } => "subscribe",
            ClientMessage::Next { .. } => "next",
            ClientMessage::GetEpisode { .. } => "get_episode",
            ClientMessage::SetSpeed { .. } => "set_speed",
            ClientMessage::Pause => "pause",
            ClientMessage::Resume => "resume",
            ClientMessage::Step => "step",
            ClientMessage::JumpLive => "jump_live",
            ClientMessage::SetFilter { .. } => "set_filter",
            ClientMessage::SetPolicy { .. } => "set_policy",
            ClientMessage::ListRecordings { .. } => "list_recordings",
            ClientMessage::LoadReplay { .. } => "load_replay",
            ClientMessage::Seek { .. } => "seek",
            ClientMessage::Watch { .. } => "watch",
            ClientMessage::Probe { .. } => "probe",
            ClientMessage::TrainingControl { .. } => "training_control",
            ClientMessage::Present { .. } => "present",
            ClientMessage::PresenterState { .. } => "presenter_state",
            ClientMessage::Follow { .. } => "follow",
        }
    }

    /// Value checks that serde's structure checks cannot express.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            ClientMessage::Subscribe { speed, filter, .. } => {
                speed.validate()?;
                filter.validate()
            }
            ClientMessage::SetSpeed { speed } => speed.validate(),
            ClientMessage::SetFilter { filter } => filter.validate(),
            ClientMessage::ListRecordings { filters } => filters.validate(),
            ClientMessage::Probe {
                meters,
                time_of_day,
                step,
                ..
            } => validate_probe(meters.as_deref(), *time_of_day, *step),
            ClientMessage::TrainingControl { control, .. } => control.validate(),
            ClientMessage::PresenterState { state } => state.speed.validate(),
            _ => Ok(()),
        }
    }

    /// Compact JSON of this message (what a client sends).
    pub fn to_json(&self) -> String {
        // Cannot fail: no maps with non-string keys, no fallible Serialize impls.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// How a client receives episodes (docs/decisions.md#delivery-model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Whole `episode` messages; the client plays them back itself.
    #[default]
    Episode,
    /// Server-paced `episode_start` / `step` / `episode_end` at the client's speed.
    Steps,
}

/// Which episode `next` picks (docs/decisions.md#next-order-and-history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// The newest matching episode after `after` (skipped ones are counted).
    #[default]
    Latest,
    /// The oldest matching episode after `after` still in the ring.
    Sequential,
}

/// Playback speed: a factor of [`crate::STEPS_PER_SECOND_AT_1X`] in
/// `[MIN_SPEED, MAX_SPEED]`, or `"instant"` (no pacing). On the wire: a JSON number or the
/// string `"instant"`.
#[derive(Debug, Clone, Copy, PartialEq, TS)]
#[ts(type = "number | \"instant\"")]
pub enum Speed {
    Factor(f64),
    Instant,
}

impl Default for Speed {
    fn default() -> Self {
        Speed::Factor(1.0)
    }
}

impl Speed {
    /// Steps per second this speed plays at; `None` for instant.
    pub fn steps_per_second(self) -> Option<f64> {
        match self {
            Speed::Factor(f) => Some(f * crate::STEPS_PER_SECOND_AT_1X),
            Speed::Instant => None,
        }
    }

    /// Time between two steps at this speed; `None` for instant (no pacing). Only
    /// meaningful for a validated speed.
    pub fn step_interval(self) -> Option<std::time::Duration> {
        let sps = self.steps_per_second()?;
        (sps.is_finite() && sps > 0.0).then(|| std::time::Duration::from_secs_f64(1.0 / sps))
    }

    pub fn validate(self) -> Result<(), ProtocolError> {
        match self {
            Speed::Instant => Ok(()),
            Speed::Factor(f)
                if f.is_finite() && (crate::MIN_SPEED..=crate::MAX_SPEED).contains(&f) =>
            {
                Ok(())
            }
            Speed::Factor(f) => Err(ProtocolError::new(
                ErrorCode::InvalidSpeed,
                format!(
                    "speed {f} is outside {}..={} (or use \"instant\")",
                    crate::MIN_SPEED,
                    crate::MAX_SPEED
                ),
            )),
        }
    }
}

impl Serialize for Speed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Speed::Factor(f) => s.serialize_f64(*f),
            Speed::Instant => s.serialize_str("instant"),
        }
    }
}

impl<'de> Deserialize<'de> for Speed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SpeedVisitor;
        impl Visitor<'_> for SpeedVisitor {
            type Value = Speed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or \"instant\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Speed, E> {
                Ok(Speed::Factor(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Speed, E> {
                Ok(Speed::Factor(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Speed, E> {
                Ok(Speed::Factor(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Speed, E> {
                if v == "instant" {
                    Ok(Speed::Instant)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(SpeedVisitor)
    }
}

/// Server-side episode filter (docs/decisions.md#filters-are-server-side). On the wire:
/// `{"kind": "every_nth", "n": 10}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Filter {
    #[default]
    All,
    /// End reason `died`.
    Failures,
    /// The 3 episodes before and the 3 after each curriculum stage change.
    StageChanges,
    /// `episode_id % n == 0` (docs/decisions.md#next-order-and-history); `n` defaults to 10.
    EveryNth {
        #[serde(default = "default_nth")]
        #[ts(as = "Option<_>", optional)]
        n: u32,
    },
    /// Top 10 % by extrinsic reward among the last 100 episodes
    /// (docs/decisions.md#rankings-use-extrinsic-reward).
    Best,
    /// Bottom 10 % by the same measure.
    Worst,
}

fn default_nth() -> u32 {
    crate::DEFAULT_EVERY_NTH
}

impl Filter {
    pub fn validate(self) -> Result<(), ProtocolError> {
        match self {
            Filter::EveryNth { n: 0 } => Err(ProtocolError::new(
                ErrorCode::InvalidFilter,
                "every_nth needs n >= 1",
            )),
            _ => Ok(()),
        }
    }
}

/// Filters for `list_recordings`; every field is optional.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, TS)]
#[ts(optional_fields = nullable)]
pub struct RecordingFilters {
    #[serde(default)]
    pub stage: Option<u32>,
    /// Recording reason, e.g. `periodic`.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub end_reason: Option<EndReason>,
    #[serde(default)]
    pub min_reward: Option<f64>,
    #[serde(default)]
    pub max_reward: Option<f64>,
    /// At most this many rows (1..=`MAX_RECORDINGS_LIMIT`, default 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl RecordingFilters {
    pub fn validate(&self) -> Result<(), ProtocolError> {
        if let Some(limit) = self.limit
            && !(1..=crate::MAX_RECORDINGS_LIMIT).contains(&limit)
        {
            return Err(ProtocolError::new(
                ErrorCode::InvalidValue,
                format!(
                    "limit {limit} is outside 1..={}",
                    crate::MAX_RECORDINGS_LIMIT
                ),
            ));
        }
        if self.stage == Some(0) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidValue,
                "stage is 1-based",
            ));
        }
        if let (Some(lo), Some(hi)) = (self.min_reward, self.max_reward)
            && lo > hi
        {
            return Err(ProtocolError::new(
                ErrorCode::InvalidValue,
                format!("min_reward {lo} > max_reward {hi}"),
            ));
        }
        Ok(())
    }

    /// The row limit to apply.
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(crate::DEFAULT_RECORDINGS_LIMIT)
    }
}

/// Longest piece of client input echoed back in an error message.
const ECHO_MAX: usize = 64;

fn echo(s: &str) -> String {
    match s.char_indices().nth(ECHO_MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// Parses and validates one inbound text frame.
///
/// Error codes, checked in this order: `frame_too_large`, `invalid_json`,
/// `not_an_object`, `missing_type`, `unknown_type`, `unsupported_version`,
/// `invalid_speed` / `invalid_filter` (those fields are checked first so their problems get
/// their own codes), `invalid_field` (missing / wrongly typed fields), then
/// `invalid_speed` / `invalid_filter` / `invalid_value` for out-of-range values.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, ProtocolError> {
    if text.len() > crate::MAX_INBOUND_FRAME_BYTES as usize {
        return Err(ProtocolError::new(
            ErrorCode::FrameTooLarge,
            format!(
                "frame of {} bytes exceeds {} bytes",
                text.len(),
                crate::MAX_INBOUND_FRAME_BYTES
            ),
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ProtocolError::new(ErrorCode::InvalidJson, format!("invalid JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(ProtocolError::new(
            ErrorCode::NotAnObject,
            "a message must be a JSON object",
        ));
    };
    let Some(type_name) = object.get("type").and_then(Value::as_str) else {
        return Err(ProtocolError::new(
            ErrorCode::MissingType,
            "a message needs a string `type` field",
        ));
    };
    if !ClientMessage::TYPES.contains(&type_name) {
        return Err(ProtocolError::new(
            ErrorCode::UnknownType,
            format!("unknown message type `{}`", echo(type_name)),
        )
        .with_request(&echo(type_name)));
    }
    let fail = |e: ProtocolError| e.with_request(type_name);
    if let Some(v) = object.get("v")
        && v.as_u64() != Some(u64::from(crate::PROTOCOL_VERSION))
    {
        return Err(fail(ProtocolError::new(
            ErrorCode::UnsupportedVersion,
            format!(
                "protocol version {} is not supported (server speaks {})",
                echo(&v.to_string()),
                crate::PROTOCOL_VERSION
            ),
        )));
    }
    if let Some(speed) = object.get("speed") {
        Speed::deserialize(speed)
            .map_err(|_| {
                ProtocolError::new(
                    ErrorCode::InvalidSpeed,
                    format!(
                        "speed must be a number or \"instant\", got {}",
                        echo(&speed.to_string())
                    ),
                )
            })
            .and_then(Speed::validate)
            .map_err(fail)?;
    }
    if let Some(filter) = object.get("filter") {
        Filter::deserialize(filter)
            .map_err(|e| {
                ProtocolError::new(
                    ErrorCode::InvalidFilter,
                    format!(
                        "filter must be {{\"kind\": all|failures|stage_changes|every_nth|best|worst}}: {e}"
                    ),
                )
            })
            .and_then(Filter::validate)
            .map_err(fail)?;
    }
    let message = ClientMessage::deserialize(&value).map_err(|e| {
        fail(ProtocolError::new(
            ErrorCode::InvalidField,
            format!("bad `{type_name}` message: {e}"),
        ))
    })?;
    message.validate().map_err(fail)?;
    Ok(message)
}

/// `probe`: steps are 1-based, meters in [0, 1], hours below 24.
fn validate_probe(
    meters: Option<&[f32]>,
    time_of_day: Option<u8>,
    step: u32,
) -> Result<(), ProtocolError> {
    if step == 0 {
        return Err(ProtocolError::new(
            ErrorCode::InvalidValue,
            "probe step 0: steps are numbered from 1",
        ));
    }
    if let Some((i, v)) = meters
        .unwrap_or_default()
        .iter()
        .enumerate()
        .find(|(_, v)| !(0.0..=1.0).contains(*v))
    {
        return Err(ProtocolError::new(
            ErrorCode::InvalidValue,
            format!("probe meters[{i}] = {v} is outside [0, 1]"),
        ));
    }
    if let Some(t) = time_of_day.filter(|t| *t >= 24) {
        return Err(ProtocolError::new(
            ErrorCode::InvalidValue,
            format!("probe time_of_day {t} is not an hour (0..=23)"),
        ));
    }
    Ok(())
}
