//! nnU-Net's `DefaultPreprocessor` for one case at inference: transpose → crop to the non-zero
//! region → normalise each channel (before resampling, as nnU-Net insists) → resample to the
//! plan's spacing (third-order spline; the coarse axis separately when anisotropic).

use super::array::Array3;
use super::plans::{NnunetPlan, Normalization};
use super::resample::resample_channel;
use crate::error::{Error, Result};

/// What the export needs to undo the preprocessing.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseGeometry {
    /// Shape after `transpose_forward`, before cropping.
    pub shape_before_crop: [usize; 3],
    /// The crop box `[lo, hi)` per (transposed) axis.
    pub bbox: [[usize; 2]; 3],
    pub shape_after_crop: [usize; 3],
    /// The case's spacing, transposed.
    pub spacing: [f64; 3],
}

/// Preprocessed channels (network input space) and the geometry to undo it.
pub struct Preprocessed {
    pub data: Vec<Array3<f32>>,
    pub geometry: CaseGeometry,
}

/// Runs the preprocessing on `channels` (each `[z, y, x]` as read, same shape) with `spacing`
/// (z, y, x) mm. `max_voxels` bounds the resampled size.
pub fn preprocess(
    plan: &NnunetPlan,
    channels: &[Array3<f32>],
    spacing: [f64; 3],
    max_voxels: usize,
) -> Result<Preprocessed> {
    let tf = plan.transpose_forward;
    let data: Vec<Array3<f32>> = channels.iter().map(|c| c.transpose(tf)).collect();
    let spacing = tf.map(|a| spacing[a]);
    let shape_before_crop = data[0].shape;
    let mask = nonzero_mask(&data);
    let bbox = bounding_box(&mask);
    let data: Vec<Array3<f32>> = data.iter().map(|c| c.crop(bbox)).collect();
    let mask = mask.crop(bbox);
    let shape_after_crop = data[0].shape;
    let new_shape: [usize; 3] = std::array::from_fn(|a| {
        ((spacing[a] / plan.spacing[a]) * shape_after_crop[a] as f64)
            .round_ties_even()
            .max(1.0) as usize
    });
    let voxels = new_shape
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n));
    if voxels.is_none_or(|v| v > max_voxels) {
        return Err(Error::config(format!(
            "resampling {shape_after_crop:?} voxels at {spacing:?} mm to the model's {:?} mm gives \
             {new_shape:?} voxels, beyond the limit of {max_voxels} (--max-voxels)",
            plan.spacing
        )));
    }
    let data = data
        .into_iter()
        .zip(&plan.normalization)
        .map(|(mut c, scheme)| {
            normalize(&mut c, &mask, scheme);
            let resampled = resample_channel(
                &c.map(f64::from),
                new_shape,
                spacing,
                plan.spacing,
                &plan.data_resampling,
            );
            resampled.map(|v| v as f32)
        })
        .collect();
    Ok(Preprocessed {
        data,
        geometry: CaseGeometry {
            shape_before_crop,
            bbox,
            shape_after_crop,
            spacing,
        },
    })
}

/// `binary_fill_holes(any channel != 0)`: the non-zero voxels plus every zero voxel that the
/// background (the zero voxels 6-connected to the array's border) does not reach.
pub fn nonzero_mask(data: &[Array3<f32>]) -> Array3<bool> {
    let shape = data[0].shape;
    let mut mask = Array3::from_vec(
        shape,
        (0..data[0].len())
            .map(|i| data.iter().any(|c| c.data[i] != 0.0))
            .collect(),
    );
    let [nz, ny, nx] = shape;
    let mut outside = vec![false; mask.len()];
    let mut stack = Vec::new();
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let on_border =
                    z == 0 || y == 0 || x == 0 || z + 1 == nz || y + 1 == ny || x + 1 == nx;
                let i = mask.offset([z, y, x]);
                if on_border && !mask.data[i] && !outside[i] {
                    outside[i] = true;
                    stack.push([z, y, x]);
                }
            }
        }
    }
    while let Some([z, y, x]) = stack.pop() {
        let neighbours = [
            (z > 0).then(|| [z - 1, y, x]),
            (z + 1 < nz).then(|| [z + 1, y, x]),
            (y > 0).then(|| [z, y - 1, x]),
            (y + 1 < ny).then(|| [z, y + 1, x]),
            (x > 0).then(|| [z, y, x - 1]),
            (x + 1 < nx).then(|| [z, y, x + 1]),
        ];
        for n in neighbours.into_iter().flatten() {
            let i = mask.offset(n);
            if !mask.data[i] && !outside[i] {
                outside[i] = true;
                stack.push(n);
            }
        }
    }
    for (m, o) in mask.data.iter_mut().zip(outside) {
        *m = !o;
    }
    mask
}

/// `[first, last + 1)` of the true voxels per axis; the whole array when none is true.
pub fn bounding_box(mask: &Array3<bool>) -> [[usize; 2]; 3] {
    let [nz, ny, nx] = mask.shape;
    let mut lo = [usize::MAX; 3];
    let mut hi = [0; 3];
    for z in 0..nz {
        for y in 0..ny {
            let row = mask.offset([z, y, 0]);
            for x in 0..nx {
                if mask.data[row + x] {
                    for (a, v) in [z, y, x].into_iter().enumerate() {
                        lo[a] = lo[a].min(v);
                        hi[a] = hi[a].max(v + 1);
                    }
                }
            }
        }
    }
    if lo[0] == usize::MAX {
        return [[0, nz], [0, ny], [0, nx]];
    }
    [[lo[0], hi[0]], [lo[1], hi[1]], [lo[2], hi[2]]]
}

/// One channel normalised in place (float32 arithmetic as numpy's, statistics in f64).
pub fn normalize(c: &mut Array3<f32>, mask: &Array3<bool>, scheme: &Normalization) {
    match scheme {
        Normalization::ZScore { use_mask } => {
            let inside = |i: usize| !*use_mask || mask.data[i];
            let (n, sum) = c
                .data
                .iter()
                .enumerate()
                .filter(|(i, _)| inside(*i))
                .fold((0usize, 0.0f64), |(n, s), (_, &v)| (n + 1, s + v as f64));
            if n == 0 {
                return;
            }
            let mean = sum / n as f64;
            let var = c
                .data
                .iter()
                .enumerate()
                .filter(|(i, _)| inside(*i))
                .map(|(_, &v)| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / n as f64;
            let (mean, std) = (mean as f32, (var.sqrt() as f32).max(1e-8));
            for (i, v) in c.data.iter_mut().enumerate() {
                if inside(i) {
                    *v = (*v - mean) / std;
                }
            }
        }
        Normalization::Ct {
            mean,
            std,
            lower,
            upper,
        } => {
            let (mean, std) = (*mean as f32, (*std as f32).max(1e-8));
            let (lower, upper) = (*lower as f32, *upper as f32);
            for v in &mut c.data {
                *v = (v.clamp(lower, upper) - mean) / std;
            }
        }
        Normalization::NoNormalization => {}
        Normalization::RescaleTo01 => {
            let min = c.data.iter().copied().fold(f32::INFINITY, f32::min);
            c.data.iter_mut().for_each(|v| *v -= min);
            let max = c
                .data
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max)
                .max(1e-8);
            c.data.iter_mut().for_each(|v| *v /= max);
        }
        Normalization::RgbTo01 => c.data.iter_mut().for_each(|v| *v /= 255.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_holes_keeps_enclosed_zeros_and_bbox_is_half_open() {
        // A 5×5×5 shell of ones around a zero centre, inside a 7×7×7 zero array.
        let mut a = Array3::<f32>::zeros([7, 7, 7]);
        for z in 1..6 {
            for y in 1..6 {
                for x in 1..6 {
                    let shell = [z, y, x].iter().any(|&v| v == 1 || v == 5);
                    if shell {
                        let i = a.offset([z, y, x]);
                        a.data[i] = 1.0;
                    }
                }
            }
        }
        let mask = nonzero_mask(&[a.clone()]);
        assert!(
            mask.data[mask.offset([3, 3, 3])],
            "the enclosed hole is filled"
        );
        assert!(!mask.data[mask.offset([0, 3, 3])]);
        assert_eq!(bounding_box(&mask), [[1, 6], [1, 6], [1, 6]]);
        // A hole open to the border through a tunnel stays outside.
        let i = a.offset([3, 3, 5]);
        a.data[i] = 0.0;
        let i = a.offset([3, 3, 6]);
        a.data[i] = 0.0;
        let mask = nonzero_mask(&[a]);
        assert!(!mask.data[mask.offset([3, 3, 3])]);
        assert_eq!(
            bounding_box(&Array3::from_vec([1, 1, 2], vec![false, false])),
            [[0, 1], [0, 1], [0, 2]]
        );
    }

    #[test]
    fn zscore_with_mask_leaves_outside_voxels_alone() {
        let mut c = Array3::from_vec([1, 1, 4], vec![0.0f32, 2.0, 4.0, 6.0]);
        let mask = Array3::from_vec([1, 1, 4], vec![false, true, true, true]);
        normalize(&mut c, &mask, &Normalization::ZScore { use_mask: true });
        let std = (8.0f32 / 3.0).sqrt();
        assert_eq!(c.data[0], 0.0);
        assert!((c.data[1] + 2.0 / std).abs() < 1e-6 && c.data[2].abs() < 1e-6);
        let mut ct = Array3::from_vec([1, 1, 3], vec![-2000.0f32, 40.0, 5000.0]);
        let scheme = Normalization::Ct {
            mean: 40.0,
            std: 10.0,
            lower: -1000.0,
            upper: 1000.0,
        };
        normalize(&mut ct, &mask, &scheme);
        assert_eq!(ct.data, vec![-104.0, 0.0, 96.0]);
    }
}
