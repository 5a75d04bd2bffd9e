//! The paper's sparse annotation: keep the labels of every K-th slice in each of the three orientations
//! and mark every other voxel as "unlabelled" (the ignore value), so a dense dataset reproduces the
//! semi-automated setting of Çiçek et al. 2016, and its 3-fold protocol (Table 1).

use crate::run::config::SparseFold;

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

/// The annotated voxels of the paper's semi-automated protocol (Table 1), split into folds: every
/// K-th slice per orientation is annotated (as [`sparsify`]), and the annotated slices of each
/// orientation are dealt to `fold.folds` folds in turn (so every fold mixes orientations). Fold
/// `fold.fold` trains on the voxels that lie on an annotated slice of another fold and is scored
/// on the rest of the annotated voxels: those whose annotated slices are all its own. The two
/// masks are disjoint and together cover every annotated voxel.
pub fn semi_fold_masks(dims: [usize; 3], fold: &SparseFold) -> (Vec<bool>, Vec<bool>) {
    let (k, folds) = (fold.slices.max(1), fold.folds.max(1));
    let off = k / 2;
    let n = dims.iter().product::<usize>();
    let (mut train, mut test) = (vec![false; n], vec![false; n]);
    // The fold of the annotated slice at `index` along `axis`, if it is annotated.
    let slice_fold =
        |axis: usize, index: usize| (index % k == off).then(|| (index / k + axis) % folds);
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            for x in 0..dims[0] {
                let folds_here = [slice_fold(0, x), slice_fold(1, y), slice_fold(2, z)];
                let mut annotated = folds_here.iter().flatten().peekable();
                if annotated.peek().is_none() {
                    continue;
                }
                let v = x + dims[0] * (y + dims[1] * z);
                if folds_here.iter().flatten().any(|&f| f != fold.fold) {
                    train[v] = true;
                } else {
                    test[v] = true;
                }
            }
        }
    }
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semi_fold_masks_are_disjoint_and_cover_the_annotated_slices() {
        let dims = [13, 11, 9];
        let mut annotated = vec![1u8; 13 * 11 * 9];
        sparsify(&mut annotated, dims, 3, 255);
        let mut covered = vec![0usize; annotated.len()];
        for fold in 0..3 {
            let sf = SparseFold {
                slices: 3,
                folds: 3,
                fold,
            };
            let (train, test) = semi_fold_masks(dims, &sf);
            assert!(
                train.iter().zip(&test).all(|(a, b)| !(*a && *b)),
                "disjoint"
            );
            for (v, (&tr, &te)) in train.iter().zip(&test).enumerate() {
                assert_eq!(tr || te, annotated[v] == 1, "union = the annotated voxels");
                covered[v] += te as usize;
            }
            assert!(test.iter().any(|&t| t) && train.iter().any(|&t| t));
        }
        // Each annotated voxel is scored in at most one fold (exactly one unless its slices
        // belong to different folds, when every fold trains on it).
        assert!(covered.iter().all(|&c| c <= 1));
    }

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
