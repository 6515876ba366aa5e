//! Latency summaries (exact percentiles over recorded samples) and the number
//! formatting used in the progress lines and the Markdown report.

/// Percentiles of a set of latencies, in microseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest sample.
    pub max: u64,
}

impl Summary {
    /// Summarizes `samples` (microseconds); sorts them in place.
    pub fn of(samples: &mut [u64]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let rank = (q * samples.len() as f64).ceil() as usize;
            samples[rank.clamp(1, samples.len()) - 1]
        };
        Summary {
            count: samples.len(),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: samples[samples.len() - 1],
        }
    }
}

/// Microseconds as milliseconds with a precision that suits the size.
pub fn ms(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// An integer with thousands separators: `1,234,567`.
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate rounded to an integer with thousands separators.
pub fn rate(per_second: f64) -> String {
    if per_second.is_finite() && per_second >= 0.0 {
        int(per_second.round() as u64)
    } else {
        "-".to_string()
    }
}

/// Bytes in MiB (or KiB when small).
pub fn bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", b as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut v: Vec<u64> = (1..=100).collect();
        let s = Summary::of(&mut v);
        assert_eq!((s.p50, s.p95, s.p99, s.max), (50, 95, 99, 100));
        let mut one = vec![7];
        assert_eq!(Summary::of(&mut one).p99, 7);
    }

    #[test]
    fn formatting() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(ms(1234), "1.23");
        assert_eq!(ms(123_456), "123");
    }
}
