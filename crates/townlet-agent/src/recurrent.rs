//! Our recurrent Q-network (docs/training.md#the-recurrent-network): a CNN over the POMDP
//! window, small encoders for position, meters, the affordance one-hot and the temporal
//! features, a one-layer LSTM 240→128, and a LayerNorm/Linear head.
//!
//! The encoders run on all `B·T` rows at once; only the LSTM steps through time.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    LayerNorm, LayerNormConfig, Linear, LinearConfig, Lstm, LstmConfig, LstmState, PaddingConfig2d,
    Relu,
};
use burn::prelude::*;
use std::ops::Range;
use townlet_config::Pack;

/// LSTM hidden size (and cell size).
pub const LSTM_HIDDEN: usize = 128;
/// Floats of one stored acting state: cell then hidden.
pub const STATE_LEN: usize = 2 * LSTM_HIDDEN;

const VISION_OUT: usize = 128;
const ENC_OUT: usize = 32;
const TEMPORAL_OUT: usize = 16;
const HEAD_HIDDEN: usize = 128;

/// Where each part of one agent's POMDP observation lies (docs/world.md#observations); the
/// same cut points `townlet_env::Env::observation_layout()` reports for a partial pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObsSlices {
    /// Side of the square window, `2 · vision_range + 1`.
    pub side: usize,
    pub window: Range<usize>,
    pub position: Range<usize>,
    pub meters: Range<usize>,
    pub affordance: Range<usize>,
    pub temporal: Range<usize>,
    pub dim: usize,
}

impl ObsSlices {
    /// Cut points for a window of `side²` cells, 2 position values, `meters` meters, an
    /// affordance one-hot of `vocab + 1` slots and the 4 temporal features.
    pub fn new(side: usize, meters: usize, vocab: usize) -> Self {
        let window = 0..side * side;
        let position = window.end..window.end + 2;
        let meters = position.end..position.end + meters;
        let affordance = meters.end..meters.end + vocab + 1;
        let temporal = affordance.end..affordance.end + 4;
        Self {
            side,
            dim: temporal.end,
            window,
            position,
            meters,
            affordance,
            temporal,
        }
    }

    /// The layout of a partially observable pack; `None` for a fully observable one
    /// (the recurrent net reads a local window only).
    pub fn from_pack(pack: &Pack) -> Option<Self> {
        let e = &pack.environment;
        if !e.partial_observability {
            return None;
        }
        let side = 2 * e.vision_range as usize + 1;
        Some(Self::new(side, pack.meters.len(), pack.affordances.len()))
    }
}

#[derive(Module, Debug)]
pub struct RecurrentQNetwork {
    conv1: Conv2d,
    conv2: Conv2d,
    vision_fc: Linear,
    vision_norm: LayerNorm,
    position: Linear,
    meters: Linear,
    affordance: Linear,
    temporal: Linear,
    lstm: Lstm,
    head_norm: LayerNorm,
    head_fc: Linear,
    head_norm2: LayerNorm,
    out: Linear,
    act: Relu,
    #[module(skip)]
    slices: ObsSlices,
}

impl RecurrentQNetwork {
    pub fn new(slices: &ObsSlices, action_dim: usize, device: &Device) -> Self {
        let pad = || PaddingConfig2d::Explicit(1, 1, 1, 1);
        let s = slices;
        let lstm_in = VISION_OUT + 3 * ENC_OUT + TEMPORAL_OUT;
        Self {
            conv1: Conv2dConfig::new([1, 16], [3, 3])
                .with_padding(pad())
                .init(device),
            conv2: Conv2dConfig::new([16, 32], [3, 3])
                .with_padding(pad())
                .init(device),
            vision_fc: LinearConfig::new(32 * s.side * s.side, VISION_OUT).init(device),
            vision_norm: LayerNormConfig::new(VISION_OUT).init(device),
            position: LinearConfig::new(s.position.len(), ENC_OUT).init(device),
            meters: LinearConfig::new(s.meters.len(), ENC_OUT).init(device),
            affordance: LinearConfig::new(s.affordance.len(), ENC_OUT).init(device),
            temporal: LinearConfig::new(s.temporal.len(), TEMPORAL_OUT).init(device),
            lstm: LstmConfig::new(lstm_in, LSTM_HIDDEN, true).init(device),
            head_norm: LayerNormConfig::new(LSTM_HIDDEN).init(device),
            head_fc: LinearConfig::new(LSTM_HIDDEN, HEAD_HIDDEN).init(device),
            head_norm2: LayerNormConfig::new(HEAD_HIDDEN).init(device),
            out: LinearConfig::new(HEAD_HIDDEN, action_dim).init(device),
            act: Relu::new(),
            slices: slices.clone(),
        }
    }

    pub fn slices(&self) -> &ObsSlices {
        &self.slices
    }

    /// Encoder for `[rows, D]` observations → `[rows, 240]`.
    fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        let s = &self.slices;
        let rows = x.dims()[0];
        let window = x
            .clone()
            .slice(s![.., s.window.clone()])
            .reshape([rows, 1, s.side, s.side]);
        let v = self.act.forward(self.conv1.forward(window));
        let v = self.act.forward(self.conv2.forward(v));
        let v = v.reshape([rows, 32 * s.side * s.side]);
        let v = self
            .act
            .forward(self.vision_norm.forward(self.vision_fc.forward(v)));
        let enc =
            |l: &Linear, r: Range<usize>| self.act.forward(l.forward(x.clone().slice(s![.., r])));
        let p = enc(&self.position, s.position.clone());
        let m = enc(&self.meters, s.meters.clone());
        let a = enc(&self.affordance, s.affordance.clone());
        let t = enc(&self.temporal, s.temporal.clone());
        Tensor::cat(vec![v, p, m, a, t], 1)
    }

    /// `obs [B, T, D]` and an optional state (`None` = zeros) → `(q [B, T, A], state')`.
    pub fn forward(
        &self,
        obs: Tensor<3>,
        state: Option<LstmState<2>>,
    ) -> (Tensor<3>, LstmState<2>) {
        let [b, t, d] = obs.dims();
        let enc = self.encode(obs.reshape([b * t, d]));
        let width = enc.dims()[1];
        let (h, state) = self.lstm.forward(enc.reshape([b, t, width]), state);
        let h = self.head_norm.forward(h.reshape([b * t, LSTM_HIDDEN]));
        let h = self
            .act
            .forward(self.head_norm2.forward(self.head_fc.forward(h)));
        let q = self.out.forward(h);
        let a = q.dims()[1];
        (q.reshape([b, t, a]), state)
    }
}

/// `[B, 256]` flat stored states (cell then hidden per row) → an `LstmState` on `device`.
pub fn state_from_flat(flat: Vec<f32>, rows: usize, device: &Device) -> LstmState<2> {
    let both = Tensor::<2>::from_data(TensorData::new(flat, [rows, STATE_LEN]), device);
    LstmState::new(
        both.clone().slice(s![.., 0..LSTM_HIDDEN]),
        both.slice(s![.., LSTM_HIDDEN..STATE_LEN]),
    )
}

/// The inverse of [`state_from_flat`].
pub fn state_to_flat(state: LstmState<2>) -> Vec<f32> {
    Tensor::cat(vec![state.cell, state.hidden], 1)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l2_slices() -> ObsSlices {
        // 5×5 window, 8 meters, 14 affordances (+1 "none") → 25 + 2 + 8 + 15 + 4 = 54.
        ObsSlices::new(5, 8, 14)
    }

    #[test]
    fn parameter_count_matches_the_spec() {
        let d = Device::flex();
        assert_eq!(l2_slices().dim, 54);
        assert_eq!(
            RecurrentQNetwork::new(&l2_slices(), 8, &d).num_params(),
            316_056
        );
    }

    #[test]
    fn one_call_over_a_sequence_equals_stepping_with_the_carried_state() {
        let d = Device::flex();
        let s = l2_slices();
        let net = RecurrentQNetwork::new(&s, 8, &d);
        let (b, t) = (2, 5);
        let data: Vec<f32> = (0..b * t * s.dim)
            .map(|i| ((i * 37 % 101) as f32 / 101.0) - 0.5)
            .collect();
        let obs = Tensor::<3>::from_data(TensorData::new(data, [b, t, s.dim]), &d);
        let (q_all, st_all) = net.forward(obs.clone(), None);
        let mut state = None;
        let mut steps = vec![];
        for k in 0..t {
            let (q, st) = net.forward(obs.clone().slice(s![.., k..k + 1, ..]), state);
            steps.push(q);
            state = Some(st);
        }
        let q_steps = Tensor::cat(steps, 1);
        let diff = (q_all - q_steps).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "max diff {diff}");
        let st = state.expect("stepped state");
        let flat_a = state_to_flat(st_all);
        let flat_b = state_to_flat(st);
        assert_eq!(flat_a.len(), b * STATE_LEN);
        for (x, y) in flat_a.iter().zip(&flat_b) {
            assert!((x - y).abs() < 1e-5);
        }
    }

    #[test]
    fn flat_state_round_trips() {
        let d = Device::flex();
        let flat: Vec<f32> = (0..2 * STATE_LEN).map(|i| i as f32).collect();
        let st = state_from_flat(flat.clone(), 2, &d);
        assert_eq!(st.cell.dims(), [2, LSTM_HIDDEN]);
        assert_eq!(
            st.hidden.clone().slice(s![0..1, 0..1]).into_scalar::<f32>(),
            LSTM_HIDDEN as f32
        );
        assert_eq!(state_to_flat(st), flat);
    }
}
