//! What the Townlet binaries share: logging set-up, error reports and Ctrl+C handling.
//! The binaries themselves (`src/bin/*.rs`) are thin: flags in, a library call, a report
//! out. Nothing here is meant for use outside the binaries.

pub mod bus;
pub mod flags;
pub mod logging;
pub mod report;
pub mod set;
pub mod signals;
pub mod teacher;
