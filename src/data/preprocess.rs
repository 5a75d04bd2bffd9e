//! Training-time preprocessing (nnU-Net-like): crop each case to its body bounding box, resample to one
//! target spacing (trilinear image, nearest label), z-score the image with statistics from the body, and
//! remember where each class lies for foreground-oversampled patches. The inverse mapping brings network
//! probabilities back to the native grid. A disk cache keeps preprocessed cases between runs.

use serde::{Deserialize, Serialize};

use super::dataset::Case;
use super::resample::{grid_for_spacing, resample_linear, resample_nearest};
use super::{Affine, Image};

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
    let mut target: [f64; 3] = std::array::from_fn(|c| percentile(&mut axis(c), 50.0));
    let coarse = (0..3)
        .max_by(|&a, &b| target[a].total_cmp(&target[b]))
        .unwrap_or(2);
    let finest = target.iter().copied().fold(f64::INFINITY, f64::min);
    if finest > 0.0 && target[coarse] / finest > 3.0 {
        let others = (0..3)
            .filter(|&c| c != coarse)
            .map(|c| target[c])
            .fold(0.0, f64::max);
        target[coarse] = percentile(&mut axis(coarse), 10.0).max(others);
    }
    target
}

/// Linear-interpolated percentile (numpy's default), `q` in 0..=100. Sorts `v`.
pub fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 100.0) / 100.0 * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
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
    /// The mapping back to the native grid (the preprocessed affine is recomputed from the crop).
    /// Recomputes `class_locations` after the label changed (e.g. made sparse).
    pub fn refresh_class_locations(&mut self, max: usize) {
        self.class_locations = class_locations(&self.label, max);
    }

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
) -> Preprocessed {
    let fg = label_bbox(&case.label.data, case.label.dims);
    let (image, geom) = preprocess_with_bbox(&case.image, cfg, target_spacing, fg);
    let (lo, hi) = geom.crop;
    let cropped = crop(&case.label.data, case.image.dims, lo, hi);
    let crop_dims = std::array::from_fn(|c| hi[c] - lo[c]);
    let label = resample_nearest(&cropped, crop_dims, geom.dims);
    let class_locations = class_locations(&label, cfg.max_class_locations);
    Preprocessed {
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
    }
}

/// Preprocesses an image alone (inference): returns the z-scored voxels on the preprocessed grid and the
/// geometry for [`restore_to_original`].
pub fn preprocess_image(
    image: &Image,
    cfg: &PreprocessConfig,
    target_spacing: [f64; 3],
) -> (Vec<f32>, PreprocessGeometry) {
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
) -> (Vec<f32>, PreprocessGeometry) {
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
    (data, geom)
}

/// `body_threshold × p99` of the intensities, or `None` when the image has no positive range to threshold.
fn body_threshold(data: &[f32], fraction: f32) -> Option<f32> {
    // an even subsample of at most ~1M voxels is plenty for a percentile.
    let step = (data.len() / (1 << 20)).max(1);
    let mut v: Vec<f64> = data
        .iter()
        .step_by(step)
        .filter(|x| x.is_finite())
        .map(|&x| x as f64)
        .collect();
    let p99 = percentile(&mut v, 99.0) as f32;
    let min = v.first().copied().unwrap_or(0.0) as f32;
    (p99 > 0.0 && p99 > min).then(|| (fraction * p99).max(min))
}

/// Bounding box `[lo, hi)` of the voxels above `t`. A plane along an axis counts as body when at least
/// 1/1000 of its voxels are above the threshold (isolated noise voxels in the air do not widen the box).
fn body_bbox(data: &[f32], dims: [usize; 3], t: f32) -> Option<([usize; 3], [usize; 3])> {
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
fn label_bbox(data: &[u8], dims: [usize; 3]) -> Option<([usize; 3], [usize; 3])> {
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
fn shifted(affine: &Affine, lo: [usize; 3]) -> Affine {
    let mut a = *affine;
    let o = affine.apply([lo[0] as f64, lo[1] as f64, lo[2] as f64]);
    for r in 0..3 {
        a.0[r][3] = o[r];
    }
    a
}

/// Copies the box `[lo, hi)` out of a volume.
fn crop<T: Copy>(data: &[T], dims: [usize; 3], lo: [usize; 3], hi: [usize; 3]) -> Vec<T> {
    let mut out = Vec::with_capacity((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
    for k in lo[2]..hi[2] {
        for j in lo[1]..hi[1] {
            let row = dims[0] * (j + dims[1] * k);
            out.extend_from_slice(&data[row + lo[0]..row + hi[0]]);
        }
    }
    out
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
pub(crate) mod tests {
    use super::*;
    use crate::data::LabelMap;

    /// A 40×36×8 case at 0.5×0.5×3 mm: air (0) around a body box i 4..36, j 3..33, k 1..7 with a smooth
    /// intensity, and an ellipsoid labelled 2 with a 1-labelled rim band.
    pub(crate) fn case(id: &str) -> Case {
        let dims = [40, 36, 8];
        let aff = Affine::from_spacing_origin([0.5, 0.5, 3.0], [-10.0, 5.0, 20.0]);
        let mut image = Image::zeros(dims, [0.5, 0.5, 3.0], aff);
        let mut label = LabelMap::zeros(dims, [0.5, 0.5, 3.0], aff);
        for k in 0..8 {
            for j in 0..36 {
                for i in 0..40 {
                    if (4..36).contains(&i) && (3..33).contains(&j) && (1..7).contains(&k) {
                        image.set(
                            i,
                            j,
                            k,
                            100.0 + 3.0 * i as f32 + 2.0 * j as f32 + 10.0 * k as f32,
                        );
                    }
                    let (x, y, z) = (
                        (i as f64 - 20.0) / 10.0,
                        (j as f64 - 18.0) / 8.0,
                        (k as f64 - 4.0) / 2.5,
                    );
                    let r = x * x + y * y + z * z;
                    label.set(
                        i,
                        j,
                        k,
                        if r < 0.5 {
                            2
                        } else if r < 1.0 {
                            1
                        } else {
                            0
                        },
                    );
                }
            }
        }
        Case {
            id: id.into(),
            image,
            label,
        }
    }

    #[test]
    fn target_spacing_uses_median_and_the_anisotropic_rule() {
        let aniso = [
            [0.5, 0.5, 3.0],
            [0.5, 0.5, 3.0],
            [0.6, 0.6, 4.0],
            [0.4, 0.4, 3.0],
            [0.5, 0.5, 2.5],
        ];
        let t = plan_target_spacing(&aniso);
        assert_eq!(&t[..2], &[0.5, 0.5]);
        // 10th percentile of z = [2.5, 3, 3, 3, 4] (linear): 2.5 + 0.4 × 0.5 = 2.7, not the median 3.
        assert!((t[2] - 2.7).abs() < 1e-12, "{t:?}");
        let iso = [[1.0, 1.0, 1.2], [1.0, 1.0, 1.4], [1.0, 1.0, 1.3]];
        assert_eq!(plan_target_spacing(&iso), [1.0, 1.0, 1.3]);
    }

    #[test]
    fn crop_removes_the_air_border_and_keeps_the_label() {
        let c = case("a");
        let cfg = PreprocessConfig::default();
        let p = preprocess_case(&c, &cfg, [0.5, 0.5, 3.0]);
        // The body box, widened by nothing: the ellipsoid (i 10..31, j 10..27, k 2..7) lies inside it.
        assert_eq!(p.crop, ([4, 3, 1], [36, 33, 7]));
        assert_eq!(p.dims, [32, 30, 6]);
        assert_eq!(p.image.len(), 32 * 30 * 6);
        let n_fg = |l: &[u8]| l.iter().filter(|&&v| v != 0).count();
        assert_eq!(n_fg(&p.label), n_fg(&c.label.data));
        // Without cropping the full grid is kept.
        let full = preprocess_case(
            &c,
            &PreprocessConfig {
                crop_to_nonzero: false,
                ..cfg
            },
            [0.5, 0.5, 3.0],
        );
        assert_eq!(full.crop, ([0; 3], [40, 36, 8]));
    }

    #[test]
    fn z_score_is_standard_inside_the_body() {
        let c = case("a");
        let cfg = PreprocessConfig {
            crop_to_nonzero: false,
            ..Default::default()
        };
        let p = preprocess_case(&c, &cfg, [0.5, 0.5, 3.0]);
        let body: Vec<f64> = p
            .image
            .iter()
            .zip(&c.image.data)
            .filter(|(_, raw)| **raw > 0.0)
            .map(|(z, _)| *z as f64)
            .collect();
        let mean = body.iter().sum::<f64>() / body.len() as f64;
        let sd = (body.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / body.len() as f64).sqrt();
        assert!(
            mean.abs() < 1e-4 && (sd - 1.0).abs() < 1e-4,
            "mean {mean} sd {sd}"
        );
        // Air lies far below the body mean.
        assert!(p.image[0] < -2.0);
    }

    #[test]
    fn class_locations_point_at_their_class() {
        let c = case("a");
        let cfg = PreprocessConfig {
            max_class_locations: 50,
            ..Default::default()
        };
        let p = preprocess_case(&c, &cfg, [0.5, 0.5, 3.0]);
        assert_eq!(p.class_locations.len(), 3);
        assert!(p.class_locations[0].is_empty());
        for class in 1..3u8 {
            let locs = &p.class_locations[class as usize];
            assert_eq!(locs.len(), 50);
            assert!(locs.iter().all(|&n| p.label[n as usize] == class));
        }
    }

    #[test]
    fn restore_brings_one_hot_labels_back_to_the_native_grid() {
        let c = case("a");
        let cfg = PreprocessConfig::default();
        let target = [0.4, 0.4, 2.0];
        let p = preprocess_case(&c, &cfg, target);
        let (img, geom) = preprocess_image(&c.image, &cfg, target);
        assert_eq!(geom, p.geometry());
        assert_eq!(img, p.image);
        assert_eq!(p.dims, [40, 38, 9]); // 32×30×6 voxels of 0.5×0.5×3 mm at ~0.4×0.4×2 mm
        let probs: Vec<Vec<f32>> = (0..3u8)
            .map(|k| {
                p.label
                    .iter()
                    .map(|&v| if v == k { 1.0 } else { 0.0 })
                    .collect()
            })
            .collect();
        let back = restore_to_original(&probs, &geom);
        assert!(back.iter().all(|ch| ch.len() == 40 * 36 * 8));
        let agree = (0..back[0].len())
            .filter(|&n| {
                let best = (0..3)
                    .max_by(|&a, &b| back[a][n].total_cmp(&back[b][n]))
                    .unwrap();
                best == c.label.data[n] as usize
            })
            .count();
        assert!(
            agree as f64 >= 0.99 * back[0].len() as f64,
            "{agree} of {}",
            back[0].len()
        );
    }
}
