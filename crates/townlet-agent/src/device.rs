//! Run-time choice of burn's CPU device (flex by default, ndarray for comparison).

use burn::prelude::Device;
use townlet_config::DeviceKind;

/// A plain device for acting/targets and its autodiff twin for training.
#[derive(Clone, Debug)]
pub struct TrainDevice {
    pub kind: DeviceKind,
    pub base: Device,
    pub ad: Device,
}

impl TrainDevice {
    pub fn new(kind: DeviceKind) -> Self {
        let base = match kind {
            DeviceKind::Flex => Device::flex(),
            DeviceKind::Ndarray => {
                // Upstream deprecates burn-ndarray; we keep it as the comparison backend the
                // design card names. This is the single allowed use (brief: one place only).
                #[allow(deprecated)]
                let d = Device::ndarray();
                d
            }
        };
        let ad = base.clone().autodiff();
        Self { kind, base, ad }
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            DeviceKind::Flex => "flex",
            DeviceKind::Ndarray => "ndarray",
        }
    }
}
