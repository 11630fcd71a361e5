//! Ctrl+C for the binaries: the first press asks the library to stop at the next step
//! (see docs/decisions.md); a second press exits at once.

use anyhow::Context;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Install the handler: `on_first` runs on the first Ctrl+C (or SIGTERM), after `message`
/// is printed; the second one exits with code 130.
pub fn on_ctrl_c(
    message: &'static str,
    on_first: impl Fn() + Send + 'static,
) -> anyhow::Result<()> {
    let presses = Arc::new(AtomicUsize::new(0));
    ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) >= 1 {
            eprintln!("\nsecond interrupt: exiting now");
            std::process::exit(130);
        }
        eprintln!("\n{message} (Ctrl+C again to force)…");
        on_first();
    })
    .context("cannot install the Ctrl+C handler")
}
