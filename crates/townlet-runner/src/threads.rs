//! Compute threads for burn (docs/decisions.md#compute-threads): the size of rayon's global
//! pool.

/// Name prefix of burn's compute threads (rayon's global pool).
pub const COMPUTE_THREAD_PREFIX: &str = "townlet-comp-";

/// Configure rayon's global pool once. Later calls (or a pool already built) are ignored.
pub fn set_compute_threads(n: usize) {
    let n = n.max(1);
    if rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        // Named so benchmarks can add the compute threads' CPU time to the trainer's.
        .thread_name(|i| format!("{COMPUTE_THREAD_PREFIX}{i}"))
        .build_global()
        .is_err()
    {
        tracing::debug!("rayon pool already initialised; --threads {n} not applied");
    }
}

/// Thread CPU time of the calling thread in nanoseconds
/// (docs/decisions.md#measuring-training-slowdown).
pub fn thread_cpu_time_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY-free: clock_gettime with a valid pointer; libc call is safe to wrap here.
    let rc = unsafe_free_clock_gettime(&mut ts);
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

#[allow(unsafe_code)]
fn unsafe_free_clock_gettime(ts: &mut libc::timespec) -> i32 {
    // SAFETY: `ts` is a valid, exclusive pointer for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, ts) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Benchmarks add the CPU time of threads named with the prefix to the trainer's; the
    /// agent's learner thread (docs/training.md#overlapped-updates) must be among them.
    #[test]
    fn the_learner_thread_counts_as_a_compute_thread() {
        assert!(townlet_agent::overlap::LEARNER_THREAD.starts_with(COMPUTE_THREAD_PREFIX));
        // Linux shows 15 bytes of a thread's name; the prefix must survive the cut.
        assert!(COMPUTE_THREAD_PREFIX.len() <= 15);
    }
}
