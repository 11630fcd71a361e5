//! Episode data shared by the recorder, the live stream and the recording files
//! (docs/decisions.md#episodes-steps-and-the-database).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why an episode ended: the env's type, stored by its snake_case name.
pub use townlet_env::EndReason;

/// One environment step (docs/decisions.md#step-fields): decision fields describe the
/// choice made before the step, state fields the state after it. `step` is 1-based.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RecordedStep {
    pub step: u32,
    pub position: (i32, i32),
    /// N meters in bars.yaml index order.
    pub meters: Vec<f32>,
    pub action: u8,
    /// Extrinsic reward.
    pub reward: f32,
    /// Unweighted RND novelty (docs/decisions.md#intrinsic-reward).
    pub intrinsic_reward: f32,
    pub done: bool,
    /// Q-values of the pre-step observation, one per action.
    pub q_values: Option<Vec<f32>>,
    pub epsilon: Option<f32>,
    /// The mask the action was chosen from, one per action.
    pub action_mask: Option<Vec<bool>>,
    /// The action came from the random ε branch.
    pub explored: bool,
    pub time_of_day: Option<u8>,
    pub interaction_progress: Option<f32>,
}

/// Per-episode summary (docs/decisions.md#episode-metadata). Values are those in force
/// during the episode; the loss summary covers the learner updates made during it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeMetadata {
    pub survival_steps: u32,
    /// extrinsic + intrinsic (weighted).
    pub total_reward: f32,
    pub extrinsic_reward: f32,
    /// Σ intrinsic_weight × novelty (docs/decisions.md#intrinsic-reward).
    pub intrinsic_reward: f32,
    pub curriculum_stage: u32,
    pub depletion_multiplier: f32,
    pub epsilon: f32,
    pub intrinsic_weight: f32,
    /// Successful interactions per affordance name.
    pub affordance_visits: BTreeMap<String, u32>,
    pub end_reason: EndReason,
    /// Unix time in seconds when the episode started.
    pub timestamp: f64,
    pub loss_mean: Option<f32>,
    /// Mean |y − Q(s,a)| over the episode's updates.
    pub td_error_mean: Option<f32>,
    pub q_mean: Option<f32>,
    /// Learner updates made during the episode.
    pub updates: u32,
}

impl Default for EpisodeMetadata {
    fn default() -> Self {
        Self {
            survival_steps: 0,
            total_reward: 0.0,
            extrinsic_reward: 0.0,
            intrinsic_reward: 0.0,
            curriculum_stage: 1,
            depletion_multiplier: 1.0,
            epsilon: 0.0,
            intrinsic_weight: 0.0,
            affordance_visits: BTreeMap::new(),
            end_reason: EndReason::Truncated,
            timestamp: 0.0,
            loss_mean: None,
            td_error_mean: None,
            q_mean: None,
            updates: 0,
        }
    }
}

/// An affordance's position during the episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffordancePosition {
    pub name: String,
    pub x: i32,
    pub y: i32,
}

/// State at step 0 so a viewer can draw the spawn (docs/decisions.md#step-fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StartState {
    pub position: (i32, i32),
    pub meters: Vec<f32>,
    pub time_of_day: Option<u8>,
}

// Per-step flag bits in `StepColumns::flags`.
const F_DONE: u8 = 1;
const F_EXPLORED: u8 = 1 << 1;
const F_Q: u8 = 1 << 2;
const F_EPS: u8 = 1 << 3;
const F_MASK: u8 = 1 << 4;
const F_TOD: u8 = 1 << 5;
const F_PROGRESS: u8 = 1 << 6;

/// Why a step could not be stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepShapeError {
    #[error("step has {found} meters, the episode has {expected}")]
    Meters { expected: usize, found: usize },
    #[error("step has {found} q-values, the episode has {expected} actions")]
    QValues { expected: usize, found: usize },
    #[error("step has an action mask of {found}, the episode has {expected} actions")]
    Mask { expected: usize, found: usize },
}

/// Columnar step storage (docs/decisions.md#memory-bound-per-step): about 60 bytes + 4 ×
/// meters + 4 × actions per step.
///
/// Scalar optionals are stored densely with a presence bit; `q_values` and the mask
/// columns stay empty until a step carries them (earlier steps are padded), so episodes
/// without Q-values pay nothing for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(try_from = "StepColumnsData")]
pub struct StepColumns {
    n_meters: u16,
    n_actions: u16,
    step: Vec<u32>,
    position: Vec<(i32, i32)>,
    meters: Vec<f32>,
    action: Vec<u8>,
    reward: Vec<f32>,
    intrinsic_reward: Vec<f32>,
    flags: Vec<u8>,
    epsilon: Vec<f32>,
    time_of_day: Vec<u8>,
    interaction_progress: Vec<f32>,
    /// n_actions per step, padded with 0 for steps without Q-values.
    q_values: Vec<f32>,
    /// ceil(n_actions / 8) bytes per step (bit a = action a allowed).
    action_mask: Vec<u8>,
}

/// The wire form of [`StepColumns`], checked before use so that a damaged or hostile
/// file (or message) with inconsistent column lengths is an error, never a panic later.
#[derive(Deserialize)]
struct StepColumnsData {
    n_meters: u16,
    n_actions: u16,
    step: Vec<u32>,
    position: Vec<(i32, i32)>,
    meters: Vec<f32>,
    action: Vec<u8>,
    reward: Vec<f32>,
    intrinsic_reward: Vec<f32>,
    flags: Vec<u8>,
    epsilon: Vec<f32>,
    time_of_day: Vec<u8>,
    interaction_progress: Vec<f32>,
    q_values: Vec<f32>,
    action_mask: Vec<u8>,
}

impl TryFrom<StepColumnsData> for StepColumns {
    type Error = String;

    fn try_from(d: StepColumnsData) -> Result<Self, String> {
        let c = StepColumns {
            n_meters: d.n_meters,
            n_actions: d.n_actions,
            step: d.step,
            position: d.position,
            meters: d.meters,
            action: d.action,
            reward: d.reward,
            intrinsic_reward: d.intrinsic_reward,
            flags: d.flags,
            epsilon: d.epsilon,
            time_of_day: d.time_of_day,
            interaction_progress: d.interaction_progress,
            q_values: d.q_values,
            action_mask: d.action_mask,
        };
        c.validate()?;
        Ok(c)
    }
}

impl StepColumns {
    /// Checks that every column matches the step count (what `get` relies on).
    pub fn validate(&self) -> Result<(), String> {
        let n = self.step.len();
        let m = self.n_meters as usize;
        let a = self.n_actions as usize;
        let mask_bytes = a.div_ceil(8);
        let same = [
            ("position", self.position.len()),
            ("action", self.action.len()),
            ("reward", self.reward.len()),
            ("intrinsic_reward", self.intrinsic_reward.len()),
            ("flags", self.flags.len()),
            ("epsilon", self.epsilon.len()),
            ("time_of_day", self.time_of_day.len()),
            ("interaction_progress", self.interaction_progress.len()),
        ];
        for (name, len) in same {
            if len != n {
                return Err(format!(
                    "step column {name} has {len} entries for {n} steps"
                ));
            }
        }
        if self.meters.len() != n * m {
            return Err(format!(
                "meters column has {} values for {n} steps × {m} meters",
                self.meters.len()
            ));
        }
        if self.q_values.len() > n * a || !self.q_values.len().is_multiple_of(a) {
            return Err(format!(
                "q_values column has {} values",
                self.q_values.len()
            ));
        }
        if self.action_mask.len() > n * mask_bytes
            || !self.action_mask.len().is_multiple_of(mask_bytes)
        {
            return Err(format!(
                "action_mask column has {} bytes",
                self.action_mask.len()
            ));
        }
        for (i, &f) in self.flags.iter().enumerate() {
            if f & F_Q != 0 && (i + 1) * a > self.q_values.len() {
                return Err(format!("step index {i} claims q_values that are missing"));
            }
            if f & F_MASK != 0 && (i + 1) * mask_bytes > self.action_mask.len() {
                return Err(format!(
                    "step index {i} claims an action mask that is missing"
                ));
            }
        }
        Ok(())
    }

    /// Empty columns for `n_meters` meters and `n_actions` actions.
    pub fn new(n_meters: usize, n_actions: usize) -> Self {
        Self {
            n_meters: n_meters as u16,
            n_actions: n_actions as u16,
            ..Self::default()
        }
    }

    /// Empty columns with room for `steps` steps (no allocation while below it).
    pub fn with_capacity(n_meters: usize, n_actions: usize, steps: usize) -> Self {
        let mut c = Self::new(n_meters, n_actions);
        c.reserve(steps);
        c
    }

    fn reserve(&mut self, steps: usize) {
        let m = self.n_meters as usize;
        let a = self.n_actions as usize;
        self.step.reserve(steps);
        self.position.reserve(steps);
        self.meters.reserve(steps * m);
        self.action.reserve(steps);
        self.reward.reserve(steps);
        self.intrinsic_reward.reserve(steps);
        self.flags.reserve(steps);
        self.epsilon.reserve(steps);
        self.time_of_day.reserve(steps);
        self.interaction_progress.reserve(steps);
        self.q_values.reserve(steps * a);
        self.action_mask.reserve(steps * a.div_ceil(8));
    }

    pub fn n_meters(&self) -> usize {
        self.n_meters as usize
    }

    pub fn n_actions(&self) -> usize {
        self.n_actions as usize
    }

    pub fn len(&self) -> usize {
        self.step.len()
    }

    pub fn is_empty(&self) -> bool {
        self.step.is_empty()
    }

    /// Removes all steps, keeping capacity, and sets the shape for the next episode.
    pub fn clear(&mut self, n_meters: usize, n_actions: usize) {
        self.n_meters = n_meters as u16;
        self.n_actions = n_actions as u16;
        self.step.clear();
        self.position.clear();
        self.meters.clear();
        self.action.clear();
        self.reward.clear();
        self.intrinsic_reward.clear();
        self.flags.clear();
        self.epsilon.clear();
        self.time_of_day.clear();
        self.interaction_progress.clear();
        self.q_values.clear();
        self.action_mask.clear();
    }

    /// Appends one step; the shape must match the episode's meters and actions.
    pub fn push(&mut self, s: &RecordedStep) -> Result<(), StepShapeError> {
        // Shapes not known up front are taken from the first step that shows them.
        if self.n_meters == 0 && self.step.is_empty() {
            self.n_meters = s.meters.len() as u16;
        }
        if self.n_actions == 0 {
            if let Some(q) = &s.q_values {
                self.n_actions = q.len() as u16;
            } else if let Some(mask) = &s.action_mask {
                self.n_actions = mask.len() as u16;
            }
        }
        let m = self.n_meters as usize;
        let a = self.n_actions as usize;
        if s.meters.len() != m {
            return Err(StepShapeError::Meters {
                expected: m,
                found: s.meters.len(),
            });
        }
        if let Some(q) = &s.q_values
            && q.len() != a
        {
            return Err(StepShapeError::QValues {
                expected: a,
                found: q.len(),
            });
        }
        if let Some(mask) = &s.action_mask
            && mask.len() != a
        {
            return Err(StepShapeError::Mask {
                expected: a,
                found: mask.len(),
            });
        }
        let i = self.step.len();
        let mut flags = 0u8;
        if s.done {
            flags |= F_DONE;
        }
        if s.explored {
            flags |= F_EXPLORED;
        }
        if let Some(q) = &s.q_values {
            flags |= F_Q;
            // Pad earlier steps that had none, then append.
            self.q_values.resize(i * a, 0.0);
            self.q_values.extend_from_slice(q);
        }
        if let Some(mask) = &s.action_mask {
            flags |= F_MASK;
            let bytes = a.div_ceil(8);
            self.action_mask.resize(i * bytes, 0);
            let base = self.action_mask.len();
            self.action_mask.resize(base + bytes, 0);
            for (j, &allowed) in mask.iter().enumerate() {
                if allowed {
                    self.action_mask[base + j / 8] |= 1 << (j % 8);
                }
            }
        }
        if s.epsilon.is_some() {
            flags |= F_EPS;
        }
        if s.time_of_day.is_some() {
            flags |= F_TOD;
        }
        if s.interaction_progress.is_some() {
            flags |= F_PROGRESS;
        }
        self.step.push(s.step);
        self.position.push(s.position);
        self.meters.extend_from_slice(&s.meters);
        self.action.push(s.action);
        self.reward.push(s.reward);
        self.intrinsic_reward.push(s.intrinsic_reward);
        self.flags.push(flags);
        self.epsilon.push(s.epsilon.unwrap_or(0.0));
        self.time_of_day.push(s.time_of_day.unwrap_or(0));
        self.interaction_progress
            .push(s.interaction_progress.unwrap_or(0.0));
        Ok(())
    }

    /// The step at 0-based index `i` (holding `step` i + 1 in a normal episode).
    pub fn get(&self, i: usize) -> Option<RecordedStep> {
        if i >= self.len() {
            return None;
        }
        let m = self.n_meters as usize;
        let a = self.n_actions as usize;
        let f = self.flags[i];
        let q_values = (f & F_Q != 0).then(|| self.q_values[i * a..(i + 1) * a].to_vec());
        let action_mask = (f & F_MASK != 0).then(|| {
            let bytes = a.div_ceil(8);
            let row = &self.action_mask[i * bytes..(i + 1) * bytes];
            (0..a).map(|j| row[j / 8] & (1 << (j % 8)) != 0).collect()
        });
        Some(RecordedStep {
            step: self.step[i],
            position: self.position[i],
            meters: self.meters[i * m..(i + 1) * m].to_vec(),
            action: self.action[i],
            reward: self.reward[i],
            intrinsic_reward: self.intrinsic_reward[i],
            done: f & F_DONE != 0,
            q_values,
            epsilon: (f & F_EPS != 0).then_some(self.epsilon[i]),
            action_mask,
            explored: f & F_EXPLORED != 0,
            time_of_day: (f & F_TOD != 0).then_some(self.time_of_day[i]),
            interaction_progress: (f & F_PROGRESS != 0).then_some(self.interaction_progress[i]),
        })
    }

    /// Every step in order, as owned [`RecordedStep`] values.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = RecordedStep> + '_ {
        (0..self.len()).map(|i| self.get(i).expect("index below len"))
    }

    /// Borrowed column accessors for consumers that want the compact form (e.g. a columnar
    /// wire encoding) without building per-step values.
    pub fn steps(&self) -> &[u32] {
        &self.step
    }
    pub fn positions(&self) -> &[(i32, i32)] {
        &self.position
    }
    /// `n_meters` values per step, row-major.
    pub fn meters_flat(&self) -> &[f32] {
        &self.meters
    }
    pub fn actions(&self) -> &[u8] {
        &self.action
    }
    pub fn rewards(&self) -> &[f32] {
        &self.reward
    }
    pub fn intrinsic_rewards(&self) -> &[f32] {
        &self.intrinsic_reward
    }

    /// A copy whose buffers are exactly as large as the data (the recorder keeps its own
    /// buffers with spare capacity for reuse).
    pub fn shrunk_clone(&self) -> Self {
        // Vec::clone allocates exactly len() elements.
        self.clone()
    }

    /// Heap bytes held by the columns (by capacity).
    pub fn heap_bytes(&self) -> usize {
        self.step.capacity() * 4
            + self.position.capacity() * 8
            + self.meters.capacity() * 4
            + self.action.capacity()
            + self.reward.capacity() * 4
            + self.intrinsic_reward.capacity() * 4
            + self.flags.capacity()
            + self.epsilon.capacity() * 4
            + self.time_of_day.capacity()
            + self.interaction_progress.capacity() * 4
            + self.q_values.capacity() * 4
            + self.action_mask.capacity()
    }
}

/// A finished episode as streamed live and stored in recording files
/// (docs/decisions.md#step-fields).
/// Immutable once built; shared as `Arc<LiveEpisode>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveEpisode {
    pub episode_id: u64,
    pub agent_id: u32,
    pub metadata: EpisodeMetadata,
    pub layout: Vec<AffordancePosition>,
    pub start: StartState,
    pub steps: StepColumns,
    /// Unix time in ms, stamped on the training thread when the episode ended.
    pub finished_at: u64,
}

impl LiveEpisode {
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The step at 0-based index `i` (so index `i` holds step `i + 1`).
    pub fn step(&self, i: usize) -> Option<RecordedStep> {
        self.steps.get(i)
    }

    /// All steps as owned values, in order.
    pub fn recorded_steps(&self) -> Vec<RecordedStep> {
        self.steps.iter().collect()
    }

    /// Approximate heap + inline memory held by this episode, for the bound of
    /// docs/decisions.md#memory-bound-per-step.
    pub fn approx_bytes(&self) -> usize {
        let strings: usize = self
            .metadata
            .affordance_visits
            .keys()
            .map(|k| k.capacity() + std::mem::size_of::<String>() + 4 + 32)
            .sum::<usize>()
            + self.layout.iter().map(|p| p.name.capacity()).sum::<usize>();
        std::mem::size_of::<Self>()
            + self.layout.capacity() * std::mem::size_of::<AffordancePosition>()
            + strings
            + self.start.meters.capacity() * 4
            + self.steps.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_step(m: usize, a: usize) -> impl Strategy<Value = RecordedStep> {
        (
            (
                any::<u32>(),
                any::<(i32, i32)>(),
                any::<u8>(),
                any::<bool>(),
                any::<bool>(),
            ),
            proptest::collection::vec(any::<f32>(), m),
            (any::<f32>(), any::<f32>()),
            proptest::option::of(proptest::collection::vec(any::<f32>(), a)),
            proptest::option::of(any::<f32>()),
            proptest::option::of(proptest::collection::vec(any::<bool>(), a)),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<f32>()),
        )
            .prop_map(
                |(
                    (step, position, action, done, explored),
                    meters,
                    (reward, intr),
                    q,
                    eps,
                    mask,
                    tod,
                    prog,
                )| {
                    RecordedStep {
                        step,
                        position,
                        meters,
                        action,
                        reward,
                        intrinsic_reward: intr,
                        done,
                        q_values: q,
                        epsilon: eps,
                        action_mask: mask,
                        explored,
                        time_of_day: tod,
                        interaction_progress: prog,
                    }
                },
            )
    }

    /// Bit-exact comparison (NaN == NaN) via the debug form of the f32 bits.
    fn bits(s: &RecordedStep) -> String {
        let f = |v: &f32| v.to_bits();
        format!(
            "{} {:?} {:?} {} {} {} {} {:?} {:?} {:?} {} {:?} {:?}",
            s.step,
            s.position,
            s.meters.iter().map(f).collect::<Vec<_>>(),
            s.action,
            s.reward.to_bits(),
            s.intrinsic_reward.to_bits(),
            s.done,
            s.q_values
                .as_ref()
                .map(|q| q.iter().map(f).collect::<Vec<_>>()),
            s.epsilon.map(f32::to_bits),
            s.action_mask,
            s.explored,
            s.time_of_day,
            s.interaction_progress.map(f32::to_bits)
        )
    }

    proptest! {
        #[test]
        fn columns_round_trip_any_steps(
            (m, a, steps) in (0usize..10, 1usize..20).prop_flat_map(|(m, a)| {
                (Just(m), Just(a), proptest::collection::vec(arb_step(m, a), 0..40))
            })
        ) {
            let mut c = StepColumns::new(m, 0);
            for s in &steps {
                c.push(s).unwrap();
            }
            prop_assert_eq!(c.len(), steps.len());
            prop_assert!(c.n_actions() == a || c.n_actions() == 0);
            prop_assert!(c.validate().is_ok());
            for (i, s) in steps.iter().enumerate() {
                prop_assert_eq!(bits(&c.get(i).unwrap()), bits(s));
            }
            prop_assert!(c.get(steps.len()).is_none());
            // And through the bincode envelope.
            let bytes = townlet_codec::encode(b"TWTST", 1, &c, true).unwrap();
            let (_, back): (u16, StepColumns) = townlet_codec::decode(b"TWTST", 1..=1, &bytes).unwrap();
            for (i, s) in steps.iter().enumerate() {
                prop_assert_eq!(bits(&back.get(i).unwrap()), bits(s));
            }
        }
    }

    #[test]
    fn inconsistent_columns_are_rejected_on_decode() {
        #[derive(Serialize)]
        struct Bad {
            n_meters: u16,
            n_actions: u16,
            step: Vec<u32>,
            position: Vec<(i32, i32)>,
            meters: Vec<f32>,
            action: Vec<u8>,
            reward: Vec<f32>,
            intrinsic_reward: Vec<f32>,
            flags: Vec<u8>,
            epsilon: Vec<f32>,
            time_of_day: Vec<u8>,
            interaction_progress: Vec<f32>,
            q_values: Vec<f32>,
            action_mask: Vec<u8>,
        }
        let good = || Bad {
            n_meters: 2,
            n_actions: 3,
            step: vec![1, 2],
            position: vec![(0, 0); 2],
            meters: vec![0.5; 4],
            action: vec![0; 2],
            reward: vec![0.0; 2],
            intrinsic_reward: vec![0.0; 2],
            flags: vec![F_Q, F_Q | F_MASK],
            epsilon: vec![0.0; 2],
            time_of_day: vec![0; 2],
            interaction_progress: vec![0.0; 2],
            q_values: vec![0.1; 6],
            action_mask: vec![0b101; 2],
        };
        let decode = |b: &Bad| {
            let bytes = townlet_codec::encode(b"TWTST", 1, b, false).unwrap();
            townlet_codec::decode::<StepColumns>(b"TWTST", 1..=1, &bytes).map(|(_, c)| c)
        };
        let c = decode(&good()).unwrap();
        assert_eq!(c.get(1).unwrap().action_mask, Some(vec![true, false, true]));
        let mut b = good();
        b.meters.pop();
        assert!(decode(&b).is_err());
        let mut b = good();
        b.reward.push(1.0);
        assert!(decode(&b).is_err());
        let mut b = good();
        b.q_values.truncate(3); // step 1 claims Q-values it does not have
        assert!(decode(&b).is_err());
        let mut b = good();
        b.action_mask.clear();
        assert!(decode(&b).is_err());
    }
}
