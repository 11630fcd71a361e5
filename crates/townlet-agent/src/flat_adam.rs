//! Adam over one flat parameter buffer (docs/training.md#hand-written-gradients): the same
//! update as burn's `Adam` (β₁ 0.9, β₂ 0.999, `adam_epsilon`, no weight decay), written as a
//! handful of burn tensor operations on the whole buffer instead of a handful per
//! parameter tensor.
//!
//! Its state converts to and from burn's optimizer record (the burnpack blob a checkpoint
//! keeps under `agent/q_optim` / `agent/rnd_optim`), so checkpoints keep their format and a
//! run resumes exactly whichever gradient path wrote or reads them.

use crate::manual::Slot;
use burn::prelude::*;
use burn_pack::{Reader, Scalar, Writer};

const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;

/// Elements per piece of the buffer that the step's operations run on one after another:
/// 32 Ki floats (128 KiB) keep a piece's parameters, gradient, moments and temporaries in
/// the core's L2 cache. An MLP (≈ 30 k parameters) is one piece; the recurrent net
/// (≈ 316 k) ten. Adam is element-wise, so the pieces change no result.
pub const CHUNK: usize = 1 << 15;

/// Adam's moments for a flat buffer; `None` before the first step.
#[derive(Clone, Debug)]
pub struct FlatAdam {
    epsilon: f32,
    state: Option<Moments>,
}

#[derive(Clone, Debug)]
struct Moments {
    time: usize,
    /// One tensor per [`CHUNK`]-sized piece of the buffer.
    m: Vec<Tensor<1>>,
    v: Vec<Tensor<1>>,
}

/// The pieces of a buffer of `total` elements.
fn pieces(total: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..total.div_ceil(CHUNK)).map(move |k| k * CHUNK..((k + 1) * CHUNK).min(total))
}

/// Why an optimizer record could not become a [`FlatAdam`].
#[derive(Debug, thiserror::Error)]
pub enum FlatAdamError {
    #[error("the optimizer record is not a readable burnpack blob")]
    Pack(#[source] burn_pack::Error),
    #[error("the optimizer record has state for {have} of the net's {want} parameters")]
    Partial { have: usize, want: usize },
    #[error("the optimizer record's entry `{0}` is missing or malformed")]
    Entry(String),
}

impl FlatAdam {
    pub fn new(adam_epsilon: f64) -> Self {
        Self {
            epsilon: adam_epsilon as f32,
            state: None,
        }
    }

    /// The ε of the denominator, as configured.
    pub fn epsilon(&self) -> f64 {
        f64::from(self.epsilon)
    }

    /// Number of steps taken.
    pub fn time(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.time)
    }

    /// One Adam step: returns `params − lr · m̂ / (√v̂ + ε)` with burn's arithmetic order,
    /// piece by piece ([`CHUNK`]).
    pub fn step(&mut self, lr: f64, params: Tensor<1>, grad: Tensor<1>) -> Tensor<1> {
        let total = params.dims()[0];
        let (time, old) = match self.state.take() {
            Some(s) => (s.time + 1, Some((s.m, s.v))),
            None => (1, None),
        };
        let t = time as i32;
        let bc2_sqrt = (1.0 - BETA_2.powi(t)).sqrt();
        let factor = bc2_sqrt / (1.0 - BETA_1.powi(t));
        let eps = self.epsilon * bc2_sqrt;
        let ranges: Vec<_> = pieces(total).collect();
        let olds: Vec<Option<(Tensor<1>, Tensor<1>)>> = match old {
            Some((m, v)) => m.into_iter().zip(v).map(Some).collect(),
            None => vec![None; ranges.len()],
        };
        let work: Vec<_> = ranges.into_iter().zip(olds).collect();
        let piece = |(r, old): (std::ops::Range<usize>, Option<(Tensor<1>, Tensor<1>)>)| {
            let g = grad.clone().slice(s![r.clone()]);
            let (m, v) = match old {
                Some((m, v)) => (
                    m.mul_scalar(BETA_1).add(g.clone().mul_scalar(1.0 - BETA_1)),
                    v.mul_scalar(BETA_2)
                        .add(g.square().mul_scalar(1.0 - BETA_2)),
                ),
                None => (
                    g.clone().mul_scalar(1.0 - BETA_1),
                    g.square().mul_scalar(1.0 - BETA_2),
                ),
            };
            let update = m
                .clone()
                .mul_scalar(factor)
                .div(v.clone().sqrt().add_scalar(eps));
            (params.clone().slice(s![r]) - update.mul_scalar(lr), m, v)
        };
        let run = |w: Vec<_>| w.into_iter().map(piece).collect::<Vec<_>>();
        // The pieces are independent: two halves side by side when the compute pool has two
        // threads (a large net); the result is the same either way.
        let done = if work.len() >= 4 {
            let mut first = work;
            let second = first.split_off(first.len() / 2);
            let (mut a, b) = rayon::join(|| run(first), || run(second));
            a.extend(b);
            a
        } else {
            run(work)
        };
        let (mut ms, mut vs, mut out) = (Vec::new(), Vec::new(), Vec::new());
        for (p, m, v) in done {
            out.push(p);
            ms.push(m);
            vs.push(v);
        }
        self.state = Some(Moments { time, m: ms, v: vs });
        if out.len() == 1 {
            out.pop().unwrap_or(params)
        } else {
            Tensor::cat(out, 0)
        }
    }

    /// The state as burn's `ModuleOptimizer` would record it for a module whose
    /// parameters are `slots` (burnpack bytes).
    pub fn to_record_bytes(&self, slots: &[Slot]) -> Result<Vec<u8>, FlatAdamError> {
        let mut tensors = Vec::new();
        let mut writer_scalars = Vec::new();
        if let Some(s) = &self.state {
            let m = Tensor::cat(s.m.clone(), 0).into_data();
            let v = Tensor::cat(s.v.clone(), 0).into_data();
            let m = m.as_slice::<f32>().map_err(|_| entry("moment_1"))?;
            let v = v.as_slice::<f32>().map_err(|_| entry("moment_2"))?;
            for slot in slots {
                let id = slot.id.val();
                let range = slot.offset..slot.offset + slot.len;
                for (name, data) in [("moment_1", &m[range.clone()]), ("moment_2", &v[range])] {
                    let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
                    tensors.push(burn_pack::Tensor::new(
                        format!("{id}.momentum.{name}"),
                        burn_pack::DType::F32,
                        burn_pack::Shape::from(slot.shape.clone()),
                        Some(id),
                        burn_pack::Bytes::from_bytes_vec(bytes),
                    ));
                }
                writer_scalars.push((format!("{id}.momentum.time"), Scalar::from(s.time)));
                writer_scalars.push((format!("{id}.__rank"), Scalar::from(slot.shape.len())));
            }
        }
        let mut w = Writer::new(tensors);
        for (k, v) in &writer_scalars {
            w = w.with_scalar(k, *v);
        }
        w.into_bytes()
            .map(|b| b.to_vec())
            .map_err(FlatAdamError::Pack)
    }

    /// Read burn's optimizer record (burnpack bytes) for a module whose parameters are
    /// `slots`. An empty record (no step yet) gives a fresh state.
    pub fn from_record_bytes(
        adam_epsilon: f64,
        bytes: Vec<u8>,
        slots: &[Slot],
        device: &Device,
    ) -> Result<Self, FlatAdamError> {
        let reader = Reader::from_bytes(burn_pack::Bytes::from_bytes_vec(bytes))
            .map_err(FlatAdamError::Pack)?;
        let scalars = reader.scalars().clone();
        let names: Vec<String> = reader
            .tensor_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut out = Self::new(adam_epsilon);
        if names.is_empty() {
            return Ok(out);
        }
        let total: usize = slots.iter().map(|s| s.len).sum();
        let mut m = vec![0.0f32; total];
        let mut v = vec![0.0f32; total];
        let mut time = None;
        let mut have = 0;
        for slot in slots {
            let id = slot.id.val();
            let range = slot.offset..slot.offset + slot.len;
            let m_name = format!("{id}.momentum.moment_1");
            if !names.contains(&m_name) {
                continue;
            }
            have += 1;
            for (name, dst) in [
                (m_name, &mut m),
                (format!("{id}.momentum.moment_2"), &mut v),
            ] {
                let raw = reader.tensor_data(&name).map_err(|_| entry(&name))?;
                if raw.len() != slot.len * 4 {
                    return Err(entry(&name));
                }
                for (d, c) in dst[range.clone()].iter_mut().zip(raw.chunks_exact(4)) {
                    *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
            let t_name = format!("{id}.momentum.time");
            let t = scalars
                .get(&t_name)
                .and_then(|s| usize::try_from(*s).ok())
                .ok_or_else(|| entry(&t_name))?;
            if time.is_some_and(|x| x != t) {
                return Err(entry(&t_name));
            }
            time = Some(t);
        }
        if have != slots.len() {
            return Err(FlatAdamError::Partial {
                have,
                want: slots.len(),
            });
        }
        let split = |x: Vec<f32>| {
            pieces(total)
                .map(|r| {
                    Tensor::from_data(TensorData::new(x[r.clone()].to_vec(), [r.len()]), device)
                })
                .collect()
        };
        out.state = Some(Moments {
            time: time.unwrap_or(0),
            m: split(m),
            v: split(v),
        });
        Ok(out)
    }
}

fn entry(name: &str) -> FlatAdamError {
    FlatAdamError::Entry(name.to_string())
}
