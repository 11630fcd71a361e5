//! The integration tests of `townlet-agent`, in one test binary.

mod gradients;
mod memory;
mod recurrent_agent;
