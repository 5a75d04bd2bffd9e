//! The paper's sparse annotation: keep the labels of every K-th slice in each of the three orientations
//! and mark every other voxel as "unlabelled" (the ignore value), so a dense dataset reproduces the
//! semi-automated setting of Çiçek et al. 2016.

/// Rewrites a `[nx, ny, nz]` label buffer (x fastest) in place. The labelled slices are those whose
/// index along any axis is `≡ offset (mod k)`; `offset` is `k / 2` so that a slice runs near the middle.
/// Returns the fraction of voxels kept.
pub fn sparsify(label: &mut [u8], dims: [usize; 3], k: usize, ignore: u8) -> f64 {
    if k <= 1 {
        return 1.0;
    }
    let off = k / 2;
    let mut kept = 0usize;
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            for x in 0..dims[0] {
                let idx = x + dims[0] * (y + dims[1] * z);
                if x % k == off || y % k == off || z % k == off {
                    kept += 1;
                } else {
                    label[idx] = ignore;
                }
            }
        }
    }
    kept as f64 / label.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_exactly_the_chosen_slices() {
        let dims = [6, 6, 6];
        let mut l = vec![1u8; 216];
        let frac = sparsify(&mut l, dims, 3, 255);
        // Unlabelled: x, y and z all off the kept index (1 of 3 per axis): (2/3)^3 of voxels.
        let expected = 1.0 - (2.0f64 / 3.0).powi(3);
        assert!((frac - expected).abs() < 1e-12);
        assert_eq!(l[1 + 6 * (0 + 6 * 0)], 1, "x = 1 lies on a kept slice");
        assert_eq!(l[0], 255);
        assert_eq!(l.iter().filter(|&&v| v == 255).count(), 64);
    }
}
