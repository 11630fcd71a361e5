//! Flag values and the `main` shape shared by the binaries.

use crate::logging::{self, LogFile};
use clap::ValueEnum;
use std::process::ExitCode;
use townlet_config::{DeviceKind, NetworkType};

/// `--device`: the burn CPU backend.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DeviceArg {
    Flex,
    Ndarray,
}

impl From<DeviceArg> for DeviceKind {
    fn from(d: DeviceArg) -> Self {
        match d {
            DeviceArg::Flex => DeviceKind::Flex,
            DeviceArg::Ndarray => DeviceKind::Ndarray,
        }
    }
}

/// `--network`: the Q-network.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum NetworkArg {
    Simple,
    Recurrent,
}

impl From<NetworkArg> for NetworkType {
    fn from(n: NetworkArg) -> Self {
        match n {
            NetworkArg::Simple => NetworkType::Simple,
            NetworkArg::Recurrent => NetworkType::Recurrent,
        }
    }
}

/// Install logging, run `run` with the parsed flags and the run-log handle, and report a
/// failure (exit 1) with each cause once.
pub fn main_with<A>(args: A, run: impl FnOnce(A, &LogFile) -> anyhow::Result<()>) -> ExitCode {
    let log = logging::init();
    match run(args, &log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::report::fail(&e),
    }
}
