//! Random network distillation (docs/training.md#random-network-distillation): a fixed
//! random net and a trained predictor; novelty = mean squared embedding difference.

use crate::flat_adam::FlatAdam;
use crate::learner::new_adam;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::GradientsParams;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;

#[derive(Module, Debug)]
pub struct RndNet {
    l1: Linear,
    l2: Linear,
    l3: Linear,
    act: Relu,
}

impl RndNet {
    pub fn new(obs_dim: usize, embed_dim: usize, device: &Device) -> Self {
        Self {
            l1: LinearConfig::new(obs_dim, 256).init(device),
            l2: LinearConfig::new(256, 128).init(device),
            l3: LinearConfig::new(128, embed_dim).init(device),
            act: Relu::new(),
        }
    }

    pub fn out_dim(&self) -> usize {
        self.l3.weight.val().dims()[1]
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = self.act.forward(self.l1.forward(x));
        let x = self.act.forward(self.l2.forward(x));
        self.l3.forward(x)
    }
}

/// RND state: fixed net (plain device), predictor (autodiff) + its plain snapshot, Adam,
/// and the FIFO queue of observations not yet trained on.
pub struct Rnd {
    pub(crate) fixed: RndNet,
    pub(crate) predictor: RndNet,
    predictor_snapshot: RndNet,
    pub(crate) optim: ModuleOptimizer,
    /// The fused Adam of hand-written gradients (docs/training.md#hand-written-gradients);
    /// `Some` exactly when that path is on, and then `predictor` is plain.
    pub(crate) flat: Option<FlatAdam>,
    pub(crate) queue: Vec<f32>,
    obs_dim: usize,
    embed_dim: usize,
    batch_size: usize,
    lr: f64,
    pub updates: u64,
    pub last_loss: Option<f32>,
    base: Device,
    ad: Device,
}

impl Rnd {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        fixed: RndNet,
        predictor: RndNet,
        obs_dim: usize,
        batch_size: usize,
        lr: f64,
        adam_epsilon: f64,
        manual: bool,
        base: Device,
        ad: Device,
    ) -> Self {
        let predictor_snapshot = predictor.valid();
        let predictor = if manual { predictor.valid() } else { predictor };
        let embed_dim = fixed.out_dim();
        Self {
            fixed,
            predictor,
            predictor_snapshot,
            optim: new_adam(adam_epsilon),
            flat: manual.then(|| FlatAdam::new(adam_epsilon)),
            queue: Vec::new(),
            obs_dim,
            embed_dim,
            batch_size: batch_size.max(1),
            lr,
            updates: 0,
            last_loss: None,
            base,
            ad,
        }
    }

    /// Novelty of each row of `obs` (`[n, obs_dim]` flattened), on the plain device.
    pub fn novelty(&self, obs: &[f32]) -> Vec<f32> {
        let n = obs.len() / self.obs_dim;
        let x =
            Tensor::<2>::from_data(TensorData::new(obs.to_vec(), [n, self.obs_dim]), &self.base);
        let diff = self.fixed.forward(x.clone()) - self.predictor_snapshot.forward(x);
        let per_row = diff.square().mean_dim(1);
        per_row
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|_| vec![0.0; n])
    }

    /// Append observations to the queue and train on the oldest `batch_size` whenever enough
    /// are queued. Returns the number of predictor updates done.
    pub fn push_and_train(&mut self, obs: &[f32]) -> u32 {
        self.queue.extend_from_slice(obs);
        let block = self.batch_size * self.obs_dim;
        let mut done = 0;
        while self.queue.len() >= block {
            let batch: Vec<f32> = self.queue.drain(..block).collect();
            self.train(batch);
            done += 1;
        }
        done
    }

    fn train(&mut self, batch: Vec<f32>) {
        let b = self.batch_size;
        let x_plain = Tensor::<2>::from_data(TensorData::new(batch, [b, self.obs_dim]), &self.base);
        if let Some(adam) = self.flat.as_mut() {
            let target = self.fixed.forward(x_plain.clone());
            let predictor = self.predictor.clone();
            let (predictor, loss) =
                crate::manual::rnd_update(predictor, adam, self.lr, x_plain, target);
            self.predictor = predictor;
            self.predictor_snapshot = self.predictor.clone();
            self.last_loss = Some(loss);
            self.updates += 1;
            return;
        }
        let target = self.fixed.forward(x_plain.clone()).autodiff();
        let pred = self.predictor.forward(x_plain.autodiff());
        let loss = (pred - target).square().mean();
        self.last_loss = Some(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &self.predictor);
        let predictor = self.predictor.clone();
        self.predictor = self.optim.step(self.lr, predictor, grads);
        self.predictor_snapshot = self.predictor.valid();
        self.updates += 1;
        let _ = &self.ad;
    }

    pub fn embed_dim(&self) -> usize {
        self.embed_dim
    }

    pub fn queue(&self) -> &[f32] {
        &self.queue
    }

    pub(crate) fn restore(
        &mut self,
        fixed: RndNet,
        predictor: RndNet,
        optim: ModuleOptimizer,
        flat: Option<FlatAdam>,
        queue: Vec<f32>,
        updates: u64,
    ) {
        self.fixed = fixed;
        self.predictor_snapshot = predictor.valid();
        self.predictor = predictor;
        self.optim = optim;
        self.flat = flat;
        self.queue = queue;
        self.updates = updates;
    }
}
