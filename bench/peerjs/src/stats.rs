//! Percentiles of latency samples (microseconds).

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Summary {
    pub fn of(mut samples: Vec<u64>) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        samples.sort_unstable();
        let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
        Summary {
            p50_us: at(50),
            p99_us: at(99),
            max_us: samples[samples.len() - 1],
        }
    }

    pub fn p50_ms(&self) -> f64 {
        self.p50_us as f64 / 1000.0
    }

    pub fn p99_ms(&self) -> f64 {
        self.p99_us as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let s = Summary::of((1..=1000).rev().collect());
        assert_eq!((s.p50_us, s.p99_us, s.max_us), (501, 991, 1000));
        assert_eq!(Summary::of(Vec::new()).max_us, 0);
    }
}
