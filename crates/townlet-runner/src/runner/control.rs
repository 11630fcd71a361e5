//! Live training controls (docs/decisions.md#training-events): the runner owns the
//! receiving end of a bounded channel and polls it — every step for pause / resume, at the
//! next episode boundary for everything else. Each applied change becomes a
//! [`TrainingEvent`]: stored in `metrics.db` through the recorder's writer thread, handed
//! to the event sink (a server's markers), and the overrides in force are saved in every
//! checkpoint so a resume continues with them. The runner knows nothing of who sends.

use super::metrics::now_ms;
use super::{DemoRunner, RunnerError};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;
use townlet_recording::TrainingEvent;

/// One change a teacher asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Stop stepping at the next step (until `Resume`).
    Pause,
    Resume,
    /// `Some(ε)` in [0, 1]: fixed; `None`: the decay schedule again.
    SetEpsilon(Option<f64>),
    /// In (0, 1].
    SetLearningRate(f64),
    /// `Some(w)` ≥ 0: fixed; `None`: annealing again.
    SetIntrinsicWeight(Option<f64>),
    /// `Some(stage)` in 1..=5: locked there; `None`: the curriculum rule again.
    LockStage(Option<u8>),
    /// `Some(m)` in (0, 100]: the env's depletion multiplier; `None`: the stage's.
    SetDepletionMultiplier(Option<f32>),
}

impl Control {
    /// The name a training event gives this control.
    pub fn name(&self) -> &'static str {
        match self {
            Control::Pause | Control::Resume => "pause",
            Control::SetEpsilon(_) => "epsilon",
            Control::SetLearningRate(_) => "learning_rate",
            Control::SetIntrinsicWeight(_) => "intrinsic_weight",
            Control::LockStage(_) => "stage",
            Control::SetDepletionMultiplier(_) => "depletion_multiplier",
        }
    }

    /// Range checks; the message names the field and the value.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |field: &str, v: f64, range: &str| Err(format!("{field} {v} is outside {range}"));
        match *self {
            Control::SetEpsilon(Some(v)) if !(v.is_finite() && (0.0..=1.0).contains(&v)) => {
                bad("epsilon", v, "[0, 1]")
            }
            Control::SetLearningRate(v) if !(v.is_finite() && v > 0.0 && v <= 1.0) => {
                bad("learning_rate", v, "(0, 1]")
            }
            Control::SetIntrinsicWeight(Some(v)) if !(v.is_finite() && v >= 0.0) => {
                bad("intrinsic_weight", v, "[0, ∞)")
            }
            Control::LockStage(Some(s)) if !(1..=5).contains(&s) => {
                Err(format!("stage {s} is not a curriculum stage (1..=5)"))
            }
            Control::SetDepletionMultiplier(Some(m))
                if !(m.is_finite() && m > 0.0 && m <= 100.0) =>
            {
                bad("depletion_multiplier", f64::from(m), "(0, 100]")
            }
            _ => Ok(()),
        }
    }

    /// Applied when polled (every step), not at the episode boundary.
    fn immediate(&self) -> bool {
        matches!(self, Control::Pause | Control::Resume)
    }
}

/// A control and who asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlRequest {
    pub who: String,
    pub control: Control,
}

/// Sees every applied change (after it is queued for `metrics.db`). Must not block.
pub type EventSink = Box<dyn FnMut(&TrainingEvent) + Send>;

/// How long a paused runner waits on its channel before looking at the stop flag again.
const PAUSE_POLL: Duration = Duration::from_millis(50);

/// The sending end (`try_send`: a full channel refuses, nobody waits) and the runner's.
pub fn control_channel(capacity: usize) -> (SyncSender<ControlRequest>, Receiver<ControlRequest>) {
    mpsc::sync_channel(capacity.max(1))
}

/// The runner's side: the channel, the sink, what waits for the next boundary.
pub(super) struct Controls {
    rx: Receiver<ControlRequest>,
    sink: Option<EventSink>,
    pending: Vec<ControlRequest>,
    pub(super) paused: bool,
}

fn fmt_opt(v: Option<f64>, otherwise: &str, now: f64) -> String {
    match v {
        Some(v) => format!("{v}"),
        None => format!("{otherwise} ({})", short(now)),
    }
}

fn short(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() { "0".into() } else { s.into() }
}

impl DemoRunner {
    /// Plugs in a control channel (see [`control_channel`]) and an optional event sink.
    pub fn set_controls(&mut self, rx: Receiver<ControlRequest>, sink: Option<EventSink>) {
        self.controls = Some(Controls {
            rx,
            sink,
            pending: Vec::new(),
            paused: false,
        });
    }

    /// Whether a teacher has paused training.
    pub fn paused(&self) -> bool {
        self.controls.as_ref().is_some_and(|c| c.paused)
    }

    /// Every step: take what arrived; pause / resume now, the rest at the boundary. While
    /// paused, wait here (waking for the stop flag) until resumed.
    pub(super) fn poll_controls(&mut self, episode: u64) -> Result<(), RunnerError> {
        loop {
            let Some(c) = self.controls.as_mut() else {
                return Ok(());
            };
            let next = if c.paused {
                if self.stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                match c.rx.recv_timeout(PAUSE_POLL) {
                    Ok(r) => Some(r),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => {
                        // Nobody can resume: carry on.
                        c.paused = false;
                        None
                    }
                }
            } else {
                c.rx.try_recv().ok()
            };
            let Some(req) = next else {
                return Ok(());
            };
            if let Err(why) = req.control.validate() {
                tracing::warn!("training control from {} ignored: {why}", req.who);
                continue;
            }
            if req.control.immediate() {
                self.apply_control(req, episode)?;
            } else {
                c.pending.push(req);
            }
        }
    }

    /// At the episode boundary (before episode `episode` starts): everything pending.
    pub(super) fn apply_pending_controls(&mut self, episode: u64) -> Result<(), RunnerError> {
        self.poll_controls(episode)?;
        let pending = match self.controls.as_mut() {
            Some(c) => std::mem::take(&mut c.pending),
            None => return Ok(()),
        };
        for req in pending {
            self.apply_control(req, episode)?;
        }
        Ok(())
    }

    fn apply_control(&mut self, req: ControlRequest, episode: u64) -> Result<(), RunnerError> {
        let agent = &mut self.agent;
        let o = agent.overrides().clone();
        let (old, new) = match req.control {
            Control::Pause | Control::Resume => {
                let pause = req.control == Control::Pause;
                let Some(c) = self.controls.as_mut() else {
                    return Ok(());
                };
                if c.paused == pause {
                    return Ok(());
                }
                c.paused = pause;
                let word = |p: bool| if p { "paused" } else { "running" }.to_string();
                (word(!pause), word(pause))
            }
            Control::SetEpsilon(v) => {
                let old = fmt_opt(o.epsilon, "schedule", agent.epsilon());
                agent.set_fixed_epsilon(v);
                (old, fmt_opt(v, "schedule", agent.epsilon()))
            }
            Control::SetLearningRate(lr) => {
                let old = format!("{}", agent.learning_rate());
                agent.set_learning_rate(lr);
                (old, format!("{lr}"))
            }
            Control::SetIntrinsicWeight(v) => {
                let old = fmt_opt(o.intrinsic_weight, "annealing", agent.intrinsic_weight());
                agent.set_fixed_intrinsic_weight(v);
                (old, fmt_opt(v, "annealing", agent.intrinsic_weight()))
            }
            Control::LockStage(s) => {
                let show = |s: Option<u8>, now: u8| match s {
                    Some(s) => format!("{s} (locked)"),
                    None => format!("{now}"),
                };
                let old = show(o.stage, agent.stage());
                agent.lock_stage(s);
                (old, show(s, agent.stage()))
            }
            Control::SetDepletionMultiplier(m) => {
                let old = fmt_opt(
                    o.depletion_multiplier.map(f64::from),
                    "stage",
                    f64::from(agent.multiplier()),
                );
                agent.set_depletion_multiplier(m);
                (
                    old,
                    fmt_opt(m.map(f64::from), "stage", f64::from(agent.multiplier())),
                )
            }
        };
        let event = TrainingEvent {
            time_ms: now_ms(),
            episode,
            who: req.who,
            control: req.control.name().to_string(),
            old,
            new,
        };
        tracing::info!(
            "training event: episode {} {} {} → {} ({})",
            event.episode,
            event.control,
            event.old,
            event.new,
            event.who
        );
        self.recorder.record_training_event(event.clone())?;
        if let Some(sink) = self.controls.as_mut().and_then(|c| c.sink.as_mut()) {
            sink(&event);
        }
        Ok(())
    }
}
