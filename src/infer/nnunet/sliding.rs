//! nnU-Net's sliding-window prediction (`predict_sliding_window_return_logits`): pad to the
//! patch, tiles at steps of half a patch, each tile's logits averaged over its mirror images,
//! weighted by a Gaussian, accumulated — in float16, as nnU-Net stores them — and normalised.
//! Several folds: their float16 logits summed and divided by their count.

use burn::prelude::*;
use half::f16;

use super::array::Array3;
use crate::error::{Error, Result};
use crate::model::UNet3d;

/// Tile step as a fraction of the patch (`nnUNetv2_predict -step_size` default).
pub const TILE_STEP: f64 = 0.5;

#[inline]
fn r16(v: f32) -> f32 {
    f16::from_f32(v).to_f32()
}

/// Tile starts along one axis of `size` (≥ `patch`) voxels (`compute_steps_for_sliding_window`).
pub fn tile_starts(size: usize, patch: usize, step: f64) -> Vec<usize> {
    let target = patch as f64 * step;
    let n = ((size - patch) as f64 / target).ceil() as usize + 1;
    let max_step = (size - patch) as f64;
    let actual = if n > 1 {
        max_step / (n - 1) as f64
    } else {
        99999999999.0
    };
    (0..n)
        .map(|i| (actual * i as f64).round_ties_even() as usize)
        .collect()
}

/// The importance map (`compute_gaussian`, σ = patch/8, peak 10) as float16 values, zeros
/// replaced by the smallest non-zero one.
pub fn gaussian(patch: [usize; 3]) -> Array3<f32> {
    let mut g = Array3::zeros(patch);
    let centre = patch.map(|p| (p / 2) as f64);
    let sigma = patch.map(|p| p as f64 * 0.125);
    for z in 0..patch[0] {
        for y in 0..patch[1] {
            for x in 0..patch[2] {
                let d = [z, y, x];
                let e: f64 = (0..3)
                    .map(|a| ((d[a] as f64 - centre[a]) / sigma[a]).powi(2))
                    .sum();
                let i = g.offset(d);
                g.data[i] = r16((10.0 * (-0.5 * e).exp()) as f32);
            }
        }
    }
    let min = g
        .data
        .iter()
        .copied()
        .filter(|&v| v > 0.0)
        .fold(f32::INFINITY, f32::min);
    g.data
        .iter_mut()
        .filter(|v| **v == 0.0)
        .for_each(|v| *v = min);
    g
}

/// The flips of every non-empty subset of `axes`, by size then order (`itertools.combinations`).
pub fn mirror_combinations(axes: &[usize]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for size in 1..=axes.len() {
        let mut idx: Vec<usize> = (0..size).collect();
        loop {
            out.push(idx.iter().map(|&i| axes[i]).collect());
            // Next combination in lexicographic order.
            let Some(i) = (0..size).rev().find(|&i| idx[i] != i + axes.len() - size) else {
                break;
            };
            idx[i] += 1;
            for j in i + 1..size {
                idx[j] = idx[j - 1] + 1;
            }
        }
    }
    out
}

/// Logits of `models` (their float16 mean) for preprocessed `data`, `[head][z, y, x]`, values
/// rounded to float16 as nnU-Net's are.
pub fn predict_logits(
    models: &[&UNet3d],
    data: &[Array3<f32>],
    patch: [usize; 3],
    mirror_axes: Option<&[usize]>,
    device: &Device,
) -> Result<Vec<Array3<f32>>> {
    let mut sum: Option<Vec<Array3<f32>>> = None;
    for model in models {
        let logits = one_model(model, data, patch, mirror_axes, device)?;
        sum = Some(match sum {
            None => logits,
            Some(mut s) => {
                for (acc, add) in s.iter_mut().zip(&logits) {
                    acc.data
                        .iter_mut()
                        .zip(&add.data)
                        .for_each(|(a, &b)| *a = r16(*a + b));
                }
                s
            }
        });
    }
    let mut out = sum.ok_or_else(|| Error::config("no model to predict with"))?;
    if models.len() > 1 {
        let n = models.len() as f32;
        out.iter_mut()
            .flat_map(|c| c.data.iter_mut())
            .for_each(|v| *v = r16(*v / n));
    }
    Ok(out)
}

fn one_model(
    model: &UNet3d,
    data: &[Array3<f32>],
    patch: [usize; 3],
    mirror_axes: Option<&[usize]>,
    device: &Device,
) -> Result<Vec<Array3<f32>>> {
    let shape = data[0].shape;
    let padded: [usize; 3] = std::array::from_fn(|a| shape[a].max(patch[a]));
    let lo: [usize; 3] = std::array::from_fn(|a| (padded[a] - shape[a]) / 2);
    let input: Vec<Array3<f32>> = data.iter().map(|c| c.embed(padded, lo, 0.0)).collect();
    let heads = model.num_classes();
    let g = gaussian(patch);
    let mut acc: Vec<Array3<f32>> = (0..heads).map(|_| Array3::zeros(padded)).collect();
    let mut weight = Array3::<f32>::zeros(padded);
    let starts: Vec<Vec<usize>> = (0..3)
        .map(|a| tile_starts(padded[a], patch[a], TILE_STEP))
        .collect();
    let combos = mirror_combinations(mirror_axes.unwrap_or(&[]));
    let tile_len: usize = patch.iter().product();
    for &s0 in &starts[0] {
        for &s1 in &starts[1] {
            for &s2 in &starts[2] {
                let bbox = [
                    [s0, s0 + patch[0]],
                    [s1, s1 + patch[1]],
                    [s2, s2 + patch[2]],
                ];
                let mut tile = Vec::with_capacity(input.len() * tile_len);
                for c in &input {
                    tile.extend_from_slice(&c.crop(bbox).data);
                }
                let dims = [1, input.len(), patch[0], patch[1], patch[2]];
                let x = Tensor::<5>::from_data(TensorData::new(tile, dims), device);
                let mut pred = model.try_forward(x.clone())?;
                for axes in &combos {
                    let mirrored = model.try_forward(flip(x.clone(), axes))?;
                    pred = pred + flip(mirrored, axes);
                }
                let pred = pred / (combos.len() + 1) as f32;
                let values = pred
                    .into_data()
                    .try_into_vec::<f32>()
                    .map_err(|e| Error::config(format!("reading the network output: {e:?}")))?;
                for h in 0..heads {
                    let p = &values[h * tile_len..(h + 1) * tile_len];
                    add_tile(&mut acc[h], bbox, p, &g.data);
                }
                add_weights(&mut weight, bbox, &g.data);
            }
        }
    }
    let crop = [
        [lo[0], lo[0] + shape[0]],
        [lo[1], lo[1] + shape[1]],
        [lo[2], lo[2] + shape[2]],
    ];
    let mut out = Vec::with_capacity(heads);
    for mut a in acc {
        a.data
            .iter_mut()
            .zip(&weight.data)
            .for_each(|(v, &w)| *v = r16(*v / w));
        if let Some(bad) = a.data.iter().find(|v| !v.is_finite()) {
            return Err(Error::config(format!(
                "the sliding-window logits hold {bad}: the network output overflows float16"
            )));
        }
        out.push(a.crop(crop));
    }
    Ok(out)
}

/// `t` mirrored along the spatial `axes` (0 = z … 2 = x of `[batch, channel, z, y, x]`).
fn flip(t: Tensor<5>, axes: &[usize]) -> Tensor<5> {
    axes.iter().fold(t, |t, &a| t.flip([a + 2]))
}

/// `acc[bbox] += p * g`, the sum rounded to float16.
fn add_tile(acc: &mut Array3<f32>, bbox: [[usize; 2]; 3], p: &[f32], g: &[f32]) {
    let n = bbox[2][1] - bbox[2][0];
    let mut i = 0;
    for z in bbox[0][0]..bbox[0][1] {
        for y in bbox[1][0]..bbox[1][1] {
            let row = acc.offset([z, y, bbox[2][0]]);
            for (k, v) in acc.data[row..row + n].iter_mut().enumerate() {
                *v = r16(*v + p[i + k] * g[i + k]);
            }
            i += n;
        }
    }
}

fn add_weights(w: &mut Array3<f32>, bbox: [[usize; 2]; 3], g: &[f32]) {
    let n = bbox[2][1] - bbox[2][0];
    let mut i = 0;
    for z in bbox[0][0]..bbox[0][1] {
        for y in bbox[1][0]..bbox[1][1] {
            let row = w.offset([z, y, bbox[2][0]]);
            for (k, v) in w.data[row..row + n].iter_mut().enumerate() {
                *v = r16(*v + g[i + k]);
            }
            i += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_starts_match_nnunet() {
        assert_eq!(tile_starts(110, 64, 0.5), vec![0, 23, 46]);
        assert_eq!(tile_starts(48, 48, 0.5), vec![0]);
        // 34 voxels, patch 32: two tiles, the second flush with the end.
        assert_eq!(tile_starts(34, 32, 0.5), vec![0, 2]);
        assert_eq!(tile_starts(55, 48, 0.5), vec![0, 7]);
    }

    #[test]
    fn mirror_combinations_in_itertools_order() {
        assert_eq!(
            mirror_combinations(&[0, 1, 2]),
            vec![
                vec![0],
                vec![1],
                vec![2],
                vec![0, 1],
                vec![0, 2],
                vec![1, 2],
                vec![0, 1, 2]
            ]
        );
        assert_eq!(
            mirror_combinations(&[1, 2]),
            vec![vec![1], vec![2], vec![1, 2]]
        );
        assert!(mirror_combinations(&[]).is_empty());
    }

    #[test]
    fn gaussian_peaks_at_ten_and_has_no_zeros() {
        let g = gaussian([32, 48, 48]);
        assert_eq!(g.data[g.offset([16, 24, 24])], 10.0);
        let min = g.data.iter().copied().fold(f32::INFINITY, f32::min);
        // The far corners underflow float16 and take its smallest non-zero value in the map.
        assert!(min > 0.0 && min < 1e-6, "{min}");
    }
}
