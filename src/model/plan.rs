//! Pooling plan from voxel spacing, as nnU-Net plans it.
//!
//! Prostate MRI has 3–4 mm slices and 0.4–0.6 mm pixels. Pooling z as early as x/y would shrink
//! the thin slice stack to nothing while the in-plane field of view is still small, so each level
//! pools an axis only while its spacing is within 2× of the finest one; pooling doubles it.

use crate::error::{Error, Result};

/// An axis is pooled only if it keeps at least this many voxels afterwards.
pub const MIN_POOLED_SIZE: usize = 4;

/// Per-level pooling kernels [z, y, x] (each entry 1 or 2) for a patch of `patch_zyx` voxels
/// at `spacing_zyx` mm, at most `depth` levels.
///
/// At each level an axis is pooled by 2 if (a) its size is even and the half stays
/// ≥ [`MIN_POOLED_SIZE`], and (b) its current spacing is ≤ 2× the smallest current spacing among
/// the axes allowed by (a). Pooling doubles that axis's spacing and halves its size. When no axis
/// can be pooled the plan stops early (fewer levels than `depth`, as nnU-Net reduces the depth).
///
/// Example: spacing [3, 0.5, 0.5], patch [32, 128, 128], depth 4 gives
/// `[1,2,2], [1,2,2], [2,2,2], [2,2,2]`.
pub fn pooling_plan(spacing_zyx: [f64; 3], patch_zyx: [usize; 3], depth: usize) -> Vec<[usize; 3]> {
    let mut spacing = spacing_zyx;
    let mut size = patch_zyx;
    let mut plan = Vec::with_capacity(depth);
    for _ in 0..depth {
        let fits = size.map(|s| s % 2 == 0 && s / 2 >= MIN_POOLED_SIZE);
        let finest = (0..3)
            .filter(|&a| fits[a])
            .map(|a| spacing[a])
            .fold(f64::INFINITY, f64::min);
        let mut kernel = [1; 3];
        for a in 0..3 {
            if fits[a] && spacing[a] <= 2.0 * finest {
                kernel[a] = 2;
                spacing[a] *= 2.0;
                size[a] /= 2;
            }
        }
        if kernel == [1, 1, 1] {
            break;
        }
        plan.push(kernel);
    }
    plan
}

/// Product of the pooling factors per axis [z, y, x]: input sizes must be multiples of it.
pub fn required_divisor(plan: &[[usize; 3]]) -> [usize; 3] {
    let mut divisor = [1; 3];
    for kernel in plan {
        for a in 0..3 {
            divisor[a] *= kernel[a];
        }
    }
    divisor
}

/// Errors unless every axis of `size_zyx` is a positive multiple of the plan's divisor.
pub fn check_divisible(size_zyx: [usize; 3], plan: &[[usize; 3]]) -> Result<()> {
    let divisor = required_divisor(plan);
    for (a, name) in ["z", "y", "x"].iter().enumerate() {
        if size_zyx[a] == 0 || size_zyx[a] % divisor[a] != 0 {
            return Err(Error::config(format!(
                "patch size [z, y, x] = {size_zyx:?} must be a positive multiple of {divisor:?} \
                 (pooling plan {plan:?}); axis {name}: {} is not",
                size_zyx[a]
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thick_slices_stay_unpooled_at_first() {
        let plan = pooling_plan([3.0, 0.5, 0.5], [32, 128, 128], 4);
        assert_eq!(plan, vec![[1, 2, 2], [1, 2, 2], [2, 2, 2], [2, 2, 2]]);
        assert_eq!(required_divisor(&plan), [4, 16, 16]);
        check_divisible([32, 128, 128], &plan).unwrap();
    }

    #[test]
    fn isotropic_spacing_pools_everything() {
        let plan = pooling_plan([1.0, 1.0, 1.0], [64, 64, 64], 3);
        assert_eq!(plan, vec![[2, 2, 2]; 3]);
        assert_eq!(required_divisor(&plan), [8, 8, 8]);
    }

    #[test]
    fn small_axis_stops_pooling_and_plan_ends_when_nothing_fits() {
        // z has 8 slices: one pooling leaves 4, a second would leave 2 < MIN_POOLED_SIZE.
        let plan = pooling_plan([1.0, 1.0, 1.0], [8, 32, 32], 5);
        assert_eq!(plan, vec![[2, 2, 2], [1, 2, 2], [1, 2, 2]]);
        // Once z is out of the running, only in-plane spacings decide the finest one.
        let plan = pooling_plan([0.5, 1.0, 1.0], [8, 64, 64], 3);
        assert_eq!(plan, vec![[2, 2, 2], [1, 2, 2], [1, 2, 2]]);
    }

    #[test]
    fn divisibility_error_names_the_axis_and_sizes() {
        let plan = vec![[1, 2, 2], [2, 2, 2]];
        let err = check_divisible([31, 64, 64], &plan)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[31, 64, 64]") && err.contains("[2, 4, 4]"),
            "{err}"
        );
        assert!(err.contains("axis z"), "{err}");
        let err = check_divisible([4, 64, 62], &plan).unwrap_err().to_string();
        assert!(err.contains("axis x: 62"), "{err}");
    }
}
