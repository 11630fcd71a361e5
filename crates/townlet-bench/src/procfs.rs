//! Linux `/proc` readings: resident memory and per-thread CPU time (by thread name).

use std::path::Path;

/// Resident set size of this process in KiB (0 where `/proc` is unavailable).
pub fn rss_kib() -> u64 {
    status_field(Path::new("/proc/self/status"), "VmRSS:")
}

fn status_field(path: &Path, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Clock ticks per second of `utime`/`stime` in `/proc/*/stat` (100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

/// CPU time (user + system, ns) of this process's live threads whose name starts with
/// `prefix`. Resolution is one clock tick (10 ms); use it over runs of seconds.
pub fn threads_cpu_ns(prefix: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut ticks = 0;
    for task in dir.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        ticks += parse_stat_ticks(&stat).unwrap_or(0);
    }
    ticks * (1_000_000_000 / TICKS_PER_SECOND)
}

/// `utime + stime` from a `/proc/.../stat` line (fields 14 and 15; the name in
/// parentheses may contain spaces, so fields are counted after the last `)`).
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) is index 11 and stime (15) index 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_skip_names_with_spaces() {
        let line = "123 (townlet comp 0) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 5 6 7";
        assert_eq!(parse_stat_ticks(line), Some(300));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn this_process_is_measured() {
        assert!(rss_kib() > 0);
        // Burn CPU on a named thread until /proc shows it (a tick is 10 ms of CPU).
        let h = std::thread::Builder::new()
            .name("bench-probe".into())
            .spawn(|| {
                let t = std::time::Instant::now();
                let mut x = 0u64;
                loop {
                    for _ in 0..100_000 {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    }
                    let ns = threads_cpu_ns("bench-probe");
                    if ns > 0 || t.elapsed() > std::time::Duration::from_secs(30) {
                        std::hint::black_box(x);
                        return ns;
                    }
                }
            })
            .unwrap();
        let ns = h.join().unwrap();
        assert!(ns > 0, "the probe thread's CPU time is visible");
    }
}
