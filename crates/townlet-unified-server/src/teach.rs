//! Joins a runner's control channel to the server (docs/security.md): a teacher's
//! `training_control` becomes a runner [`Control`] on a bounded channel the runner polls
//! (`try_send`: a full channel answers "busy", nobody waits), and each event the runner
//! applies comes back on a bounded flume channel as a chart marker (full: dropped from
//! the live view only — it is in `metrics.db`).

use std::sync::Arc;
use townlet_inference::LiveSource;
use townlet_inference::teacher::{TrainingLink, event_info};
use townlet_protocol::TrainingControl;
use townlet_runner::{Control, ControlRequest, DemoRunner, control_channel};

/// Controls queued for a runner at most (a teacher clicks; this never fills in practice).
const CONTROL_QUEUE: usize = 32;
/// Events queued for the server at most.
const EVENT_QUEUE: usize = 64;

/// The runner's form of a protocol control (already range-checked by the protocol).
pub fn to_runner_control(c: TrainingControl) -> Control {
    let stage = |s: Option<u32>| s.map(|s| u8::try_from(s).unwrap_or(u8::MAX));
    match c {
        TrainingControl::Pause => Control::Pause,
        TrainingControl::Resume => Control::Resume,
        TrainingControl::SetEpsilon { value } => Control::SetEpsilon(value),
        TrainingControl::SetLearningRate { value } => Control::SetLearningRate(value),
        TrainingControl::SetIntrinsicWeight { value } => Control::SetIntrinsicWeight(value),
        TrainingControl::LockStage { stage: s } => Control::LockStage(stage(s)),
        TrainingControl::SetDepletionMultiplier { value } => {
            Control::SetDepletionMultiplier(value.map(|v| v as f32))
        }
    }
}

/// Gives `runner` a control channel and `source` the server's end of it.
pub(crate) fn link(runner: &mut DemoRunner, source: LiveSource) -> LiveSource {
    let (control_tx, control_rx) = control_channel(CONTROL_QUEUE);
    let (event_tx, event_rx) = flume::bounded(EVENT_QUEUE);
    runner.set_controls(
        control_rx,
        Some(Box::new(move |e| {
            let _ = event_tx.try_send(event_info(e.clone()));
        })),
    );
    let control = Arc::new(move |c: TrainingControl, who: &str| {
        let control = to_runner_control(c);
        control.validate()?;
        control_tx
            .try_send(ControlRequest {
                who: who.to_owned(),
                control,
            })
            .map_err(|e| match e {
                std::sync::mpsc::TrySendError::Full(_) => {
                    "the trainer has not taken the previous controls yet; try again".to_owned()
                }
                std::sync::mpsc::TrySendError::Disconnected(_) => {
                    "this run's trainer has stopped".to_owned()
                }
            })
    });
    source.with_training(TrainingLink {
        control,
        events: event_rx,
    })
}

/// The teacher's URL: the page URL with `?token=` (the page passes it to `/ws`).
pub fn teacher_url(url: &str, token: &str) -> String {
    format!("{url}?token={token}")
}
