//! Training-time preprocessing (nnU-Net-like): crop each case to its body bounding box, resample to one
//! target spacing (trilinear image, nearest label), z-score the image with statistics from the body, and
//! remember where each class lies for foreground-oversampled patches. The inverse mapping brings network
//! probabilities back to the native grid. A disk cache keeps preprocessed cases between runs.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::crop::{body_bbox, body_threshold, crop, label_bbox, shifted};
use super::resample::{grid_for_spacing, resample_linear, resample_nearest};
use crate::data::dataset::Case;
use crate::data::{Affine, Image};
use crate::error::Result;
use crate::util::limits;
use crate::util::stats::percentile_in_place;

/// How cases are preprocessed. Part of the cache fingerprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreprocessConfig {
    /// Target voxel size in mm, in the volume's `(i, j, k)` order; `None` plans it from the dataset
    /// ([`plan_target_spacing`]).
    pub target_spacing: Option<[f64; 3]>,
    /// Crop to the body's bounding box (cuts the air around, saves memory and time).
    pub crop_to_nonzero: bool,
    /// Body threshold as a fraction of the case's 99th intensity percentile.
    pub body_threshold: f32,
    /// Most voxel indices kept per class for foreground sampling (an even subsample).
    pub max_class_locations: usize,
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig {
            target_spacing: None,
            crop_to_nonzero: true,
            body_threshold: 0.05,
            max_class_locations: 10_000,
        }
    }
}

/// nnU-Net's target spacing rule: the median spacing per axis; when the median grid is anisotropic
/// (largest / smallest spacing > 3) the coarse axis takes its 10th percentile instead (but not finer than
/// the other axes), so thick-slice cases are not over-interpolated. An empty list gives 1 mm.
pub fn plan_target_spacing(spacings: &[[f64; 3]]) -> [f64; 3] {
    if spacings.is_empty() {
        return [1.0; 3];
    }
    let axis = |c: usize| -> Vec<f64> { spacings.iter().map(|s| s[c]).collect() };
    let mut target: [f64; 3] =
        std::array::from_fn(|c| percentile_in_place(&mut axis(c), 50.0).unwrap_or(0.0));
    let coarse = (0..3)
        .max_by(|&a, &b| target[a].total_cmp(&target[b]))
        .unwrap_or(2);
    let finest = target.iter().copied().fold(f64::INFINITY, f64::min);
    if finest > 0.0 && target[coarse] / finest > 3.0 {
        let others = (0..3)
            .filter(|&c| c != coarse)
            .map(|c| target[c])
            .fold(0.0, f64::max);
        target[coarse] = percentile_in_place(&mut axis(coarse), 10.0)
            .unwrap_or(0.0)
            .max(others);
    }
    target
}

/// Where a preprocessed volume came from, enough to map predictions back to the native grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreprocessGeometry {
    pub original_dims: [usize; 3],
    pub original_affine: Affine,
    pub original_spacing: [f64; 3],
    /// Crop box in the *native* grid, `[lo, hi)` per axis (i, j, k).
    pub crop: ([usize; 3], [usize; 3]),
    /// Preprocessed (cropped + resampled) grid.
    pub dims: [usize; 3],
    pub spacing: [f64; 3],
    pub affine: Affine,
}

/// One preprocessed training case, memory order `i + nx (j + ny k)` like [`super::Volume`].
#[derive(Clone, Debug, PartialEq)]
pub struct Preprocessed {
    pub id: String,
    /// Z-scored image on the preprocessed grid.
    pub image: Vec<f32>,
    pub label: Vec<u8>,
    /// `[nx, ny, nz]` of the preprocessed grid.
    pub dims: [usize; 3],
    /// Actual voxel size of the preprocessed grid (close to the target; see `grid_for_spacing`).
    pub spacing: [f64; 3],
    /// Crop box in the native grid, `[lo, hi)` per axis.
    pub crop: ([usize; 3], [usize; 3]),
    pub original_dims: [usize; 3],
    pub original_affine: Affine,
    pub original_spacing: [f64; 3],
    /// Indexed by label value: `class_locations[c]` holds up to `max_class_locations` voxel indices of
    /// class `c` (an even subsample); entry 0 (background) and the ignore value 255 are never filled.
    pub class_locations: Vec<Vec<u32>>,
}

impl Preprocessed {
    /// Recomputes `class_locations` after the label changed (e.g. made sparse).
    pub fn refresh_class_locations(&mut self, max: usize) {
        self.class_locations = class_locations(&self.label, max);
    }

    /// Pads the case to at least `min` voxels per axis (`[nx, ny, nz]`), centred, with background
    /// (image 0, the z-score mean; label 0), as nnU-Net pads volumes smaller than its patch.
    /// Returns whether it padded. A padded case no longer maps back to its native grid
    /// ([`Preprocessed::geometry`]): for training cases only.
    pub fn pad_to(&mut self, min: [usize; 3], max_class_locations: usize) -> bool {
        let to: [usize; 3] = std::array::from_fn(|a| self.dims[a].max(min[a]));
        if to == self.dims {
            return false;
        }
        let lo: [usize; 3] = std::array::from_fn(|a| (to[a] - self.dims[a]) / 2);
        let [nx, ny, nz] = self.dims;
        let mut image = vec![0f32; to.iter().product()];
        let mut label = vec![0u8; image.len()];
        for k in 0..nz {
            for j in 0..ny {
                let src = nx * (j + ny * k);
                let dst = lo[0] + to[0] * (j + lo[1] + to[1] * (k + lo[2]));
                image[dst..dst + nx].copy_from_slice(&self.image[src..src + nx]);
                label[dst..dst + nx].copy_from_slice(&self.label[src..src + nx]);
            }
        }
        (self.image, self.label, self.dims) = (image, label, to);
        self.refresh_class_locations(max_class_locations);
        true
    }

    /// The mapping back to the native grid (the preprocessed affine is recomputed from the crop).
    pub fn geometry(&self) -> PreprocessGeometry {
        let (lo, hi) = self.crop;
        let crop_dims = std::array::from_fn(|c| hi[c] - lo[c]);
        let crop_affine = shifted(&self.original_affine, lo);
        let affine = super::resample::affine_for_dims(&crop_affine, crop_dims, self.dims);
        PreprocessGeometry {
            original_dims: self.original_dims,
            original_affine: self.original_affine,
            original_spacing: self.original_spacing,
            crop: self.crop,
            dims: self.dims,
            spacing: self.spacing,
            affine,
        }
    }
}

/// Preprocesses one case (see the module doc). The crop box always contains every labelled voxel.
pub fn preprocess_case(
    case: &Case,
    cfg: &PreprocessConfig,
    target_spacing: [f64; 3],
) -> Result<Preprocessed> {
    let fg = label_bbox(&case.label.data, case.label.dims);
    let (image, geom) = preprocess_with_bbox(&case.image, cfg, target_spacing, fg)?;
    let (lo, hi) = geom.crop;
    let cropped = crop(&case.label.data, case.image.dims, lo, hi);
    let crop_dims = std::array::from_fn(|c| hi[c] - lo[c]);
    let label = resample_nearest(&cropped, crop_dims, geom.dims);
    let class_locations = class_locations(&label, cfg.max_class_locations);
    Ok(Preprocessed {
        id: case.id.clone(),
        image,
        label,
        dims: geom.dims,
        spacing: geom.spacing,
        crop: geom.crop,
        original_dims: geom.original_dims,
        original_affine: geom.original_affine,
        original_spacing: geom.original_spacing,
        class_locations,
    })
}

/// Preprocesses an image alone (inference): returns the z-scored voxels on the preprocessed grid and the
/// geometry for [`restore_to_original`]. A grid beyond the voxel limit ([`limits`]) is an error.
pub fn preprocess_image(
    image: &Image,
    cfg: &PreprocessConfig,
    target_spacing: [f64; 3],
) -> Result<(Vec<f32>, PreprocessGeometry)> {
    preprocess_with_bbox(image, cfg, target_spacing, None)
}

/// Brings per-class probabilities (`probs[c]` on `geom.dims`) back to the full native grid: trilinear onto
/// the cropped native grid, then pasted into the full grid where outside the crop background has
/// probability 1 (channel 0) and every other class 0.
pub fn restore_to_original(probs: &[Vec<f32>], geom: &PreprocessGeometry) -> Vec<Vec<f32>> {
    let (lo, hi) = geom.crop;
    let crop_dims: [usize; 3] = std::array::from_fn(|c| hi[c] - lo[c]);
    let [nx, ny, nz] = geom.original_dims;
    probs
        .iter()
        .enumerate()
        .map(|(c, p)| {
            let native = resample_linear(p, geom.dims, crop_dims);
            let mut full = vec![if c == 0 { 1.0 } else { 0.0 }; nx * ny * nz];
            for k in 0..crop_dims[2] {
                for j in 0..crop_dims[1] {
                    let src = crop_dims[0] * (j + crop_dims[1] * k);
                    let dst = lo[0] + nx * (lo[1] + j + ny * (lo[2] + k));
                    full[dst..dst + crop_dims[0]].copy_from_slice(&native[src..src + crop_dims[0]]);
                }
            }
            full
        })
        .collect()
}

fn preprocess_with_bbox(
    image: &Image,
    cfg: &PreprocessConfig,
    target: [f64; 3],
    must_contain: Option<([usize; 3], [usize; 3])>,
) -> Result<(Vec<f32>, PreprocessGeometry)> {
    let dims = image.dims;
    let threshold = body_threshold(&image.data, cfg.body_threshold);
    let (mut lo, mut hi) = match threshold {
        Some(t) if cfg.crop_to_nonzero => body_bbox(&image.data, dims, t).unwrap_or(([0; 3], dims)),
        _ => ([0; 3], dims),
    };
    if let Some((flo, fhi)) = must_contain {
        for c in 0..3 {
            lo[c] = lo[c].min(flo[c]);
            hi[c] = hi[c].max(fhi[c]);
        }
    }
    let crop_dims: [usize; 3] = std::array::from_fn(|c| hi[c] - lo[c]);
    let crop_affine = shifted(&image.affine, lo);
    let (new_dims, affine, spacing) = grid_for_spacing(crop_dims, &crop_affine, target);
    // Absurd spacings (a 1e30 mm voxel, micrometres read as millimetres) give absurd grids.
    let what = format!(
        "resampling a {:?} volume of {:?} mm voxels to {target:?} mm",
        image.dims, image.spacing
    );
    limits::check_grid(Path::new(&what), &new_dims)?;
    let mut data = resample_linear(&crop(&image.data, dims, lo, hi), crop_dims, new_dims);
    z_score(&mut data, threshold);
    let geom = PreprocessGeometry {
        original_dims: dims,
        original_affine: image.affine,
        original_spacing: image.spacing,
        crop: (lo, hi),
        dims: new_dims,
        spacing,
        affine,
    };
    Ok((data, geom))
}

/// Z-scores in place with the mean and sd of the body voxels (above `threshold`; all voxels when there is
/// no threshold or fewer than 2 body voxels).
fn z_score(data: &mut [f32], threshold: Option<f32>) {
    let in_body = |x: f32| threshold.is_none_or(|t| x > t);
    let mut count = data.iter().filter(|&&x| in_body(x)).count();
    let use_all = count < 2;
    if use_all {
        count = data.len();
    }
    let selected = || {
        data.iter()
            .filter(move |&&x| use_all || in_body(x))
            .map(|&x| x as f64)
    };
    let mean = selected().sum::<f64>() / count.max(1) as f64;
    let var = selected().map(|x| (x - mean) * (x - mean)).sum::<f64>() / count.max(1) as f64;
    let sd = if var.sqrt() > 1e-8 { var.sqrt() } else { 1.0 };
    for x in data.iter_mut() {
        *x = ((*x as f64 - mean) / sd) as f32;
    }
}

/// Per label value 1..=254 (never the ignore value 255), an even subsample of at most `max` voxel indices.
pub(crate) fn class_locations(label: &[u8], max: usize) -> Vec<Vec<u32>> {
    let mut all: Vec<Vec<u32>> = Vec::new();
    for (n, &v) in label.iter().enumerate() {
        if v == 0 || v == 255 {
            continue;
        }
        if all.len() <= v as usize {
            all.resize(v as usize + 1, Vec::new());
        }
        all[v as usize].push(n as u32);
    }
    for locs in all.iter_mut() {
        if locs.len() > max {
            let n = locs.len();
            *locs = (0..max).map(|t| locs[t * n / max]).collect();
        }
    }
    all
}

#[cfg(test)]
#[path = "preprocess_tests.rs"]
pub(crate) mod tests;
