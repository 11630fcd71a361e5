//! Hand-written gradients for the recurrent net (docs/training.md#hand-written-gradients):
//! the sequence update of [`RecurrentQNetwork`] written out with burn tensor operations on
//! the plain device, no autodiff graph.
//!
//! What makes it fast is the shape of the work:
//! * the rows of a batch are **time-major** (`t · B + b`), so one time step is one
//!   contiguous block of rows;
//! * the four gates are **one matmul**: the gate weights are laid side by side (`[240, 4H]`
//!   for the input, `[H, 4H]` for the hidden state, `H` = [`LSTM_HIDDEN`], gates i, f, o, g
//!   in burn's visit order), the input projections of **all steps** are one matmul before
//!   the recurrence, which leaves one `[B, H] × [H, 4H]` product per step, and one sigmoid
//!   covers all four gates;
//! * the backward pass keeps the pre-activation gradients of every step and turns them
//!   into the weight gradients with **one matmul each** over all steps;
//! * the convolutions are matrix products over gathered 3×3 patches ([`Patches`]);
//! * the online pass stops at step `L − 1` when nothing reads its last output (plain DQN);
//! * the batch is cut into two halves that run side by side ([`seq_gradients`]).
//!
//! Every parameter keeps burn's own layout, so checkpoints, the fused Adam's record and the
//! acting path (burn's modules) are unchanged.

use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::linear;

use crate::learner::{Learner, UpdateStats};
use crate::manual::{
    self, Slot, affine, bootstrap_row, linear_backward, norm_backward, normalise, parameters, read,
    relu_backward,
};
use crate::recurrent::{LSTM_HIDDEN, ObsSlices, RecurrentQNetwork};
use crate::sequence::SeqBatch;

/// Number of parameter tensors of [`RecurrentQNetwork`] in visit order.
pub const PARAM_TENSORS: usize = 40;
const H: usize = LSTM_HIDDEN;
const GATES: usize = 4 * LSTM_HIDDEN;

/// A Linear layer's weight `[in, out]` and bias.
#[derive(Clone)]
struct Lin {
    w: Tensor<2>,
    b: Tensor<1>,
}

/// The recurrent net's parameters as the hand-written passes use them.
#[derive(Clone)]
pub struct RnnParams {
    /// conv1 as a matrix over 3×3 patches, `[9, 16]` (row: kernel position).
    conv1: Lin,
    /// conv2 likewise, `[9 · 16, 32]` (row: kernel position, then input channel).
    conv2: Lin,
    /// vision_fc with its rows in position-major order (`p · 32 + c`, burn's is `c · 25 + p`)
    /// to read the channels-last conv output as it lies.
    vision: Lin,
    vision_norm: (Tensor<1>, Tensor<1>),
    /// position, meters, affordance, temporal.
    encoders: [Lin; 4],
    /// `[240, 4H]`, the four gates' input weights side by side (i, f, o, g).
    w_ih: Tensor<2>,
    /// `[H, 4H]`, the hidden weights likewise.
    w_hh: Tensor<2>,
    /// `[4H]`, input plus hidden bias of each gate.
    b_gates: Tensor<1>,
    head_norm: (Tensor<1>, Tensor<1>),
    head_fc: Lin,
    head_norm2: (Tensor<1>, Tensor<1>),
    out: Lin,
    slices: ObsSlices,
}

fn conv_dims(slot: &Slot) -> [usize; 4] {
    [slot.shape[0], slot.shape[1], slot.shape[2], slot.shape[3]]
}

/// The 3×3, stride 1, padding 1 convolutions as matrix products over gathered patches
/// ("im2col"), channels last: a layer's activations are `[N · cells, C]`, row `n · cells
/// + p` for cell `p = y · side + x`.
struct Patches {
    side: usize,
}

impl Patches {
    const K: usize = 9;

    fn cells(&self) -> usize {
        self.side * self.side
    }

    /// The cell that kernel position `k` of output cell `p` reads, if inside the window.
    fn neighbour(&self, p: usize, k: usize) -> Option<usize> {
        let s = self.side as isize;
        let (y, x) = ((p / self.side) as isize, (p % self.side) as isize);
        let (ny, nx) = (y + (k / 3) as isize - 1, x + (k % 3) as isize - 1);
        (ny >= 0 && ny < s && nx >= 0 && nx < s).then(|| (ny * s + nx) as usize)
    }

    /// Columns of `[N, cells + 1]` (the window plus a zero column) that make the first
    /// layer's patches `[N, cells · 9]`.
    fn window_index(&self, device: &Device) -> Tensor<1, Int> {
        let pad = self.cells() as i64;
        let idx: Vec<i64> = (0..self.cells())
            .flat_map(|p| (0..Self::K).map(move |k| (p, k)))
            .map(|(p, k)| self.neighbour(p, k).map_or(pad, |q| q as i64))
            .collect();
        let n = idx.len();
        Tensor::from_data(TensorData::new(idx, [n]), device)
    }

    /// Rows of `[N · cells + 1, C]` (activations plus a zero row) that make the patches
    /// `[N · cells · 9, C]`.
    fn gather_index(&self, n: usize, device: &Device) -> Tensor<1, Int> {
        let cells = self.cells();
        let pad = (n * cells) as i64;
        let mut idx = Vec::with_capacity(n * cells * Self::K);
        for row in 0..n {
            for p in 0..cells {
                for k in 0..Self::K {
                    idx.push(
                        self.neighbour(p, k)
                            .map_or(pad, |q| (row * cells + q) as i64),
                    );
                }
            }
        }
        let len = idx.len();
        Tensor::from_data(TensorData::new(idx, [len]), device)
    }

    /// The transpose of [`gather_index`](Self::gather_index): for each activation row and
    /// kernel position, the patch row (`(n · cells + p) · 9 + k`) that read it, or the
    /// zero row `N · cells · 9`. Summing the gathered rows over `k` gives the gradient of
    /// the activations from the gradient of the patches.
    fn scatter_index(&self, n: usize, device: &Device) -> Tensor<1, Int> {
        let cells = self.cells();
        let pad = (n * cells * Self::K) as i64;
        let mut idx = Vec::with_capacity(n * cells * Self::K);
        for row in 0..n {
            for q in 0..cells {
                for k in 0..Self::K {
                    // the output cell p whose neighbour k is q: p = q − offset(k)
                    let src = self.neighbour(q, Self::K - 1 - k);
                    idx.push(src.map_or(pad, |p| ((row * cells + p) * Self::K + k) as i64));
                }
            }
        }
        let len = idx.len();
        Tensor::from_data(TensorData::new(idx, [len]), device)
    }
}

/// `x` with a zero column on the right.
fn pad_col(x: Tensor<2>) -> Tensor<2> {
    let [r, _] = x.dims();
    let zero = Tensor::<2>::zeros([r, 1], &x.device());
    Tensor::cat(vec![x, zero], 1)
}

/// `x` with a zero row below.
fn pad_row(x: Tensor<2>) -> Tensor<2> {
    let [_, c] = x.dims();
    let zero = Tensor::<2>::zeros([1, c], &x.device());
    Tensor::cat(vec![x, zero], 0)
}

impl RnnParams {
    /// From the flattened parameters in visit order ([`parameters`]).
    pub fn new(parts: &[Tensor<1>], slots: &[Slot], slices: &ObsSlices) -> Self {
        assert_eq!(parts.len(), PARAM_TENSORS, "recurrent net parameter count");
        let t2 = |i: usize| {
            let s = &slots[i].shape;
            parts[i].clone().reshape([s[0], s[1]])
        };
        let t4 = |i: usize| {
            let s = &slots[i].shape;
            parts[i].clone().reshape([s[0], s[1], s[2], s[3]])
        };
        let t1 = |i: usize| parts[i].clone();
        let lin = |i: usize| Lin {
            w: t2(i),
            b: t1(i + 1),
        };
        // LSTM: gate k at 16 + 4k: input weight, input bias, hidden weight, hidden bias.
        let gate = |k: usize| 16 + 4 * k;
        let w_ih = Tensor::cat((0..4).map(|k| t2(gate(k))).collect(), 1);
        let w_hh = Tensor::cat((0..4).map(|k| t2(gate(k) + 2)).collect(), 1);
        let b_gates = Tensor::cat(
            (0..4).map(|k| t1(gate(k) + 1) + t1(gate(k) + 3)).collect(),
            0,
        );
        let side = slices.side;
        let [c1, _, kh, kw] = conv_dims(&slots[0]);
        let [c2, c1_in, ..] = conv_dims(&slots[2]);
        debug_assert_eq!(c1_in, c1);
        let k = kh * kw;
        // [16, 1, 3, 3] → [9, 16]
        let w1 = t4(0).reshape([c1, k]).transpose();
        // [32, 16, 3, 3] → [32, 16, 9] → [9, 16, 32] → [144, 32]
        let w2 = t4(2)
            .reshape([c2, c1, k])
            .swap_dims(0, 2)
            .reshape([k * c1, c2]);
        let out = slots[4].shape[1];
        let cells = side * side;
        let vision_w = t2(4)
            .reshape([c2, cells, out])
            .swap_dims(0, 1)
            .reshape([cells * c2, out]);
        Self {
            conv1: Lin { w: w1, b: t1(1) },
            conv2: Lin { w: w2, b: t1(3) },
            vision: Lin {
                w: vision_w,
                b: t1(5),
            },
            vision_norm: (t1(6), t1(7)),
            encoders: [lin(8), lin(10), lin(12), lin(14)],
            w_ih,
            w_hh,
            b_gates,
            head_norm: (t1(32), t1(33)),
            head_fc: lin(34),
            head_norm2: (t1(36), t1(37)),
            out: lin(38),
            slices: slices.clone(),
        }
    }

    /// The parameters of `net` (plain or autodiff tensors as they are).
    pub fn of(net: &RecurrentQNetwork) -> Self {
        let (parts, slots) = parameters(net);
        Self::new(&parts, &slots, net.slices())
    }
}

/// What the backward pass needs from the encoder.
struct EncCache {
    /// First-layer patches `[N · cells, 9]`.
    p1: Tensor<2>,
    /// conv1 output after ReLU, `[N · cells, 16]`.
    a1: Tensor<2>,
    /// Second-layer patches `[N · cells, 144]`.
    p2: Tensor<2>,
    /// conv2 output after ReLU, `[N · cells, 32]`.
    a2: Tensor<2>,
    vision_in: Tensor<2>,
    vision_norm: (Tensor<2>, Tensor<2>),
    vision_out: Tensor<2>,
    /// Input and output (after ReLU) of each small encoder.
    small: Vec<(Tensor<2>, Tensor<2>)>,
    /// The LSTM input, `[N, 240]`.
    x: Tensor<2>,
}

/// One LSTM step's activations.
struct StepCache {
    /// `[B, 3H]`: sigmoid of the i, f, o pre-activations.
    sig: Tensor<2>,
    /// `[B, H]`: tanh of the g pre-activation.
    g: Tensor<2>,
    c_prev: Tensor<2>,
    /// `tanh(c_t)`.
    tc: Tensor<2>,
}

/// Everything the backward pass needs from one forward pass.
pub struct SeqCache {
    enc: EncCache,
    steps: Vec<StepCache>,
    /// `[T·B, H]`: the hidden state before each step (`h_{t−1}`).
    h_prev: Tensor<2>,
    head_in_norm: (Tensor<2>, Tensor<2>),
    head_y0: Tensor<2>,
    head_norm2: (Tensor<2>, Tensor<2>),
    head_a: Tensor<2>,
    batch: usize,
}

/// The encoder on `[N, D]` observations → the LSTM input `[N, 240]` and its cache.
fn encode(p: &RnnParams, obs: Tensor<2>) -> EncCache {
    let s = &p.slices;
    let n = obs.dims()[0];
    let patches = Patches { side: s.side };
    let cells = patches.cells();
    let device = obs.device();
    let window = pad_col(obs.clone().slice(s![.., s.window.clone()]));
    let p1 = window
        .select(1, patches.window_index(&device))
        .reshape([n * cells, Patches::K]);
    let a1 = relu(linear(
        p1.clone(),
        p.conv1.w.clone(),
        Some(p.conv1.b.clone()),
    ));
    let c1 = a1.dims()[1];
    let p2 = pad_row(a1.clone())
        .select(0, patches.gather_index(n, &device))
        .reshape([n * cells, Patches::K * c1]);
    let a2 = relu(linear(
        p2.clone(),
        p.conv2.w.clone(),
        Some(p.conv2.b.clone()),
    ));
    let vision_in = a2.clone().reshape([n, cells * a2.dims()[1]]);
    let z = linear(
        vision_in.clone(),
        p.vision.w.clone(),
        Some(p.vision.b.clone()),
    );
    let (xhat, rstd) = normalise(z);
    let vision_out = relu(affine(xhat.clone(), &p.vision_norm));
    let ranges = [
        s.position.clone(),
        s.meters.clone(),
        s.affordance.clone(),
        s.temporal.clone(),
    ];
    let small: Vec<(Tensor<2>, Tensor<2>)> = ranges
        .into_iter()
        .zip(&p.encoders)
        .map(|(r, l)| {
            let input = obs.clone().slice(s![.., r]);
            let out = relu(linear(input.clone(), l.w.clone(), Some(l.b.clone())));
            (input, out)
        })
        .collect();
    let mut parts = vec![vision_out.clone()];
    parts.extend(small.iter().map(|(_, o)| o.clone()));
    let x = Tensor::cat(parts, 1);
    EncCache {
        p1,
        a1,
        p2,
        a2,
        vision_in,
        vision_norm: (xhat, rstd),
        vision_out,
        small,
        x,
    }
}

/// `[1, 4H]`: 1 on the i, f, o gates, 2 on the g gate (see [`tanh_from_sigmoid`]).
fn gate_scale(device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..GATES)
        .map(|j| if j < 3 * H { 1.0 } else { 2.0 })
        .collect();
    Tensor::from_data(TensorData::new(v, [1, GATES]), device)
}

/// `tanh(x)` from `σ(2x)`: `2σ(2x) − 1`.
fn tanh_from_sigmoid(sig_2x: Tensor<2>) -> Tensor<2> {
    sig_2x.mul_scalar(2.0).add_scalar(-1.0)
}

/// Forward over `steps` time steps of `batch` windows: `obs` is `[steps · B, D]`
/// time-major, `(cell, hidden)` the start state `[B, H]` each. Returns the Q-values
/// `[steps · B, A]` (time-major) and, when `keep`, what the backward pass needs.
pub fn forward(
    p: &RnnParams,
    obs: Tensor<2>,
    batch: usize,
    start: (Tensor<2>, Tensor<2>),
    keep: bool,
) -> (Tensor<2>, Option<SeqCache>) {
    let n = obs.dims()[0];
    let steps = n / batch.max(1);
    let enc = encode(p, obs);
    let xp = linear(enc.x.clone(), p.w_ih.clone(), Some(p.b_gates.clone()));
    let (mut c, mut h) = start;
    let gate_scale = gate_scale(&xp.device());
    let mut hs = Vec::with_capacity(steps);
    let mut h_prevs = Vec::with_capacity(steps);
    let mut caches = Vec::with_capacity(if keep { steps } else { 0 });
    for t in 0..steps {
        let rows = t * batch..(t + 1) * batch;
        let gates = xp.clone().slice(s![rows, ..]) + h.clone().matmul(p.w_hh.clone());
        // One sigmoid for all four gates: tanh(x) = 2σ(2x) − 1 for the g gate (libm's
        // tanhf costs several times its expf, and the recurrence runs it on every row).
        let act = sigmoid(gates * gate_scale.clone());
        let sig = act.clone().slice(s![.., 0..3 * H]);
        let g = tanh_from_sigmoid(act.slice(s![.., 3 * H..GATES]));
        let i = sig.clone().slice(s![.., 0..H]);
        let f = sig.clone().slice(s![.., H..2 * H]);
        let o = sig.clone().slice(s![.., 2 * H..3 * H]);
        let c_new = f * c.clone() + i * g.clone();
        let tc = tanh_from_sigmoid(sigmoid(c_new.clone().mul_scalar(2.0)));
        let h_new = o * tc.clone();
        if keep {
            h_prevs.push(h);
            caches.push(StepCache {
                sig,
                g,
                c_prev: c,
                tc,
            });
        }
        hs.push(h_new.clone());
        c = c_new;
        h = h_new;
    }
    let hidden = Tensor::cat(hs, 0);
    let (xhat0, rstd0) = normalise(hidden);
    let y0 = affine(xhat0.clone(), &p.head_norm);
    let z1 = linear(y0.clone(), p.head_fc.w.clone(), Some(p.head_fc.b.clone()));
    let (xhat1, rstd1) = normalise(z1);
    let a = relu(affine(xhat1.clone(), &p.head_norm2));
    let q = linear(a.clone(), p.out.w.clone(), Some(p.out.b.clone()));
    let cache = keep.then(|| SeqCache {
        enc,
        steps: caches,
        h_prev: Tensor::cat(h_prevs, 0),
        head_in_norm: (xhat0, rstd0),
        head_y0: y0,
        head_norm2: (xhat1, rstd1),
        head_a: a,
        batch,
    });
    (q, cache)
}

/// Backward from `dq` (`[T·B, A]`, the loss gradient of the Q-values): the gradient of
/// every parameter, flattened, in burn's visit order (the start state is not trained).
pub fn backward(p: &RnnParams, cache: SeqCache, dq: Tensor<2>) -> Vec<Tensor<1>> {
    let SeqCache {
        enc,
        steps,
        h_prev,
        head_in_norm,
        head_y0,
        head_norm2,
        head_a,
        batch,
    } = cache;
    // Head.
    let (d_out_w, d_out_b, da) = linear_backward(dq, head_a.clone(), &p.out.w, true);
    let d = relu_backward(da.expect("dx"), head_a.clone());
    let (d, d_n2_g, d_n2_b) = norm_backward(d, head_norm2, &p.head_norm2.0);
    let (d_fc_w, d_fc_b, dy0) = linear_backward(d, head_y0, &p.head_fc.w, true);
    let (dh_all, d_n0_g, d_n0_b) = norm_backward(dy0.expect("dx"), head_in_norm, &p.head_norm.0);

    // LSTM, last step first.
    let t_len = steps.len();
    let mut d_gates: Vec<Tensor<2>> = Vec::with_capacity(t_len);
    let mut dh_next: Option<Tensor<2>> = None;
    let mut dc_next: Option<Tensor<2>> = None;
    let w_hh_t = p.w_hh.clone().transpose();
    for (t, st) in steps.into_iter().enumerate().rev() {
        let rows = t * batch..(t + 1) * batch;
        let mut dh = dh_all.clone().slice(s![rows, ..]);
        if let Some(x) = dh_next.take() {
            dh = dh + x;
        }
        let i = st.sig.clone().slice(s![.., 0..H]);
        let f = st.sig.clone().slice(s![.., H..2 * H]);
        let o = st.sig.clone().slice(s![.., 2 * H..3 * H]);
        // h = o · tanh(c): dc += dh · o · (1 − tanh²c)
        let mut dc = dh.clone() * o * st.tc.clone().square().neg().add_scalar(1.0);
        if let Some(x) = dc_next.take() {
            dc = dc + x;
        }
        // Gradients at the gate outputs, side by side as the gates are: i, f, o, g.
        let d_act = Tensor::cat(
            vec![
                dc.clone() * st.g.clone(),
                dc.clone() * st.c_prev,
                dh * st.tc,
                dc.clone() * i,
            ],
            1,
        );
        dc_next = Some(dc * f);
        // Through the activations: σ' = σ(1 − σ), tanh' = 1 − tanh².
        let sig_prime = st.sig.clone() * st.sig.neg().add_scalar(1.0);
        let tanh_prime = st.g.square().neg().add_scalar(1.0);
        let dg = d_act * Tensor::cat(vec![sig_prime, tanh_prime], 1);
        if t > 0 {
            dh_next = Some(dg.clone().matmul(w_hh_t.clone()));
        }
        d_gates.push(dg);
    }
    d_gates.reverse();
    let dg = Tensor::cat(d_gates, 0);
    let [d_in, _] = p.w_ih.dims();
    let d_w_ih = enc.x.clone().transpose().matmul(dg.clone());
    let d_w_hh = h_prev.transpose().matmul(dg.clone());
    let d_b = dg.clone().sum_dim(0).reshape([GATES]);
    let dx = dg.matmul(p.w_ih.clone().transpose());

    // Encoders: split the LSTM input's gradient.
    let vision_width = enc.vision_out.dims()[1];
    let mut at = vision_width;
    let dv = dx.clone().slice(s![.., 0..vision_width]);
    let mut small_grads = Vec::with_capacity(8);
    for ((input, out), l) in enc.small.into_iter().zip(&p.encoders) {
        let w = out.dims()[1];
        let d = relu_backward(dx.clone().slice(s![.., at..at + w]), out.clone());
        at += w;
        let (dw, db, _) = linear_backward(d, input, &l.w, false);
        small_grads.push(dw);
        small_grads.push(db);
    }
    let d = relu_backward(dv, enc.vision_out.clone());
    let (d, d_vn_g, d_vn_b) = norm_backward(d, enc.vision_norm, &p.vision_norm.0);
    let (d_vis_w, d_vis_b, d_a2) = linear_backward(d, enc.vision_in, &p.vision.w, true);
    let (c1, c2) = (enc.a1.dims()[1], enc.a2.dims()[1]);
    let rows = enc.a2.dims()[0];
    let d_z2 = relu_backward(d_a2.expect("dx").reshape([rows, c2]), enc.a2.clone());
    let (d_c2_w, d_c2_b, d_p2) = linear_backward(d_z2, enc.p2, &p.conv2.w, true);
    // Patches back to activations: each activation row sums the patch rows that read it.
    let patches = Patches {
        side: p.slices.side,
    };
    let cells = patches.cells();
    let device = enc.a1.device();
    let d_a1 = pad_row(d_p2.expect("dx").reshape([rows * Patches::K, c1]))
        .select(0, patches.scatter_index(rows / cells, &device))
        .reshape([rows, Patches::K, c1])
        .sum_dim(1)
        .reshape([rows, c1]);
    let d_z1 = relu_backward(d_a1, enc.a1.clone());
    let (d_c1_w, d_c1_b, _) = linear_backward(d_z1, enc.p1, &p.conv1.w, false);
    // Back to burn's layouts: conv1 [16, 1, 3, 3], conv2 [32, 16, 3, 3], vision_fc rows
    // channel-major.
    let k = Patches::K;
    let d_c1_w = d_c1_w.reshape([k, c1]).transpose().reshape([c1 * k]);
    let d_c2_w = d_c2_w
        .reshape([k, c1, c2])
        .swap_dims(0, 2)
        .reshape([c2 * c1 * k]);
    let vis_out = p.vision.w.dims()[1];
    let d_vis_w = d_vis_w
        .reshape([cells, c2, vis_out])
        .swap_dims(0, 1)
        .reshape([cells * c2 * vis_out]);

    let mut grads = vec![
        d_c1_w, d_c1_b, d_c2_w, d_c2_b, d_vis_w, d_vis_b, d_vn_g, d_vn_b,
    ];
    grads.extend(small_grads);
    for k in 0..4 {
        let cols = k * H..(k + 1) * H;
        let db = d_b.clone().slice(s![cols.clone()]);
        grads.push(
            d_w_ih
                .clone()
                .slice(s![.., cols.clone()])
                .reshape([d_in * H]),
        );
        grads.push(db.clone());
        grads.push(d_w_hh.clone().slice(s![.., cols]).reshape([H * H]));
        grads.push(db);
    }
    grads.extend([
        d_n0_g, d_n0_b, d_fc_w, d_fc_b, d_n2_g, d_n2_b, d_out_w, d_out_b,
    ]);
    grads
}

/// `[B, L + 1, D]` batch-major rows → `[(L + 1) · B, D]` time-major.
fn time_major(src: &[f32], b: usize, t: usize, d: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(src.len());
    for k in 0..t {
        for i in 0..b {
            let at = (i * t + k) * d;
            out.extend_from_slice(&src[at..at + d]);
        }
    }
    out
}

/// The parameters and hand-written loss gradients of one sequence batch.
pub struct SeqGradients {
    pub params: Vec<Tensor<1>>,
    pub grads: Vec<Tensor<1>>,
    pub slots: Vec<Slot>,
    pub stats: UpdateStats,
}

/// One half of a batch's windows on its way through the update.
struct Half {
    /// Windows `first..first + len` of the batch.
    first: usize,
    len: usize,
    /// The online Q-values `[steps · len, A]`, time-major within the half.
    q: Vec<f32>,
    q_target: Vec<f32>,
    cache: SeqCache,
}

/// The loss gradients of the recurrent online net for one batch of windows — the
/// hand-written counterpart of the autodiff update, exposed for the gradient tests.
///
/// The windows are cut in two halves that go through the forward and backward passes
/// side by side (`rayon::join`: in parallel when the compute pool has two threads, one
/// after the other otherwise); the halves' gradients are added in a fixed order, so the
/// result is the same whatever the thread count.
pub fn seq_gradients(l: &Learner<RecurrentQNetwork>, batch: &SeqBatch) -> SeqGradients {
    let (b, len, d, a) = (batch.batch, batch.seq_len, l.obs_dim, l.action_dim);
    let start = crate::recurrent::state_from_flat(batch.start_state.clone(), b, &l.base);
    let online_start = l.burn_in(&l.policy, batch, start.clone());
    let target_start = l.burn_in(&l.target, batch, start);
    let double = l.settings.double_dqn;
    // The online pass needs step L only for double DQN's greedy action.
    let online_steps = if double { len + 1 } else { len };
    let (parts, slots) = parameters(&l.online);
    let p = RnnParams::new(&parts, &slots, l.online.slices());
    let target = RnnParams::of(&l.target);
    let cut = if b >= 2 { b / 2 } else { b };
    let halves = [(0, cut), (cut, b - cut)];
    let run = |(first, n): (usize, usize)| {
        let rows = first..first + n;
        let obs = time_major(&batch.obs[first * (len + 1) * d..], n, len + 1, d);
        let obs = Tensor::<2>::from_data(TensorData::new(obs, [(len + 1) * n, d]), &l.base);
        let state = |s: &burn::nn::LstmState<2>| {
            (
                s.cell.clone().slice(s![rows.clone(), ..]),
                s.hidden.clone().slice(s![rows.clone(), ..]),
            )
        };
        let (q, cache) = forward(
            &p,
            obs.clone().slice(s![0..online_steps * n, ..]),
            n,
            state(&online_start),
            true,
        );
        let (q_target, _) = forward(&target, obs, n, state(&target_start), false);
        Half {
            first,
            len: n,
            q: read(q),
            q_target: read(q_target),
            cache: cache.expect("kept"),
        }
    };
    let (h0, h1) = if halves[1].1 == 0 {
        (run(halves[0]), None)
    } else {
        let (x, y) = rayon::join(|| run(halves[0]), || run(halves[1]));
        (x, Some(y))
    };
    // TD terms in Rust, rows in the halves' order (time-major within each half).
    let rows = len * b;
    let mut q_rows = Vec::with_capacity(rows * a);
    let mut actions = Vec::with_capacity(rows);
    let mut reward = Vec::with_capacity(rows);
    let mut terminal = Vec::with_capacity(rows);
    let mut v_next = Vec::with_capacity(rows);
    for h in std::iter::once(&h0).chain(h1.as_ref()) {
        q_rows.extend_from_slice(&h.q[..len * h.len * a]);
        for t in 0..len {
            for i in 0..h.len {
                let k = (h.first + i) * len + t;
                actions.push(batch.action[k]);
                reward.push(batch.reward[k]);
                terminal.push(batch.terminal[k]);
                let next = ((t + 1) * h.len + i) * a..((t + 1) * h.len + i + 1) * a;
                v_next.push(bootstrap_row(
                    &h.q_target[next.clone()],
                    double.then(|| &h.q[next]),
                ));
            }
        }
    }
    let (dq, stats) =
        manual::td_gradient(&l.settings, &q_rows, &actions, &v_next, &reward, &terminal);
    let back = |h: Half, at: usize| {
        let n = h.len;
        let mut dq_h = dq[at..at + len * n * a].to_vec();
        dq_h.resize(online_steps * n * a, 0.0);
        let dq_h = Tensor::<2>::from_data(TensorData::new(dq_h, [online_steps * n, a]), &l.base);
        backward(&p, h.cache, dq_h)
    };
    let split = len * h0.len * a;
    let grads = match h1 {
        None => back(h0, 0),
        Some(h1) => {
            let (g0, g1) = rayon::join(|| back(h0, 0), || back(h1, split));
            g0.into_iter().zip(g1).map(|(x, y)| x + y).collect()
        }
    };
    SeqGradients {
        params: parts,
        grads,
        slots,
        stats,
    }
}

/// One sequence update with hand-written gradients, global-norm clipping and the fused Adam.
pub(crate) fn seq_update(l: &mut Learner<RecurrentQNetwork>, batch: &SeqBatch) -> UpdateStats {
    let SeqGradients {
        params,
        grads,
        slots,
        stats,
    } = seq_gradients(l, batch);
    manual::apply_flat(l, params, grads, &slots, stats)
}
