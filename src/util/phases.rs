//! Wall-clock time per named phase of a loop (the bench's profile of the sliding window): each
//! [`PhaseClock::lap`] charges the time since the previous lap to a phase, summed over the loop.

use std::time::Instant;

/// Seconds per phase, in the order the phases first ran.
#[derive(Debug)]
pub struct PhaseClock {
    last: Instant,
    phases: Vec<(&'static str, f64)>,
}

impl Default for PhaseClock {
    fn default() -> Self {
        Self::new()
    }
}

impl PhaseClock {
    /// A clock whose first lap starts now.
    pub fn new() -> Self {
        PhaseClock {
            last: Instant::now(),
            phases: Vec::new(),
        }
    }

    /// Adds the time since the previous lap (or since [`new`](Self::new)) to `phase`.
    pub fn lap(&mut self, phase: &'static str) {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        match self.phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, t)) => *t += dt,
            None => self.phases.push((phase, dt)),
        }
    }

    /// `(phase, seconds)` in first-run order.
    pub fn phases(&self) -> &[(&'static str, f64)] {
        &self.phases
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laps_add_up_per_phase_in_first_run_order() {
        let mut c = PhaseClock::new();
        for _ in 0..2 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            c.lap("b");
            c.lap("a");
        }
        let names: Vec<_> = c.phases().iter().map(|p| p.0).collect();
        assert_eq!(names, ["b", "a"]);
        assert!(c.phases()[0].1 >= 0.004 && c.phases()[1].1 < c.phases()[0].1);
    }
}
