//! The integration tests of `townlet-agent`, in one test binary.

mod gradients;
mod memory;
mod probe;
mod recurrent_agent;
