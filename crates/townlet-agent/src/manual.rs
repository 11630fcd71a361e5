//! Hand-written gradients for the feed-forward nets (docs/training.md#hand-written-gradients):
//! the forward pass keeps what the backward pass needs, the backward pass is written out
//! with burn tensor operations on the plain device (no autodiff graph), and the gradients
//! of all parameters land in one flat buffer that one fused Adam step
//! ([`FlatAdam`](crate::flat_adam::FlatAdam)) updates.
//!
//! A net is a stack of [`Layer`]s: `Linear`, optionally `LayerNorm`, optionally `ReLU`.
//! [`SimpleQNetwork`](crate::qnet::SimpleQNetwork) is (Linear, LayerNorm, ReLU) × 2 +
//! Linear; [`RndNet`](crate::rnd::RndNet) is (Linear, ReLU) × 2 + Linear. Their parameters
//! in burn's visit order are, per layer, `weight, bias[, gamma, beta]` — the order the
//! flat buffer uses.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::linear;
use townlet_config::LossKind;

use crate::flat_adam::FlatAdam;
use crate::learner::{Learner, LearnerSettings, UpdateStats};
use crate::qnet::SimpleQNetwork;
use crate::replay::Batch;
use crate::rnd::RndNet;

/// burn's `LayerNormConfig` default, which both nets use.
pub(crate) const LN_EPS: f32 = 1e-5;

/// Where one parameter lies in the flat buffer (burn's visit order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub id: ParamId,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub len: usize,
}

/// The parameters of `module`, each flattened, in visit order, with their slots. The
/// tensors are taken as they are (plain for a plain module).
pub fn parameters<M: Module>(module: &M) -> (Vec<Tensor<1>>, Vec<Slot>) {
    struct Collect {
        parts: Vec<Tensor<1>>,
        slots: Vec<Slot>,
        offset: usize,
    }
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let t = p.val();
            let shape = t.dims().to_vec();
            let len = shape.iter().product();
            self.parts.push(t.reshape([len]));
            self.slots.push(Slot {
                id: p.id,
                shape,
                offset: self.offset,
                len,
            });
            self.offset += len;
        }
    }
    let mut c = Collect {
        parts: Vec::new(),
        slots: Vec::new(),
        offset: 0,
    };
    module.visit(&mut c);
    (c.parts, c.slots)
}

/// `module` with its parameters replaced, in visit order, by the pieces of `flat` (ids
/// kept, so optimizer state and checkpoints still match).
pub fn with_flat_parameters<M: Module>(module: M, flat: Tensor<1>, slots: &[Slot]) -> M {
    struct Put {
        parts: std::vec::IntoIter<Tensor<1>>,
    }
    impl ModuleMapper for Put {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
            match self.parts.next() {
                Some(t) => p.map(|old| t.reshape(old.dims())),
                None => p,
            }
        }
    }
    let sizes = slots.iter().map(|s| s.len).collect();
    let parts = flat.split_with_sizes(sizes, 0);
    module.map(&mut Put {
        parts: parts.into_iter(),
    })
}

/// One layer of a hand-differentiated MLP.
pub struct Layer {
    pub w: Tensor<2>,
    pub b: Tensor<1>,
    /// LayerNorm's gamma and beta, when the layer has one.
    pub norm: Option<(Tensor<1>, Tensor<1>)>,
    pub relu: bool,
}

/// What the backward pass of one layer needs from the forward pass.
pub struct LayerCache {
    input: Tensor<2>,
    /// Normalised pre-activation and `1 / sqrt(var + eps)` per row.
    norm: Option<(Tensor<2>, Tensor<2>)>,
    /// The layer's output (after ReLU), whose sign is the ReLU mask.
    out: Option<Tensor<2>>,
}

/// The layer shape of a net: for each layer, (has LayerNorm, has ReLU).
pub type Shape = [(bool, bool)];

/// [`SimpleQNetwork`](crate::qnet::SimpleQNetwork)'s layer shape.
pub const Q_SHAPE: &Shape = &[(true, true), (true, true), (false, false)];
/// [`RndNet`](crate::rnd::RndNet)'s layer shape.
pub const RND_SHAPE: &Shape = &[(false, true), (false, true), (false, false)];

/// The layers of a net from its flattened parameters in visit order.
pub fn layers(parts: &[Tensor<1>], slots: &[Slot], shape: &Shape) -> Vec<Layer> {
    let mut i = 0;
    shape
        .iter()
        .map(|&(has_norm, relu)| {
            let ws = &slots[i];
            let w = parts[i].clone().reshape([ws.shape[0], ws.shape[1]]);
            let b = parts[i + 1].clone();
            let norm = has_norm.then(|| (parts[i + 2].clone(), parts[i + 3].clone()));
            i += if has_norm { 4 } else { 2 };
            Layer { w, b, norm, relu }
        })
        .collect()
}

/// Forward pass keeping the caches of [`backward`].
pub fn forward_train(layers: &[Layer], x: Tensor<2>) -> (Tensor<2>, Vec<LayerCache>) {
    let mut caches = Vec::with_capacity(layers.len());
    let mut h = x;
    for l in layers {
        let input = h;
        let z = linear(input.clone(), l.w.clone(), Some(l.b.clone()));
        let (z, norm) = match &l.norm {
            Some(norm) => {
                let (xhat, rstd) = normalise(z);
                (affine(xhat.clone(), norm), Some((xhat, rstd)))
            }
            None => (z, None),
        };
        let out = if l.relu { relu(z) } else { z };
        h = out.clone();
        caches.push(LayerCache {
            input,
            norm,
            out: l.relu.then_some(out),
        });
    }
    (h, caches)
}

/// Plain forward pass (acting, targets): the same arithmetic as [`forward_train`].
pub fn forward(layers: &[Layer], x: Tensor<2>) -> Tensor<2> {
    forward_train(layers, x).0
}

/// `(z − mean) / sqrt(var + eps)` per row (biased variance, as burn's LayerNorm), and
/// `1 / sqrt(var + eps)` as `[rows, 1]`.
pub(crate) fn normalise(z: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let mean = z.clone().mean_dim(1);
    let centred = z - mean;
    let var = centred.clone().square().mean_dim(1);
    let rstd = var.add_scalar(LN_EPS).sqrt().recip();
    (centred * rstd.clone(), rstd)
}

/// LayerNorm's `x̂ · γ + β`.
pub(crate) fn affine(xhat: Tensor<2>, (gamma, beta): &(Tensor<1>, Tensor<1>)) -> Tensor<2> {
    xhat * gamma.clone().unsqueeze_dim::<2>(0) + beta.clone().unsqueeze_dim::<2>(0)
}

/// LayerNorm backward from what [`normalise`] returned: `(d_input, d_gamma, d_beta)`.
pub(crate) fn norm_backward(
    d: Tensor<2>,
    (xhat, rstd): (Tensor<2>, Tensor<2>),
    gamma: &Tensor<1>,
) -> (Tensor<2>, Tensor<1>, Tensor<1>) {
    let n = gamma.dims()[0];
    let d_gamma = (d.clone() * xhat.clone()).sum_dim(0).reshape([n]);
    let d_beta = d.clone().sum_dim(0).reshape([n]);
    let dxhat = d * gamma.clone().unsqueeze_dim::<2>(0);
    let m1 = dxhat.clone().mean_dim(1);
    let m2 = (dxhat.clone() * xhat.clone()).mean_dim(1);
    ((dxhat - m1 - xhat * m2) * rstd, d_gamma, d_beta)
}

/// `(dW, db, dx)` of a Linear layer with weight `w` (`[in, out]`) from the gradient of its
/// output; `dx` only when `want_dx`.
pub(crate) fn linear_backward(
    d: Tensor<2>,
    input: Tensor<2>,
    w: &Tensor<2>,
    want_dx: bool,
) -> (Tensor<1>, Tensor<1>, Option<Tensor<2>>) {
    let [i, o] = w.dims();
    let dw = input.transpose().matmul(d.clone()).reshape([i * o]);
    let db = d.clone().sum_dim(0).reshape([o]);
    let dx = want_dx.then(|| d.matmul(w.clone().transpose()));
    (dw, db, dx)
}

/// The gradient through a ReLU from its output: `d` where `out > 0`, else 0.
pub(crate) fn relu_backward<const D: usize>(d: Tensor<D>, out: Tensor<D>) -> Tensor<D> {
    d * out.greater_elem(0.0).float()
}

/// Backward pass from `d_out` (the loss gradient of the net's output): the gradient of
/// every parameter, flattened, in visit order.
pub fn backward(layers: &[Layer], caches: Vec<LayerCache>, d_out: Tensor<2>) -> Vec<Tensor<1>> {
    let mut grads: Vec<Vec<Tensor<1>>> = Vec::with_capacity(layers.len());
    let mut d = d_out;
    for (k, (l, c)) in layers.iter().zip(caches).enumerate().rev() {
        if let Some(out) = c.out {
            d = relu_backward(d, out);
        }
        let mut g_norm = None;
        if let (Some((gamma, _)), Some(norm)) = (&l.norm, c.norm) {
            let (dz, d_gamma, d_beta) = norm_backward(d, norm, gamma);
            d = dz;
            g_norm = Some((d_gamma, d_beta));
        }
        let (dw, db, dx) = linear_backward(d, c.input, &l.w, k != 0);
        let mut g = vec![dw, db];
        if let Some((dg, dbeta)) = g_norm {
            g.push(dg);
            g.push(dbeta);
        }
        grads.push(g);
        match dx {
            Some(dx) => d = dx,
            None => break,
        }
    }
    grads.into_iter().rev().flatten().collect()
}

/// The TD part of an update in plain Rust, from the online values `q` (`[B, A]`, row-major)
/// and the bootstrap values: the loss gradient with respect to `q` (zero except at the
/// actions taken) and the statistics. Same formulas as
/// [`td_update`](crate::learner::td_update): `y = r + γ (1 − term) v'`, MSE or Huber (mean).
pub(crate) fn td_gradient(
    s: &LearnerSettings,
    q: &[f32],
    actions: &[i64],
    v_next: &[f32],
    reward: &[f32],
    terminal: &[f32],
) -> (Vec<f32>, UpdateStats) {
    let b = actions.len();
    let a = q.len() / b.max(1);
    let n = b as f32;
    let mut dq = vec![0.0f32; q.len()];
    let (mut loss, mut td_abs, mut q_sum) = (0.0f64, 0.0f64, 0.0f64);
    let rows = actions.iter().zip(v_next).zip(reward).zip(terminal);
    for (i, (((&act, &v), &r), &term)) in rows.enumerate() {
        let k = i * a + act as usize;
        let q_sa = q[k];
        let y = r + v * (1.0 - term) * s.gamma;
        let diff = q_sa - y;
        td_abs += f64::from(diff.abs());
        q_sum += f64::from(q_sa);
        match s.loss {
            LossKind::Mse => {
                loss += f64::from(diff * diff);
                dq[k] = 2.0 * diff / n;
            }
            LossKind::Huber => {
                let delta = s.huber_delta;
                loss += f64::from(if diff.abs() > delta {
                    delta * diff.abs() - 0.5 * delta * delta
                } else {
                    0.5 * diff * diff
                });
                dq[k] = diff.clamp(-delta, delta) / n;
            }
        }
    }
    let stats = UpdateStats {
        loss: (loss / f64::from(n)) as f32,
        td_abs_mean: (td_abs / f64::from(n)) as f32,
        q_mean: (q_sum / f64::from(n)) as f32,
        grad_norm: 0.0,
    };
    (dq, stats)
}

pub(crate) fn read(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap_or_default()
}

/// First maximum (burn's `argmax` on ties).
pub(crate) fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (j, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = j;
        }
    }
    best
}

/// The bootstrap value of one row: the target's max, or (double DQN) the target's value
/// of the online net's greedy action.
pub(crate) fn bootstrap_row(target: &[f32], online: Option<&[f32]>) -> f32 {
    match online {
        Some(o) => target[argmax(o)],
        None => target.iter().copied().fold(f32::NEG_INFINITY, f32::max),
    }
}

/// [`bootstrap_row`] of every row.
fn bootstrap(q_target: &[f32], q_online: Option<&[f32]>, a: usize) -> Vec<f32> {
    q_target
        .chunks_exact(a)
        .enumerate()
        .map(|(i, row)| bootstrap_row(row, q_online.map(|o| &o[i * a..(i + 1) * a])))
        .collect()
}

/// The target net's bootstrap values `max_a Q_target(next_obs, a)` of a batch (not for
/// double DQN, whose values also need the online net as the update sees it): what
/// [`dqn_gradients`] computes first, done ahead on the agent's thread when updates overlap
/// acting (docs/training.md#overlapped-updates).
pub(crate) fn target_bootstrap(l: &Learner<SimpleQNetwork>, batch: &Batch) -> Vec<f32> {
    let b = batch.action.len();
    let next = Tensor::<2>::from_data(
        TensorData::new(batch.next_obs.clone(), [b, l.obs_dim]),
        &l.base,
    );
    bootstrap(&read(l.target.forward(next)), None, l.action_dim)
}

/// The parameters and hand-written loss gradients of one DQN batch.
pub struct DqnGradients {
    /// The online net's parameters, flattened, in visit order.
    pub params: Vec<Tensor<1>>,
    /// Their gradients, same order and sizes.
    pub grads: Vec<Tensor<1>>,
    pub slots: Vec<Slot>,
    /// The update's statistics; `grad_norm` is filled in by the caller.
    pub stats: UpdateStats,
}

/// The loss gradients of a [`SimpleQNetwork`]'s parameters for one replay batch — the
/// hand-written counterpart of autodiff's backward pass, exposed for the gradient tests.
pub fn dqn_gradients(l: &Learner<SimpleQNetwork>, batch: &Batch) -> DqnGradients {
    let b = batch.action.len();
    let (d, a) = (l.obs_dim, l.action_dim);
    let (parts, slots) = parameters(&l.online);
    let net = layers(&parts, &slots, Q_SHAPE);
    let obs = Tensor::<2>::from_data(TensorData::new(batch.obs.clone(), [b, d]), &l.base);
    let (q, caches) = forward_train(&net, obs);
    let v_next = match &batch.bootstrap {
        Some(v) if !l.settings.double_dqn => v.clone(),
        _ => {
            let next =
                Tensor::<2>::from_data(TensorData::new(batch.next_obs.clone(), [b, d]), &l.base);
            let q_online_next = l
                .settings
                .double_dqn
                .then(|| read(forward(&net, next.clone())));
            let q_target = read(l.target.forward(next));
            bootstrap(&q_target, q_online_next.as_deref(), a)
        }
    };
    let (dq, stats) = td_gradient(
        &l.settings,
        &read(q),
        &batch.action,
        &v_next,
        &batch.reward,
        &batch.terminal,
    );
    let dq = Tensor::<2>::from_data(TensorData::new(dq, [b, a]), &l.base);
    let grads = backward(&net, caches, dq);
    DqnGradients {
        params: parts,
        grads,
        slots,
        stats,
    }
}

/// One DQN update with hand-written gradients: gradients, global-norm clipping and one
/// fused Adam step over the flat parameter buffer; the acting snapshot follows.
pub(crate) fn dqn_update(l: &mut Learner<SimpleQNetwork>, batch: &Batch) -> UpdateStats {
    let DqnGradients {
        params,
        grads,
        slots,
        stats,
    } = dqn_gradients(l, batch);
    apply_flat(l, params, grads, &slots, stats)
}

/// The L2 norm of a flat gradient. A large buffer is summed in two halves side by side
/// (`rayon::join`), always cut at the same place, so the value does not depend on the
/// thread count.
fn global_norm(grad: &Tensor<1>) -> f32 {
    let n = grad.dims()[0];
    let sq = |t: Tensor<1>| f64::from(t.square().sum().into_scalar::<f32>());
    let total = if n >= 4 * crate::flat_adam::CHUNK {
        let (a, b) = rayon::join(
            || sq(grad.clone().slice(s![0..n / 2])),
            || sq(grad.clone().slice(s![n / 2..n])),
        );
        a + b
    } else {
        sq(grad.clone())
    };
    total.sqrt() as f32
}

/// The end of every hand-written update: the global norm of `grads` (into
/// `stats.grad_norm`), clipping, one fused Adam step over the flat buffer of `params`, and
/// the stepped parameters written back into the online net and the acting snapshot.
pub(crate) fn apply_flat<N: Module + Clone>(
    l: &mut Learner<N>,
    params: Vec<Tensor<1>>,
    grads: Vec<Tensor<1>>,
    slots: &[Slot],
    mut stats: UpdateStats,
) -> UpdateStats {
    let grad = Tensor::cat(grads, 0);
    let norm = global_norm(&grad);
    let max = l.settings.max_grad_norm;
    let grad = if norm > max {
        grad.mul_scalar(max / (norm + 1e-6))
    } else {
        grad
    };
    stats.grad_norm = norm;
    let lr = l.settings.lr;
    let params = Tensor::cat(params, 0);
    let Some(adam) = l.flat.as_mut() else {
        return stats;
    };
    let params = adam.step(lr, params, grad);
    let online = std::mem::replace(&mut l.online, l.policy.clone());
    l.online = with_flat_parameters(online, params, slots);
    l.policy = l.online.clone();
    stats
}

/// The hand-written gradients of RND's loss `mean((predictor(x) − target)²)` for the
/// plain `predictor`, flattened in visit order, and the loss.
pub fn rnd_gradients(predictor: &RndNet, x: Tensor<2>, target: Tensor<2>) -> (Vec<Tensor<1>>, f32) {
    let (parts, slots) = parameters(predictor);
    let (grads, loss) = rnd_pass(&parts, &slots, x, target);
    (grads, loss)
}

fn rnd_pass(
    parts: &[Tensor<1>],
    slots: &[Slot],
    x: Tensor<2>,
    target: Tensor<2>,
) -> (Vec<Tensor<1>>, f32) {
    let net = layers(parts, slots, RND_SHAPE);
    let (pred, caches) = forward_train(&net, x);
    let n = pred.shape().num_elements() as f32;
    let diff = pred - target;
    let loss = diff.clone().square().mean().into_scalar::<f32>();
    let grads = backward(&net, caches, diff.mul_scalar(2.0 / n));
    (grads, loss)
}

/// One RND predictor update with hand-written gradients and the fused Adam: returns the
/// stepped (plain) predictor and the loss.
pub(crate) fn rnd_update(
    predictor: RndNet,
    adam: &mut FlatAdam,
    lr: f64,
    x: Tensor<2>,
    target: Tensor<2>,
) -> (RndNet, f32) {
    let (parts, slots) = parameters(&predictor);
    let (grads, loss) = rnd_pass(&parts, &slots, x, target);
    let params = adam.step(lr, Tensor::cat(parts, 0), Tensor::cat(grads, 0));
    (with_flat_parameters(predictor, params, &slots), loss)
}
