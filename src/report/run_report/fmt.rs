//! Number and text formatting shared by the report's sections.

use crate::metrics::Stats;

/// "a × b × c" with `decimals` decimals.
pub(crate) fn triple(v: [f64; 3], decimals: usize) -> String {
    format!("{:.d$} × {:.d$} × {:.d$}", v[0], v[1], v[2], d = decimals)
}

/// "mean ± sd" with `digits` decimals, or "–" when there are no values.
pub(crate) fn mean_sd(s: Option<&Stats>, digits: usize) -> String {
    s.map_or("–".into(), |s| {
        format!("{:.digits$} ± {:.digits$}", s.mean, s.sd)
    })
}

/// An integer with thousands separators: 1189699 → "1,189,699".
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds as "1 h 02 min 03 s", "4 min 05 s" or "12.3 s".
pub(crate) fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let s = seconds.round() as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s")
    } else {
        format!("{m} min {s:02} s")
    }
}

/// A path or word as a shell argument: quoted when it holds anything beyond `[A-Za-z0-9/._+=:,-]`.
pub(crate) fn shell(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._+=:,-".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_values() {
        assert_eq!(thousands(1_189_699), "1,189,699");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(duration(12.34), "12.3 s");
        assert_eq!(duration(245.0), "4 min 05 s");
        assert_eq!(duration(3723.0), "1 h 02 min 03 s");
        assert_eq!(shell("/tmp/run-1"), "/tmp/run-1");
        assert_eq!(shell("/tmp/my run's"), "'/tmp/my run'\\''s'");
        assert_eq!(triple([1.0, 0.5, 3.0], 2), "1.00 × 0.50 × 3.00");
        let s = Stats::of(&[0.8, 0.9]).unwrap();
        assert_eq!(mean_sd(Some(&s), 3), "0.850 ± 0.071");
        assert_eq!(mean_sd(None, 3), "–");
    }
}
