//! Small statistics helpers: percentiles, mean ± spread.

use serde::{Deserialize, Serialize};

/// Nearest-rank percentile of an ascending slice (`p` in 0..=1); 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64) * p.clamp(0.0, 1.0)).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Mean, sample standard deviation, median, min and max.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Spread {
    pub n: usize,
    pub mean: f64,
    pub sd: f64,
    /// Middle value (mean of the two middle ones for an even count): on a shared machine
    /// one disturbed pair moves the mean, not the median.
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(xs: &[f64]) -> Spread {
        let n = xs.len();
        if n == 0 {
            return Spread::default();
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        let mut sorted = xs.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Spread {
            n,
            mean,
            sd: var.sqrt(),
            median,
            min: sorted[0],
            max: sorted[n - 1],
        }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} ± {:.2} (median {:.2}, min {:.2}, max {:.2}, n {})",
            self.mean, self.sd, self.median, self.min, self.max, self.n
        )
    }
}

/// Latency summary in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(samples_ms: &[f64]) -> Latency {
        let mut s = samples_ms.to_vec();
        s.sort_by(f64::total_cmp);
        Latency {
            n: s.len(),
            p50_ms: percentile(&s, 0.5),
            p99_ms: percentile(&s, 0.99),
            max_ms: s.last().copied().unwrap_or(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&xs, 0.5), 50.0);
        assert_eq!(percentile(&xs, 0.99), 99.0);
        assert_eq!(percentile(&xs, 1.0), 100.0);
        assert_eq!(percentile(&xs, 0.0), 1.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn spread_of_known_values() {
        let s = Spread::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.mean, 5.0);
        assert!((s.sd - 2.138).abs() < 1e-3);
        assert_eq!((s.min, s.max, s.n), (2.0, 9.0, 8));
        assert_eq!(s.median, 4.5);
        assert_eq!(Spread::of(&[3.0, -1.0, 10.0]).median, 3.0);
        assert_eq!(Spread::of(&[]).n, 0);
    }

    #[test]
    fn latency_summary() {
        let l = Latency::of(&[3.0, 1.0, 2.0]);
        assert_eq!((l.n, l.p50_ms, l.max_ms), (3, 2.0, 3.0));
    }
}
