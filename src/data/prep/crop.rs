//! Cropping for preprocessing: the body's bounding box (planes with enough voxels above a fraction
//! of the 99th intensity percentile, so noise in the air does not widen it), the labelled box, and
//! copying a box out of a volume with its shifted affine.

use crate::data::Affine;
use crate::util::stats::percentile_in_place;

/// `body_threshold × p99` of the intensities, or `None` when the image has no positive range to threshold.
pub(super) fn body_threshold(data: &[f32], fraction: f32) -> Option<f32> {
    // an even subsample of at most ~1M voxels is plenty for a percentile.
    let step = (data.len() / (1 << 20)).max(1);
    let mut v: Vec<f64> = data
        .iter()
        .step_by(step)
        .filter(|x| x.is_finite())
        .map(|&x| x as f64)
        .collect();
    let p99 = percentile_in_place(&mut v, 99.0).unwrap_or(0.0) as f32;
    let min = v.first().copied().unwrap_or(0.0) as f32;
    (p99 > 0.0 && p99 > min).then(|| (fraction * p99).max(min))
}

/// Bounding box `[lo, hi)` of the voxels above `t`. A plane along an axis counts as body when at least
/// 1/1000 of its voxels are above the threshold (isolated noise voxels in the air do not widen the box).
pub(super) fn body_bbox(
    data: &[f32],
    dims: [usize; 3],
    t: f32,
) -> Option<([usize; 3], [usize; 3])> {
    if dims.contains(&0) {
        return None;
    }
    let mut counts = [
        vec![0usize; dims[0]],
        vec![0usize; dims[1]],
        vec![0usize; dims[2]],
    ];
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            let row = dims[0] * (j + dims[1] * k);
            let mut n = 0;
            for i in 0..dims[0] {
                if data[row + i] > t {
                    counts[0][i] += 1;
                    n += 1;
                }
            }
            counts[1][j] += n;
            counts[2][k] += n;
        }
    }
    let total = dims[0] * dims[1] * dims[2];
    let mut lo = [0; 3];
    let mut hi = [0; 3];
    for c in 0..3 {
        let min_count = (total / dims[c] / 1000).max(1);
        lo[c] = counts[c].iter().position(|&n| n >= min_count)?;
        hi[c] = counts[c].iter().rposition(|&n| n >= min_count)? + 1;
    }
    Some((lo, hi))
}

/// Bounding box of the labelled voxels (any value ≠ 0), or `None` when there are none.
pub(super) fn label_bbox(data: &[u8], dims: [usize; 3]) -> Option<([usize; 3], [usize; 3])> {
    let mut lo = dims;
    let mut hi = [0; 3];
    for (n, _) in data.iter().enumerate().filter(|(_, v)| **v != 0) {
        let p = [n % dims[0], n / dims[0] % dims[1], n / (dims[0] * dims[1])];
        for c in 0..3 {
            lo[c] = lo[c].min(p[c]);
            hi[c] = hi[c].max(p[c] + 1);
        }
    }
    (hi[0] > 0).then_some((lo, hi))
}

/// The affine of a sub-grid starting at voxel `lo`.
pub(super) fn shifted(affine: &Affine, lo: [usize; 3]) -> Affine {
    let mut a = *affine;
    let o = affine.apply([lo[0] as f64, lo[1] as f64, lo[2] as f64]);
    for r in 0..3 {
        a.0[r][3] = o[r];
    }
    a
}

/// Copies the box `[lo, hi)` out of a volume.
pub(super) fn crop<T: Copy>(
    data: &[T],
    dims: [usize; 3],
    lo: [usize; 3],
    hi: [usize; 3],
) -> Vec<T> {
    let mut out = Vec::with_capacity((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
    for k in lo[2]..hi[2] {
        for j in lo[1]..hi[1] {
            let row = dims[0] * (j + dims[1] * k);
            out.extend_from_slice(&data[row + lo[0]..row + hi[0]]);
        }
    }
    out
}
