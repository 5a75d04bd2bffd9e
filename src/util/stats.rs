//! Order statistics, the one implementation every stage uses: percentiles with linear interpolation
//! between closest ranks (NumPy's default, "type 7": the p-th percentile of sorted `x[0..n]` sits
//! at position `p/100 · (n − 1)`) and medians (the mean of the middle two for an even count). An
//! empty input has no percentile (`None`); the caller says what that means where it matters.

/// The `ps` percentiles (0–100) of the finite `values` (non-finite ones are dropped first); `None`
/// when there are none.
pub fn percentiles(values: impl IntoIterator<Item = f64>, ps: &[f64]) -> Option<Vec<f64>> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    Some(ps.iter().map(|&p| percentile_sorted(&v, p)).collect())
}

/// Percentile `p` of an already sorted, non-empty slice of finite values.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let pos = (p.clamp(0.0, 100.0) / 100.0) * (n - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    if i + 1 >= n {
        sorted[n - 1]
    } else {
        sorted[i] + (sorted[i + 1] - sorted[i]) * frac
    }
}

/// Percentile `p` (0–100) of `values`, sorting them in place (so a caller may read the minimum
/// and maximum after); for large buffers that should not be copied. `None` when empty.
pub fn percentile_in_place(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    Some(percentile_sorted(values, p))
}

/// Median of the finite values (mean of the middle two for an even count); `None` when empty.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    percentiles(values, &[50.0]).map(|v| v[0])
}

/// Every `stride`-th value so that at most about `max` remain (for percentiles of huge volumes).
pub fn subsample(values: &[f32], max: usize) -> impl Iterator<Item = f64> + '_ {
    let stride = values.len().div_ceil(max.max(1)).max(1);
    values.iter().step_by(stride).map(|&v| v as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_percentiles() {
        let v = [4.0, 1.0, 3.0, 2.0, 5.0, f64::NAN];
        let p = percentiles(v, &[0.0, 25.0, 50.0, 90.0, 100.0]).unwrap();
        // sorted 1..5, positions 0, 1, 2, 3.6, 4
        assert_eq!(p, vec![1.0, 2.0, 3.0, 4.6, 5.0]);
        assert_eq!(median([1.0, 2.0, 3.0, 10.0]), Some(2.5));
        assert_eq!(median([f64::NAN]), None);
        assert_eq!(subsample(&[0.0; 10], 3).count(), 3);
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        let mut v: Vec<f64> = (0..=10).map(f64::from).collect();
        v.reverse();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(percentile_in_place(&mut v, 95.0).unwrap(), 9.5));
        assert_eq!(v[0], 0.0, "sorted in place");
        assert!(close(
            percentile_in_place(&mut [2.0, 1.0], 50.0).unwrap(),
            1.5
        ));
        assert_eq!(percentile_in_place(&mut [], 95.0), None);
        assert_eq!(percentile_in_place(&mut [4.0], 95.0), Some(4.0));
    }
}
