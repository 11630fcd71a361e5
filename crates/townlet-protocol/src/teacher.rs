//! The teacher's messages (docs/protocol.md#the-teachers-seat): live training controls,
//! presenting and following, and the training events every viewer's charts mark.
//! Only a teacher connection may send `training_control`, `present` and
//! `presenter_state`; any connection may `follow`.

use crate::client::Speed;
use crate::error::{ErrorCode, ProtocolError};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What a connection may do (`hello.role`): a teacher's connection carries the server's
/// teacher token (`/ws?token=`), every other one is a viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Viewer,
    Teacher,
}

/// One change to a running trainer, applied at the next episode boundary (pause and
/// resume: at the next step). `null` values go back to the pack's behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrainingControl {
    Pause,
    Resume,
    /// A fixed ε in [0, 1], or `null`: the decay schedule again.
    SetEpsilon {
        #[ts(optional = nullable)]
        value: Option<f64>,
    },
    /// The optimizer's learning rate, in (0, 1].
    SetLearningRate {
        value: f64,
    },
    /// A fixed intrinsic weight ≥ 0, or `null`: annealing again.
    SetIntrinsicWeight {
        #[ts(optional = nullable)]
        value: Option<f64>,
    },
    /// Lock the curriculum at `stage` (1..=5), or `null`: unlock.
    LockStage {
        #[ts(optional = nullable)]
        stage: Option<u32>,
    },
    /// The env's depletion multiplier in (0, 100], or `null`: the stage's.
    SetDepletionMultiplier {
        #[ts(optional = nullable)]
        value: Option<f64>,
    },
}

impl TrainingControl {
    /// Range checks; the message names the field.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        let bad = |field: &str, v: f64, range: &str| {
            Err(ProtocolError::new(
                ErrorCode::InvalidValue,
                format!("{field} {v} is outside {range}"),
            ))
        };
        match *self {
            TrainingControl::SetEpsilon { value: Some(v) }
                if !(v.is_finite() && (0.0..=1.0).contains(&v)) =>
            {
                bad("epsilon", v, "[0, 1]")
            }
            TrainingControl::SetLearningRate { value: v }
                if !(v.is_finite() && v > 0.0 && v <= 1.0) =>
            {
                bad("learning_rate", v, "(0, 1]")
            }
            TrainingControl::SetIntrinsicWeight { value: Some(v) }
                if !(v.is_finite() && v >= 0.0) =>
            {
                bad("intrinsic_weight", v, "[0, ∞)")
            }
            TrainingControl::LockStage { stage: Some(s) } if !(1..=5).contains(&s) => {
                Err(ProtocolError::new(
                    ErrorCode::InvalidValue,
                    format!("stage {s} is not a curriculum stage (1..=5)"),
                ))
            }
            TrainingControl::SetDepletionMultiplier { value: Some(m) }
                if !(m.is_finite() && m > 0.0 && m <= 100.0) =>
            {
                bad("depletion_multiplier", m, "(0, 100]")
            }
            _ => Ok(()),
        }
    }
}

/// Where the presenting teacher is: followers mirror it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PresenterState {
    pub run_id: String,
    /// The episode on the teacher's screen (`null`: none yet).
    #[ts(optional = nullable)]
    pub episode_id: Option<u64>,
    /// 0-based step index within it.
    pub step: u32,
    pub playing: bool,
    pub speed: Speed,
    /// The overlays shown (the viewer's names, e.g. `"q_values"`).
    #[serde(default)]
    pub overlays: Vec<String>,
}

/// `presenting`: sent to every connection when the teacher starts or stops presenting
/// or moves (and right after `hello` while presenting, so a late viewer joins at the
/// teacher's position).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Presenting {
    pub active: bool,
    /// The teacher's position (absent when not presenting).
    pub state: Option<PresenterState>,
    /// Server time when the teacher's message arrived (unix ms).
    pub sent_at: u64,
}

/// One applied change (docs/decisions.md#training-events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TrainingEventInfo {
    /// Unix ms when the trainer applied it.
    pub time_ms: u64,
    /// The first episode played with the new value.
    pub episode: u64,
    pub who: String,
    /// `pause`, `epsilon`, `learning_rate`, `intrinsic_weight`, `stage`, `depletion_multiplier`.
    pub control: String,
    pub old: String,
    pub new: String,
}

/// `training_events`: after `stats` on connect (every event of the run so far), and to
/// every viewer of the run when a new one is applied (`events` has one item).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TrainingEvents {
    pub run_id: String,
    pub events: Vec<TrainingEventInfo>,
    /// True on the first message of a connection (replace, don't append).
    pub full: bool,
}
