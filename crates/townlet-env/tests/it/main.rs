//! The env's integration tests, in one test binary: the golden cases worked by hand, the
//! behaviour of each rule and hook, and property tests.

mod behaviour;
mod common;
mod golden;
mod probe;
mod props;
