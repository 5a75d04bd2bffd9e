//! Training patches: pick a case and a patch centre (foreground-oversampled, every class present has an
//! equal chance so rare classes are seen), then extract the patch through the drawn spatial augmentation
//! (trilinear image, nearest label; outside the volume the image is 0 — the z-score mean — and the label
//! 0), then augment intensities. Batches are `[B, 1, D, H, W]` with `D, H, W = z, y, x`.

use serde::{Deserialize, Serialize};

use super::augment::{AugmentConfig, SpatialTransform, draw_spatial};
use super::intensity::augment_intensity;
use super::preprocess::Preprocessed;
use crate::error::{Error, Result};
use crate::util::rng::Rng;

/// Patch geometry and foreground oversampling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplerConfig {
    /// Patch size in `[z, y, x]` order (= tensor `[D, H, W]`).
    pub patch: [usize; 3],
    pub batch_size: usize,
    /// Probability that a patch is centred on a random voxel of a random present class (≥ 1).
    pub foreground_fraction: f64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            patch: [16, 128, 128],
            batch_size: 2,
            foreground_fraction: 1.0 / 3.0,
        }
    }
}

impl SamplerConfig {
    /// Checks the settings (non-empty patch and batch, fraction in [0, 1]).
    pub fn validate(&self) -> Result<()> {
        if self.patch.contains(&0) || self.batch_size == 0 {
            return Err(Error::config(format!(
                "sampler: patch {:?} and batch size {} must be positive",
                self.patch, self.batch_size
            )));
        }
        if !(0.0..=1.0).contains(&self.foreground_fraction) {
            return Err(Error::config(format!(
                "sampler: foreground_fraction must be in [0, 1], got {}",
                self.foreground_fraction
            )));
        }
        Ok(())
    }
}

/// A batch of patches.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// `[B, 1, D, H, W]`, x fastest.
    pub image: Vec<f32>,
    /// `[B, D, H, W]`.
    pub label: Vec<u8>,
    /// `[B, 1, D, H, W]`.
    pub shape: [usize; 5],
}

/// Samples one batch from `cases` (must be non-empty; [`SamplerConfig::validate`] checks the rest).
pub fn sample_batch(
    cases: &[Preprocessed],
    cfg: &SamplerConfig,
    aug: &AugmentConfig,
    rng: &mut Rng,
) -> Batch {
    assert!(!cases.is_empty(), "sample_batch needs at least one case");
    let [pz, py, px] = cfg.patch;
    let n = px * py * pz;
    let b = cfg.batch_size;
    let mut image = vec![0f32; b * n];
    let mut label = vec![0u8; b * n];
    for s in 0..b {
        let case = &cases[rng.below(cases.len())];
        let centre = choose_centre(case, [px, py, pz], cfg.foreground_fraction, rng);
        let t = draw_spatial(aug, [px, py, pz], case.spacing, rng);
        let (img, lab) = (
            &mut image[s * n..(s + 1) * n],
            &mut label[s * n..(s + 1) * n],
        );
        extract_patch(case, centre, [px, py, pz], &t, img, lab);
        augment_intensity(img, [px, py, pz], case.spacing, aug, rng);
    }
    Batch {
        image,
        label,
        shape: [b, 1, pz, py, px],
    }
}

/// The patch centre in volume voxels `(x, y, z)`. With probability `fg` a voxel of a random present class;
/// otherwise a uniform patch position. The patch is kept inside the volume where it fits (a chosen
/// foreground voxel then still lies inside it) and centred on the volume where it does not.
pub fn choose_centre(case: &Preprocessed, patch: [usize; 3], fg: f64, rng: &mut Rng) -> [f64; 3] {
    let present: Vec<usize> = (1..case.class_locations.len())
        .filter(|&c| !case.class_locations[c].is_empty())
        .collect();
    let dims = case.dims;
    let target: Option<[usize; 3]> = (rng.chance(fg) && !present.is_empty()).then(|| {
        let locs = &case.class_locations[present[rng.below(present.len())]];
        let v = locs[rng.below(locs.len())] as usize;
        [v % dims[0], v / dims[0] % dims[1], v / (dims[0] * dims[1])]
    });
    std::array::from_fn(|a| {
        let (n, p) = (dims[a] as i64, patch[a] as i64);
        let start = if n < p {
            -((p - n) / 2)
        } else if let Some(v) = target {
            (v[a] as i64 - p / 2).clamp(0, n - p)
        } else {
            rng.below((n - p + 1) as usize) as i64
        };
        start as f64 + (p - 1) as f64 / 2.0
    })
}

/// Fills one patch (`[px, py, pz]`, x fastest) by mapping each patch voxel through `t` around `centre`.
pub fn extract_patch(
    case: &Preprocessed,
    centre: [f64; 3],
    patch: [usize; 3],
    t: &SpatialTransform,
    image: &mut [f32],
    label: &mut [u8],
) {
    let [px, py, pz] = patch;
    let half: [f64; 3] = std::array::from_fn(|a| (patch[a] as f64 - 1.0) / 2.0);
    let m = &t.linear;
    for z in 0..pz {
        for y in 0..py {
            for x in 0..px {
                let q = x + px * (y + py * z);
                let d = [x as f64 - half[0], y as f64 - half[1], z as f64 - half[2]];
                let mut p: [f64; 3] = std::array::from_fn(|r| {
                    centre[r] + m[r][0] * d[0] + m[r][1] * d[1] + m[r][2] * d[2]
                });
                if let Some(disp) = &t.displacement {
                    for (r, pr) in p.iter_mut().enumerate() {
                        *pr += disp[q][r] as f64;
                    }
                }
                let out = if t.mirror_x {
                    (px - 1 - x) + px * (y + py * z)
                } else {
                    q
                };
                image[out] = sample_linear(&case.image, case.dims, p);
                label[out] = sample_nearest(&case.label, case.dims, p);
            }
        }
    }
}

/// Trilinear sample at fractional voxel `p`; voxels outside the volume count as 0.
fn sample_linear(data: &[f32], dims: [usize; 3], p: [f64; 3]) -> f32 {
    let f = p.map(f64::floor);
    let w = [p[0] - f[0], p[1] - f[1], p[2] - f[2]];
    let base = f.map(|v| v as i64);
    let mut acc = 0.0f64;
    for corner in 0..8 {
        let o = [corner & 1, (corner >> 1) & 1, (corner >> 2) & 1];
        let mut weight = 1.0;
        let mut idx = [0usize; 3];
        let mut inside = true;
        for a in 0..3 {
            weight *= if o[a] == 1 { w[a] } else { 1.0 - w[a] };
            let v = base[a] + o[a] as i64;
            inside &= v >= 0 && v < dims[a] as i64;
            idx[a] = v.max(0) as usize;
        }
        if inside && weight != 0.0 {
            acc += weight * data[idx[0] + dims[0] * (idx[1] + dims[1] * idx[2])] as f64;
        }
    }
    acc as f32
}

/// Nearest-voxel label at fractional voxel `p`, 0 outside the volume.
fn sample_nearest(data: &[u8], dims: [usize; 3], p: [f64; 3]) -> u8 {
    let r = p.map(|v| v.round());
    if (0..3).any(|a| r[a] < 0.0 || r[a] >= dims[a] as f64) {
        return 0;
    }
    let [i, j, k] = r.map(|v| v as usize);
    data[i + dims[0] * (j + dims[1] * k)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Affine;
    use crate::data::prep::augment::{ElasticAug, RotationAug};

    /// A `dims` case with image value = voxel index and the given labelled boxes `(value, lo, hi)`.
    pub(crate) fn synthetic(
        dims: [usize; 3],
        boxes: &[(u8, [usize; 3], [usize; 3])],
    ) -> Preprocessed {
        let n = dims.iter().product::<usize>();
        let mut label = vec![0u8; n];
        for &(v, lo, hi) in boxes {
            for k in lo[2]..hi[2] {
                for j in lo[1]..hi[1] {
                    for i in lo[0]..hi[0] {
                        label[i + dims[0] * (j + dims[1] * k)] = v;
                    }
                }
            }
        }
        let mut class_locations = vec![Vec::new(); 3];
        for (idx, &v) in label.iter().enumerate() {
            if v > 0 {
                class_locations[v as usize].push(idx as u32);
            }
        }
        Preprocessed {
            id: "s".into(),
            image: (0..n).map(|v| v as f32).collect(),
            label,
            dims,
            spacing: [0.5, 0.5, 2.0],
            crop: ([0; 3], dims),
            original_dims: dims,
            original_affine: Affine::identity(),
            original_spacing: [0.5, 0.5, 2.0],
            class_locations,
        }
    }

    fn crop(case: &Preprocessed, start: [usize; 3], patch: [usize; 3]) -> (Vec<f32>, Vec<u8>) {
        let (mut img, mut lab) = (Vec::new(), Vec::new());
        for z in 0..patch[2] {
            for y in 0..patch[1] {
                for x in 0..patch[0] {
                    let i = start[0]
                        + x
                        + case.dims[0] * (start[1] + y + case.dims[1] * (start[2] + z));
                    img.push(case.image[i]);
                    lab.push(case.label[i]);
                }
            }
        }
        (img, lab)
    }

    #[test]
    fn no_augmentation_gives_a_plain_crop() {
        let case = synthetic([20, 16, 6], &[(1, [5, 5, 2], [9, 9, 4])]);
        let cfg = SamplerConfig {
            patch: [4, 8, 10],
            batch_size: 3,
            foreground_fraction: 0.5,
        };
        let mut rng = Rng::new(11);
        let batch = sample_batch(
            std::slice::from_ref(&case),
            &cfg,
            &AugmentConfig::none(),
            &mut rng,
        );
        assert_eq!(batch.shape, [3, 1, 4, 8, 10]);
        let n = 4 * 8 * 10;
        for s in 0..3 {
            // recover the crop start from the first voxel (image value = voxel index).
            let v = batch.image[s * n] as usize;
            let start = [v % 20, v / 20 % 16, v / 320];
            let (img, lab) = crop(&case, start, [10, 8, 4]);
            assert_eq!(&batch.image[s * n..(s + 1) * n], &img[..]);
            assert_eq!(&batch.label[s * n..(s + 1) * n], &lab[..]);
        }
    }

    #[test]
    fn mirror_flips_x() {
        let case = synthetic([6, 5, 3], &[(2, [0, 0, 0], [2, 5, 3])]);
        let cfg = SamplerConfig {
            patch: [3, 5, 6],
            batch_size: 1,
            foreground_fraction: 0.0,
        };
        let aug = AugmentConfig {
            mirror_x: 1.0,
            ..AugmentConfig::none()
        };
        let batch = sample_batch(std::slice::from_ref(&case), &cfg, &aug, &mut Rng::new(2));
        for q in 0..90 {
            let (x, rest) = (q % 6, q / 6);
            let src = (5 - x) + 6 * rest;
            assert_eq!(batch.image[q], case.image[src]);
            assert_eq!(batch.label[q], case.label[src]);
        }
    }

    #[test]
    fn foreground_is_oversampled_including_rare_classes() {
        // Class 1: a 4×4×2 box, class 2: a single voxel, in a 64×64×8 volume; 16×16×4 patches.
        let case = synthetic(
            [64, 64, 8],
            &[(1, [50, 50, 5], [54, 54, 7]), (2, [5, 40, 1], [6, 41, 2])],
        );
        let cases = vec![case];
        let count = |fg: f64| {
            let cfg = SamplerConfig {
                patch: [4, 16, 16],
                batch_size: 300,
                foreground_fraction: fg,
            };
            let b = sample_batch(&cases, &cfg, &AugmentConfig::none(), &mut Rng::new(5));
            let n = 16 * 16 * 4;
            let has = |c: u8| {
                (0..300)
                    .filter(|s| b.label[s * n..(s + 1) * n].contains(&c))
                    .count() as f64
                    / 300.0
            };
            (has(1), has(2))
        };
        let (c1, c2) = count(1.0 / 3.0);
        assert!(c1 + c2 >= 0.3, "foreground share {}", c1 + c2);
        assert!(c2 >= 0.12, "rare class share {c2}"); // ≈ 1/6 from oversampling alone
        let (u1, u2) = count(0.0);
        assert!(
            u1 + u2 < c1 + c2 - 0.1,
            "uniform {} vs oversampled {}",
            u1 + u2,
            c1 + c2
        );
    }

    #[test]
    fn spatial_augmentation_keeps_labels_declared_and_images_finite() {
        let case = synthetic(
            [24, 24, 8],
            &[(1, [4, 4, 2], [12, 12, 6]), (2, [12, 10, 1], [20, 20, 7])],
        );
        let aug = AugmentConfig {
            rotation: RotationAug {
                p: 1.0,
                max_deg_z: 45.0,
                max_deg_xy: 20.0,
            },
            scale: crate::data::prep::augment::Chance {
                p: 1.0,
                range: [0.7, 1.4],
            },
            elastic: ElasticAug {
                p: 1.0,
                sigma_mm: 6.0,
                grid_voxels: 8,
            },
            ..AugmentConfig::default()
        };
        let cfg = SamplerConfig {
            patch: [8, 16, 16],
            batch_size: 8,
            foreground_fraction: 0.5,
        };
        let b = sample_batch(std::slice::from_ref(&case), &cfg, &aug, &mut Rng::new(9));
        assert!(b.label.iter().all(|v| [0, 1, 2].contains(v)));
        assert!(b.label.iter().any(|&v| v > 0));
        assert!(b.image.iter().all(|x| x.is_finite()));
        // Same seed, same batch.
        let again = sample_batch(std::slice::from_ref(&case), &cfg, &aug, &mut Rng::new(9));
        assert_eq!(again, b);
    }

    #[test]
    fn bad_config_is_rejected() {
        assert!(
            SamplerConfig {
                patch: [0, 8, 8],
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            SamplerConfig {
                foreground_fraction: 1.5,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(SamplerConfig::default().validate().is_ok());
    }
}
