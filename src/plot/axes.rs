//! Chart axes: value ranges with "nice" tick values (1–2–5 steps on linear axes, powers of ten on
//! log axes) and the number formats of tick and value labels. Layout and drawing are in `frame`.

/// A numeric axis: the value range shown, whether it is logarithmic, and its labelled ticks.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub ticks: Vec<(f64, String)>,
}

impl Axis {
    /// An axis covering the finite `values` (positive ones on a log axis), or exactly `fixed` when
    /// given and usable. Linear ranges are widened to whole tick steps. `None` when nothing is
    /// plottable.
    pub fn fit(
        values: impl IntoIterator<Item = f64>,
        fixed: Option<(f64, f64)>,
        log: bool,
    ) -> Option<Axis> {
        let usable = |v: f64| v.is_finite() && (!log || v > 0.0);
        if let Some((lo, hi)) = fixed.filter(|&(lo, hi)| usable(lo) && usable(hi) && lo < hi) {
            return Some(if log {
                Axis::log(lo, hi, false)
            } else {
                Axis::linear(lo, hi, false)
            });
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|&v| usable(v)) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            return None;
        }
        Some(if log {
            Axis::log(lo, hi, true)
        } else {
            Axis::linear(lo, hi, true)
        })
    }

    /// Linear axis on `[lo, hi]`; `widen` snaps the ends outwards to the tick step.
    pub fn linear(mut lo: f64, mut hi: f64, widen: bool) -> Axis {
        if hi - lo <= f64::EPSILON * lo.abs().max(1.0) {
            let pad = (lo.abs() * 0.1).max(0.5);
            (lo, hi) = (lo - pad, hi + pad);
        }
        let step = nice_step((hi - lo) / 6.0);
        if widen {
            lo = (lo / step).floor() * step;
            hi = (hi / step).ceil() * step;
        }
        let first = (lo / step - 1e-9).ceil() as i64;
        let last = (hi / step + 1e-9).floor() as i64;
        let ticks = (first..=last)
            .map(|n| {
                let v = n as f64 * step;
                let v = if v.abs() < step * 1e-9 { 0.0 } else { v };
                (v, format_tick(v, step))
            })
            .collect();
        Axis {
            lo,
            hi,
            log: false,
            ticks,
        }
    }

    /// Logarithmic axis on `[lo, hi]` (both > 0): ticks at powers of ten, plus 2× and 5× when the
    /// range spans under three decades; `widen` snaps the ends to whole decades.
    pub fn log(mut lo: f64, mut hi: f64, widen: bool) -> Axis {
        if widen {
            let (e0, mut e1) = (lo.log10().floor(), hi.log10().ceil());
            if e1 <= e0 {
                e1 = e0 + 1.0;
            }
            (lo, hi) = (10f64.powf(e0), 10f64.powf(e1));
        }
        let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        let decades = (e1 - e0).max(1);
        let every = (decades + 7) / 8;
        let mults: &[f64] = if decades < 3 {
            &[1.0, 2.0, 5.0]
        } else {
            &[1.0]
        };
        let mut ticks = Vec::new();
        for e in (e0..=e1).filter(|e| (e - e0) % every == 0) {
            for &m in mults {
                let v = m * 10f64.powi(e);
                if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                    ticks.push((v, format_log_tick(v)));
                }
            }
        }
        Axis {
            lo,
            hi,
            log: true,
            ticks,
        }
    }

    /// Position of `v` along the axis in [0, 1] (outside for values beyond the range); `None` for
    /// values that cannot be shown (non-finite, or ≤ 0 on a log axis).
    pub fn frac(&self, v: f64) -> Option<f64> {
        if !v.is_finite() || (self.log && v <= 0.0) {
            return None;
        }
        let t = |x: f64| if self.log { x.log10() } else { x };
        Some((t(v) - t(self.lo)) / (t(self.hi) - t(self.lo)))
    }
}

/// The 1–2–5 × 10ⁿ value nearest above `raw` (a tick step).
pub fn nice_step(raw: f64) -> f64 {
    let raw = if raw.is_finite() && raw > 0.0 {
        raw
    } else {
        1.0
    };
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A tick label: as many decimals as the step needs; scientific for very large or small values.
pub fn format_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 1e6 || v.abs() < 1e-3 {
        return format_sci(v);
    }
    let decimals = (0..=6).find(|&d| {
        let scaled = step * 10f64.powi(d);
        (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
    });
    let d = decimals.unwrap_or(6) as usize;
    format!("{v:.d$}")
}

fn format_log_tick(v: f64) -> String {
    if (1e-3..1e5).contains(&v) {
        trim_zeros(&format!("{v:.3}"))
    } else {
        format_sci(v)
    }
}

/// Compact value label with about three significant digits ("0.0123", "12.3", "4560", "1.2e7").
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e6 || a < 1e-3 {
        format_sci(v)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}"))
    }
}

fn format_sci(v: f64) -> String {
    let s = format!("{v:.2e}");
    match s.split_once('e') {
        Some((m, e)) => format!("{}e{e}", trim_zeros(m)),
        None => s,
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Shortens `text` to at most `max` characters, ending in "..." when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{keep}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_linear_ticks() {
        let a = Axis::fit([0.13, 0.87], None, false).unwrap();
        assert_eq!((a.lo, a.hi), (0.0, 1.0));
        let labels: Vec<&str> = a.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let b = Axis::fit([0.0, 2300.0], None, false).unwrap();
        assert_eq!((b.lo, b.hi), (0.0, 2500.0));
        assert_eq!(
            b.ticks.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>(),
            ["0", "500", "1000", "1500", "2000", "2500"]
        );
        // A single value still gets a usable range.
        let c = Axis::fit([3.0, 3.0, f64::NAN], None, false).unwrap();
        assert!(c.lo < 3.0 && c.hi > 3.0);
        assert!(Axis::fit([f64::NAN], None, false).is_none());
    }

    #[test]
    fn log_ticks_and_fractions() {
        let a = Axis::fit([0.02, 300.0, -1.0, 0.0], None, true).unwrap();
        assert_eq!((a.lo, a.hi), (0.01, 1000.0));
        let labels: Vec<&str> = a.ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0.01", "0.1", "1", "10", "100", "1000"]);
        assert!((a.frac(1.0).unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(a.frac(0.0), None);
        assert!(Axis::fit([0.0, -2.0], None, true).is_none());
        let fixed = Axis::fit([], Some((0.5, 0.9)), false).unwrap();
        assert_eq!((fixed.lo, fixed.hi), (0.5, 0.9));
    }

    #[test]
    fn number_formats() {
        assert_eq!(format_value(12.345), "12.3");
        assert_eq!(format_value(0.012345), "0.0123");
        assert_eq!(format_value(4567.0), "4567");
        assert_eq!(format_value(2.0), "2");
        assert_eq!(format_value(1.5e7), "1.5e7");
        assert_eq!(format_tick(2.5e-5, 1e-5), "2.5e-5");
        assert_eq!(format_tick(0.25, 0.25), "0.25");
        assert_eq!(truncate("abcdefgh", 6), "abc...");
    }
}
