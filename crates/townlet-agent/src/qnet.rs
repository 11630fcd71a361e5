//! SimpleQNetwork (docs/training.md#the-mlp): Linear→LayerNorm→ReLU ×2 → Linear,
//! hidden 128.

use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;

pub const HIDDEN: usize = 128;

#[derive(Module, Debug)]
pub struct SimpleQNetwork {
    l1: Linear,
    n1: LayerNorm,
    l2: Linear,
    n2: LayerNorm,
    out: Linear,
    act: Relu,
}

impl SimpleQNetwork {
    pub fn new(obs_dim: usize, action_dim: usize, device: &Device) -> Self {
        Self {
            l1: LinearConfig::new(obs_dim, HIDDEN).init(device),
            n1: LayerNormConfig::new(HIDDEN).init(device),
            l2: LinearConfig::new(HIDDEN, HIDDEN).init(device),
            n2: LayerNormConfig::new(HIDDEN).init(device),
            out: LinearConfig::new(HIDDEN, action_dim).init(device),
            act: Relu::new(),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = self.act.forward(self.n1.forward(self.l1.forward(x)));
        let x = self.act.forward(self.n2.forward(self.l2.forward(x)));
        self.out.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_match_the_spec() {
        let d = Device::flex();
        assert_eq!(SimpleQNetwork::new(93, 8, &d).num_params(), 30_088);
        assert_eq!(SimpleQNetwork::new(38, 8, &d).num_params(), 23_048);
        assert_eq!(SimpleQNetwork::new(78, 8, &d).num_params(), 28_168);
    }
}
