//! Timing one workload: warm-up calls apart, then timed calls that each end in a device sync.

use std::time::Instant;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::backend::sync;
use crate::error::Result;
use crate::util::stats::median;

/// Seconds of the first call (compilation, autotuning) and of every timed call.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measurement {
    pub first_call_s: f64,
    pub samples_s: Vec<f64>,
}

impl Measurement {
    pub fn median(&self) -> f64 {
        median(self.samples_s.iter().copied()).unwrap_or(f64::NAN)
    }

    pub fn min(&self) -> f64 {
        self.samples_s.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn max(&self) -> f64 {
        self.samples_s.iter().copied().fold(0.0, f64::max)
    }
}

/// Runs `f` `warmup` times untimed (timing only the first) and up to `reps` times timed; the
/// device is synchronised before every clock stop so queued GPU work is counted. With a `budget`
/// (seconds), timing stops once the timed calls have taken that long (after at least one), so a
/// very slow target (burn's kernels on a software adapter) cannot hold the whole run.
pub fn measure(
    device: &Device,
    warmup: usize,
    reps: usize,
    budget: Option<f64>,
    mut f: impl FnMut() -> Result<()>,
) -> Result<Measurement> {
    let mut first_call_s = 0.0;
    for i in 0..warmup.max(1) {
        let t = Instant::now();
        f()?;
        sync(device);
        if i == 0 {
            first_call_s = t.elapsed().as_secs_f64();
        }
    }
    let mut samples_s = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f()?;
        sync(device);
        samples_s.push(t.elapsed().as_secs_f64());
        if budget.is_some_and(|b| samples_s.iter().sum::<f64>() >= b) {
            break;
        }
    }
    Ok(Measurement {
        first_call_s,
        samples_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_samples() {
        let m = Measurement {
            first_call_s: 9.0,
            samples_s: vec![3.0, 1.0, 2.0, 10.0],
        };
        assert_eq!(m.median(), 2.5);
        assert_eq!(m.min(), 1.0);
        assert_eq!(m.max(), 10.0);
        let mut calls = 0;
        let m = measure(&Device::flex(), 2, 3, None, || {
            calls += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((calls, m.samples_s.len()), (5, 3));
    }

    #[test]
    fn a_spent_budget_stops_timing_after_at_least_one_call() {
        let slow = || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(())
        };
        let m = measure(&Device::flex(), 1, 10, Some(0.05), slow).unwrap();
        assert!((3..10).contains(&m.samples_s.len()), "{:?}", m.samples_s);
        let m = measure(&Device::flex(), 1, 10, Some(1e-9), slow).unwrap();
        assert_eq!(m.samples_s.len(), 1);
    }
}
