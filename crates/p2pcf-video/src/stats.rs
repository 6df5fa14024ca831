//! Small measuring helpers.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Frames per second over a sliding window.
#[derive(Debug)]
pub struct FpsMeter {
    window: Duration,
    times: VecDeque<Instant>,
}

impl FpsMeter {
    /// A meter averaging over `window`.
    pub fn new(window: Duration) -> Self {
        FpsMeter {
            window,
            times: VecDeque::new(),
        }
    }

    /// Counts one frame at `now`.
    pub fn tick(&mut self, now: Instant) {
        self.times.push_back(now);
        while let Some(first) = self.times.front() {
            if now.duration_since(*first) > self.window {
                self.times.pop_front();
            } else {
                break;
            }
        }
    }

    /// Frames per second over the window ending at `now`.
    pub fn fps(&self, now: Instant) -> f64 {
        let recent = self
            .times
            .iter()
            .filter(|t| now.duration_since(**t) <= self.window)
            .count();
        recent as f64 / self.window.as_secs_f64()
    }
}

/// CPU time consumed by the calling thread (from `/proc/thread-self/schedstat`, nanosecond
/// resolution); `None` where that file does not exist.
pub fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fps_counts_frames_inside_the_window_only() {
        let start = Instant::now();
        let mut meter = FpsMeter::new(Duration::from_secs(1));
        for i in 0..60 {
            meter.tick(start + Duration::from_millis(i * 50));
        }
        // 3 s of 20 fps: the last second holds 20 or 21 ticks.
        let fps = meter.fps(start + Duration::from_millis(59 * 50));
        assert!((20.0..=21.0).contains(&fps), "{fps}");
        assert_eq!(meter.fps(start + Duration::from_secs(10)), 0.0);
    }

    #[test]
    fn thread_cpu_time_grows_with_work() {
        let before = thread_cpu_time().expect("schedstat");
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = thread_cpu_time().expect("schedstat");
        assert!(after > before);
    }
}
