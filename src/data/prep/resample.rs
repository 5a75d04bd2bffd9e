//! Moving voxels between grids: label placement by world position (a label stored on a different grid than
//! its image, e.g. fewer slices), and spacing changes for training (trilinear images, nearest labels).
//!
//! Grids follow NIfTI: voxel `(i, j, k)` is the *centre* of a voxel, memory order `i + nx * (j + ny * k)`.

use crate::data::{Affine, Image, LabelMap, Volume};

/// Places `label` onto the grid `(dims, affine)` by world position, nearest neighbour: each target voxel
/// centre goes to world through `affine`, then into the label's voxel space through the inverse of its
/// affine, and takes the label of the voxel it falls in. Target voxels outside the label's grid get 0.
///
/// Used when a label is stored on its own grid (e.g. 23 slices against a 34-slice image). A label with a
/// singular affine cannot be placed anywhere; the result is then all background.
pub fn labels_onto_grid(label: &LabelMap, dims: [usize; 3], affine: &Affine) -> LabelMap {
    let mut out = LabelMap::zeros(dims, affine.spacing(), *affine);
    let Some(inv) = label.affine.inverse() else {
        return out;
    };
    // target voxel → source voxel is one affine map: compose once.
    let m = compose(&inv, affine);
    let [sx, sy, sz] = label.dims;
    let (nx, ny) = (dims[0], dims[1]);
    par_chunks(&mut out.data, nx * ny, |k, plane| {
        for j in 0..ny {
            for i in 0..nx {
                let p = m.apply([i as f64, j as f64, k as f64]);
                let (Some(a), Some(b), Some(c)) =
                    (nearest(p[0], sx), nearest(p[1], sy), nearest(p[2], sz))
                else {
                    continue;
                };
                plane[i + nx * j] = label.data[a + sx * (b + sy * c)];
            }
        }
    });
    out
}

/// The grid a spacing change produces, nnU-Net / SimpleITK style: `dims' = round(dims · spacing / target)`
/// (at least 1), and the new grid covers exactly the same physical extent as the old one, so the actual
/// new spacing is `extent / dims'` (close to `target`) and the outer voxel corners coincide.
/// Returns `(dims', affine', spacing')`.
pub fn grid_for_spacing(
    dims: [usize; 3],
    affine: &Affine,
    target: [f64; 3],
) -> ([usize; 3], Affine, [f64; 3]) {
    let spacing = affine.spacing();
    let new_dims: [usize; 3] = std::array::from_fn(|c| {
        let t = if target[c] > 0.0 && target[c].is_finite() {
            target[c]
        } else {
            spacing[c]
        };
        ((dims[c] as f64 * spacing[c] / t).round() as usize).max(1)
    });
    let new_affine = affine_for_dims(affine, dims, new_dims);
    (new_dims, new_affine, new_affine.spacing())
}

/// The affine of the grid with `to` voxels covering the same extent as `affine`'s grid of `from` voxels.
pub fn affine_for_dims(affine: &Affine, from: [usize; 3], to: [usize; 3]) -> Affine {
    let scale: [f64; 3] = std::array::from_fn(|c| from[c] as f64 / to[c].max(1) as f64);
    let mut out = *affine;
    // new voxel 0's centre, in old voxel coordinates (half a new voxel inside the shared corner).
    let origin = affine.apply(std::array::from_fn(|c| 0.5 * scale[c] - 0.5));
    for r in 0..3 {
        for c in 0..3 {
            out.0[r][c] = affine.0[r][c] * scale[c];
        }
        out.0[r][3] = origin[r];
    }
    out
}

/// Trilinear resampling of an image to a new spacing (same extent, see [`grid_for_spacing`]).
pub fn resample_image(img: &Image, spacing: [f64; 3]) -> Image {
    resample_volume(img, spacing, resample_linear)
}

/// Nearest-neighbour resampling of a label map to a new spacing (values are kept, never blended).
pub fn resample_labels(lab: &LabelMap, spacing: [f64; 3]) -> LabelMap {
    resample_volume(lab, spacing, resample_nearest)
}

/// `vol` on the grid of `spacing` (see [`grid_for_spacing`]), its voxels resampled by `resample`.
fn resample_volume<T>(
    vol: &Volume<T>,
    spacing: [f64; 3],
    resample: impl Fn(&[T], [usize; 3], [usize; 3]) -> Vec<T>,
) -> Volume<T> {
    let (dims, affine, new_spacing) = grid_for_spacing(vol.dims, &vol.affine, spacing);
    Volume {
        data: resample(&vol.data, vol.dims, dims),
        dims,
        spacing: new_spacing,
        affine,
        nifti_header: None,
    }
}

/// Trilinear resampling of several channels (e.g. class probabilities) between two grids that cover the
/// same extent, e.g. from the network's grid back to the native one before the argmax.
pub fn resample_channels_to(
    channels: &[Vec<f32>],
    from_dims: [usize; 3],
    to_dims: [usize; 3],
) -> Vec<Vec<f32>> {
    channels
        .iter()
        .map(|c| resample_linear(c, from_dims, to_dims))
        .collect()
}

/// For each target index along one axis: the two source neighbours and the weight of the second.
/// Target centre `t` sits at source coordinate `(t + 0.5) · from / to − 0.5` (clamped to the source).
fn axis_table(from: usize, to: usize) -> Vec<(usize, usize, f32)> {
    let scale = from as f64 / to as f64;
    (0..to)
        .map(|t| {
            let x = ((t as f64 + 0.5) * scale - 0.5).clamp(0.0, (from - 1) as f64);
            let i0 = x.floor() as usize;
            let i1 = (i0 + 1).min(from - 1);
            (i0, i1, (x - i0 as f64) as f32)
        })
        .collect()
}

/// Trilinear resampling of a volume in memory order `i + nx (j + ny k)` from `from` to `to` voxels.
/// Identical grids return a copy; an empty source gives zeros.
pub fn resample_linear(data: &[f32], from: [usize; 3], to: [usize; 3]) -> Vec<f32> {
    let n_to = to[0] * to[1] * to[2];
    if from == to {
        return data.to_vec();
    }
    if from.contains(&0) || data.len() != from[0] * from[1] * from[2] {
        return vec![0.0; n_to];
    }
    let [tx, ty, tz] = [
        axis_table(from[0], to[0]),
        axis_table(from[1], to[1]),
        axis_table(from[2], to[2]),
    ];
    let (fx, fxy) = (from[0], from[0] * from[1]);
    let mut out = vec![0.0f32; n_to];
    par_chunks(&mut out, to[0] * to[1], |k, plane| {
        let (k0, k1, wk) = tz[k];
        for (j, &(j0, j1, wj)) in ty.iter().enumerate() {
            let rows = [
                k0 * fxy + j0 * fx,
                k0 * fxy + j1 * fx,
                k1 * fxy + j0 * fx,
                k1 * fxy + j1 * fx,
            ];
            let wr = [
                (1.0 - wk) * (1.0 - wj),
                (1.0 - wk) * wj,
                wk * (1.0 - wj),
                wk * wj,
            ];
            for (i, &(i0, i1, wi)) in tx.iter().enumerate() {
                let mut v = 0.0f32;
                for r in 0..4 {
                    let (a, b) = (data[rows[r] + i0], data[rows[r] + i1]);
                    v += wr[r] * (a + wi * (b - a));
                }
                plane[i + to[0] * j] = v;
            }
        }
    });
    out
}

/// Nearest-neighbour resampling (same geometry convention as [`resample_linear`]).
pub fn resample_nearest<T: Copy + Default + Send + Sync>(
    data: &[T],
    from: [usize; 3],
    to: [usize; 3],
) -> Vec<T> {
    let n_to = to[0] * to[1] * to[2];
    if from == to {
        return data.to_vec();
    }
    if from.contains(&0) || data.len() != from[0] * from[1] * from[2] {
        return vec![T::default(); n_to];
    }
    let near = |f: usize, t: usize| -> Vec<usize> {
        let scale = f as f64 / t as f64;
        (0..t)
            .map(|i| (((i as f64 + 0.5) * scale - 0.5).round().max(0.0) as usize).min(f - 1))
            .collect()
    };
    let [nx, ny, nz] = [
        near(from[0], to[0]),
        near(from[1], to[1]),
        near(from[2], to[2]),
    ];
    let mut out = vec![T::default(); n_to];
    par_chunks(&mut out, to[0] * to[1], |k, plane| {
        for (j, &sj) in ny.iter().enumerate() {
            let row = from[0] * (sj + from[1] * nz[k]);
            for (i, &si) in nx.iter().enumerate() {
                plane[i + to[0] * j] = data[row + si];
            }
        }
    });
    out
}

/// `a ∘ b` (apply `b` first).
fn compose(a: &Affine, b: &Affine) -> Affine {
    let mut out = Affine::identity();
    for r in 0..3 {
        for c in 0..4 {
            let mut s: f64 = (0..3).map(|t| a.0[r][t] * b.0[t][c]).sum();
            if c == 3 {
                s += a.0[r][3];
            }
            out.0[r][c] = s;
        }
    }
    out
}

/// The voxel index whose cell contains fractional coordinate `x`, or `None` outside `[−0.5, n − 0.5)`.
/// A tiny tolerance keeps exact half-way points (floating-point noise of a world round trip) inside.
#[inline]
fn nearest(x: f64, n: usize) -> Option<usize> {
    let r = (x + 1e-6).round();
    (r >= 0.0 && r < n as f64).then_some(r as usize)
}

/// Runs `f(chunk_index, chunk)` over `chunk`-sized pieces of `data` on all available cores
/// (std threads, contiguous blocks of chunks per thread). Results do not depend on the thread count.
pub(crate) fn par_chunks<T: Send>(
    data: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let chunk = chunk.max(1);
    let n_chunks = data.len().div_ceil(chunk);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(n_chunks)
        .max(1);
    if threads <= 1 || data.len() < 1 << 14 {
        for (c, piece) in data.chunks_mut(chunk).enumerate() {
            f(c, piece);
        }
        return;
    }
    let per_thread = n_chunks.div_ceil(threads);
    std::thread::scope(|s| {
        for (t, block) in data.chunks_mut(per_thread * chunk).enumerate() {
            let f = &f;
            s.spawn(move || {
                for (c, piece) in block.chunks_mut(chunk).enumerate() {
                    f(t * per_thread + c, piece);
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(dims: [usize; 3], a: [f32; 3], b: f32) -> Vec<f32> {
        let mut v = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    v.push(a[0] * i as f32 + a[1] * j as f32 + a[2] * k as f32 + b);
                }
            }
        }
        v
    }

    #[test]
    fn linear_ramp_is_reproduced_by_trilinear() {
        // Downsampling by 2 along x, 3 along z: new centre t sits at old coordinate 2t + 0.5 / 3t + 1.
        let aff = Affine::from_spacing_origin([0.5, 1.0, 1.0], [0.0, 0.0, 0.0]);
        let img = Image {
            data: ramp([8, 5, 9], [1.0, 2.0, 3.0], 7.0),
            ..Image::zeros([8, 5, 9], [0.5, 1.0, 1.0], aff)
        };
        let out = resample_image(&img, [1.0, 1.0, 3.0]);
        assert_eq!(out.dims, [4, 5, 3]);
        assert!((out.spacing[0] - 1.0).abs() < 1e-12 && (out.spacing[2] - 3.0).abs() < 1e-12);
        // new voxel 0 centre: old corner (-0.25 mm) + half a new voxel (0.5 mm) = 0.25 mm in x; z: -0.5 + 1.5 = 1.
        assert!(
            (out.affine.origin()[0] - 0.25).abs() < 1e-12
                && (out.affine.origin()[2] - 1.0).abs() < 1e-12
        );
        for k in 0..3 {
            for j in 0..5 {
                for i in 0..4 {
                    let want =
                        (2 * i) as f32 + 0.5 + 2.0 * j as f32 + 3.0 * (3 * k + 1) as f32 + 7.0;
                    assert!(
                        (out.get(i, j, k) - want).abs() < 1e-4,
                        "({i},{j},{k}) {} vs {want}",
                        out.get(i, j, k)
                    );
                }
            }
        }
        // Upsampling: interior points (away from the clamped half-voxel border) stay on the ramp.
        let up = resample_linear(&ramp([4, 1, 1], [1.0, 0.0, 0.0], 0.0), [4, 1, 1], [8, 1, 1]);
        for t in 1..7 {
            assert!((up[t] - ((t as f32 + 0.5) * 0.5 - 0.5)).abs() < 1e-6);
        }
    }

    #[test]
    fn identity_spacing_returns_same_data_and_labels_keep_values() {
        let aff = Affine::from_spacing_origin([0.5, 0.5, 3.0], [1.0, 2.0, 3.0]);
        let mut img = Image::zeros([6, 5, 4], [0.5, 0.5, 3.0], aff);
        img.data = ramp([6, 5, 4], [0.3, -1.0, 2.0], 1.0);
        let same = resample_image(&img, [0.5, 0.5, 3.0]);
        assert_eq!(same.data, img.data);
        assert!(same.affine.max_abs_diff(&aff) < 1e-12);
        let mut lab = LabelMap::zeros([6, 5, 4], [0.5, 0.5, 3.0], aff);
        for (n, v) in lab.data.iter_mut().enumerate() {
            *v = [0, 1, 2, 255][n % 7 % 4];
        }
        let fine = resample_labels(&lab, [0.25, 0.5, 1.0]);
        assert_eq!(fine.dims, [12, 5, 12]);
        assert!(fine.data.iter().all(|v| [0, 1, 2, 255].contains(v)));
        // Each fine voxel takes the label of the coarse voxel containing its centre.
        assert_eq!(fine.get(5, 2, 7), lab.get(2, 2, 2));
        let back = resample_labels(&fine, [0.5, 0.5, 3.0]);
        assert_eq!(back.data, lab.data);
        // Probability channels go back and forth between two grids of the same extent.
        let ch = resample_channels_to(&[img.data.clone()], [6, 5, 4], [12, 5, 8]);
        assert_eq!(ch[0].len(), 12 * 5 * 8);
    }

    #[test]
    fn short_label_lands_on_the_right_slices() {
        // Image grid: 4×3×10, spacing (0.5, 0.5, 3), origin z = 0. Label grid: 5 slices starting at z = 9,
        // i.e. image slices 3..8; slice s of the label holds value s + 1 (only within one column).
        let img_aff = Affine::from_spacing_origin([0.5, 0.5, 3.0], [10.0, -5.0, 0.0]);
        let lab_aff = Affine::from_spacing_origin([0.5, 0.5, 3.0], [10.0, -5.0, 9.0]);
        let mut lab = LabelMap::zeros([4, 3, 5], [0.5, 0.5, 3.0], lab_aff);
        for k in 0..5 {
            for j in 0..3 {
                for i in 0..4 {
                    lab.set(i, j, k, if i == 1 { k as u8 + 1 } else { 0 });
                }
            }
        }
        let out = labels_onto_grid(&lab, [4, 3, 10], &img_aff);
        assert_eq!(out.dims, [4, 3, 10]);
        assert_eq!(out.affine, img_aff);
        for k in 0..10 {
            let want = if (3..8).contains(&k) { k as u8 - 2 } else { 0 };
            for j in 0..3 {
                assert_eq!(out.get(1, j, k), want, "slice {k}");
                assert_eq!(out.get(0, j, k), 0);
            }
        }
    }

    #[test]
    fn flipped_axis_and_finer_grid_map_by_world_position() {
        // Label on a grid with i reversed (negative x step); target twice as fine in x.
        let mut lab_aff = Affine::from_spacing_origin([-1.0, 1.0, 1.0], [3.0, 0.0, 0.0]);
        lab_aff.0[0][0] = -1.0;
        let mut lab = LabelMap::zeros([4, 1, 1], [1.0, 1.0, 1.0], lab_aff);
        lab.data = vec![1, 2, 3, 4]; // world x = 3, 2, 1, 0
        let tgt = Affine::from_spacing_origin([0.5, 1.0, 1.0], [-1.25, 0.0, 0.0]);
        let out = labels_onto_grid(&lab, [10, 1, 1], &tgt);
        // target x = -1.25, -0.75, …, 3.25 → label voxel i = 3 - x, rounded; |i| beyond the cells → 0.
        assert_eq!(out.data, vec![0, 0, 4, 4, 3, 3, 2, 2, 1, 1]);
    }
}
