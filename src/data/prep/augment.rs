//! Data augmentation (nnU-Net-like defaults, plus the paper's elastic deformation).
//!
//! Spatial augmentation is not applied to whole volumes: [`draw_spatial`] draws a transform (mirror,
//! rotation, scaling, smooth elastic displacement) that the sampler applies while it extracts a patch, by
//! mapping each patch voxel into the volume. Intensity augmentation (`intensity::augment_intensity`) then works
//! on the extracted patch. Every choice comes from the caller's seeded [`Rng`].
//!
//! Coordinates here are voxel axes `(x, y, z) = (i, j, k)`; a patch of `[px, py, pz]` voxels is stored
//! `x` fastest, like the volumes.

use serde::{Deserialize, Serialize};

use crate::util::rng::Rng;

/// An augmentation applied with probability `p`, its strength drawn uniformly from `range`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chance {
    pub p: f64,
    pub range: [f64; 2],
}

/// Rotation by uniform angles in `±max_deg_z` about the slice (z) axis and `±max_deg_xy` about x and y.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RotationAug {
    pub p: f64,
    pub max_deg_z: f64,
    pub max_deg_xy: f64,
}

/// The paper's elastic deformation: control points every `grid_voxels` patch voxels get normal random
/// displacements of standard deviation `sigma_mm` (per axis), interpolated by cubic B-splines.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElasticAug {
    pub p: f64,
    pub sigma_mm: f64,
    pub grid_voxels: usize,
}

/// Which augmentations run, how often and how strongly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentConfig {
    /// Probability of a left-right (x) mirror.
    pub mirror_x: f64,
    pub rotation: RotationAug,
    /// Zoom factor: > 1 lets the patch cover a larger region (objects look smaller).
    pub scale: Chance,
    pub elastic: ElasticAug,
    /// `x ← x^γ` on the patch rescaled to [0, 1], its mean and sd kept.
    pub gamma: Chance,
    /// Multiplicative brightness factor.
    pub brightness: Chance,
    /// Contrast factor around the patch mean, clipped to the patch's range.
    pub contrast: Chance,
    /// Gaussian noise; `range` is the variance (z-scored intensities).
    pub noise: Chance,
    /// Gaussian blur; `range` is σ in in-plane voxels (scaled by the spacing along z).
    pub blur: Chance,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            mirror_x: 0.5,
            rotation: RotationAug {
                p: 0.2,
                max_deg_z: 15.0,
                max_deg_xy: 5.0,
            },
            scale: Chance {
                p: 0.2,
                range: [0.85, 1.25],
            },
            elastic: ElasticAug {
                p: 0.2,
                sigma_mm: 4.0,
                grid_voxels: 32,
            },
            gamma: Chance {
                p: 0.3,
                range: [0.7, 1.5],
            },
            brightness: Chance {
                p: 0.15,
                range: [0.75, 1.25],
            },
            contrast: Chance {
                p: 0.15,
                range: [0.75, 1.25],
            },
            noise: Chance {
                p: 0.1,
                range: [0.0, 0.1],
            },
            blur: Chance {
                p: 0.2,
                range: [0.5, 1.0],
            },
        }
    }
}

impl AugmentConfig {
    /// No augmentation at all (validation patches, tests).
    pub fn none() -> Self {
        let mut c = AugmentConfig::default();
        c.mirror_x = 0.0;
        c.rotation.p = 0.0;
        c.scale.p = 0.0;
        c.elastic.p = 0.0;
        for ch in [
            &mut c.gamma,
            &mut c.brightness,
            &mut c.contrast,
            &mut c.noise,
            &mut c.blur,
        ] {
            ch.p = 0.0;
        }
        c
    }
}

/// A drawn spatial transform: patch voxel `q` (offset `d = q − centre` in patch voxels) samples the volume
/// at `centre + linear · d + displacement(q)` (volume voxels); with `mirror_x` the patch is then flipped
/// along x.
#[derive(Clone, Debug, PartialEq)]
pub struct SpatialTransform {
    pub linear: [[f64; 3]; 3],
    /// Per patch voxel, the elastic displacement in volume voxels (`x` fastest); `None` when not drawn.
    pub displacement: Option<Vec<[f32; 3]>>,
    pub mirror_x: bool,
}

impl SpatialTransform {
    pub fn identity() -> Self {
        SpatialTransform {
            linear: rotation_scale([0.0; 3], 1.0, [1.0; 3]),
            displacement: None,
            mirror_x: false,
        }
    }
}

/// Draws the spatial part for a patch of `patch = [px, py, pz]` voxels on a grid of `spacing` mm.
pub fn draw_spatial(
    cfg: &AugmentConfig,
    patch: [usize; 3],
    spacing: [f64; 3],
    rng: &mut Rng,
) -> SpatialTransform {
    let mut angles = [0.0; 3];
    if rng.chance(cfg.rotation.p) {
        let (xy, z) = (
            cfg.rotation.max_deg_xy.to_radians(),
            cfg.rotation.max_deg_z.to_radians(),
        );
        angles = [rng.range(-xy, xy), rng.range(-xy, xy), rng.range(-z, z)];
    }
    let scale = if rng.chance(cfg.scale.p) {
        rng.range(cfg.scale.range[0], cfg.scale.range[1])
    } else {
        1.0
    };
    let displacement = rng.chance(cfg.elastic.p).then(|| {
        let grid = cfg.elastic.grid_voxels.max(1);
        let ctrl: [usize; 3] = std::array::from_fn(|a| (patch[a].max(1) - 1) / grid + 4);
        let n = ctrl[0] * ctrl[1] * ctrl[2];
        // control displacements in mm → volume voxels, per component axis.
        let coeffs: [Vec<f64>; 3] = std::array::from_fn(|a| {
            (0..n)
                .map(|_| rng.normal() * cfg.elastic.sigma_mm / spacing[a])
                .collect()
        });
        bspline_field(&coeffs, ctrl, patch, grid)
    });
    let mirror_x = rng.chance(cfg.mirror_x);
    SpatialTransform {
        linear: rotation_scale(angles, scale, spacing),
        displacement,
        mirror_x,
    }
}

/// The voxel-space linear map of a rotation (radians about x, y, z; applied as `Rz · Ry · Rx`) and a zoom,
/// done in millimetres so anisotropic voxels rotate correctly: `diag(1/s) · R · scale · diag(s)`.
pub fn rotation_scale(angles: [f64; 3], scale: f64, spacing: [f64; 3]) -> [[f64; 3]; 3] {
    let (sx, cx) = angles[0].sin_cos();
    let (sy, cy) = angles[1].sin_cos();
    let (sz, cz) = angles[2].sin_cos();
    let rx = [[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]];
    let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
    let rz = [[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]];
    let r = matmul(&rz, &matmul(&ry, &rx));
    std::array::from_fn(|i| std::array::from_fn(|j| r[i][j] * scale * spacing[j] / spacing[i]))
}

fn matmul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|t| a[i][t] * b[t][j]).sum()))
}

/// Cubic B-spline weights of the 4 control points around position `t ∈ [0, 1)` within a grid cell.
fn bspline_weights(t: f64) -> [f64; 4] {
    let (t2, t3) = (t * t, t * t * t);
    [
        (1.0 - t).powi(3) / 6.0,
        (3.0 * t3 - 6.0 * t2 + 4.0) / 6.0,
        (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) / 6.0,
        t3 / 6.0,
    ]
}

/// Evaluates a cubic B-spline displacement field on every patch voxel. `coeffs[a]` holds component `a` on
/// a control grid of `ctrl` points (x fastest), control point `c` sitting at patch position `(c − 1) · grid`.
/// Evaluated separably (x, then y, then z), so the cost is a few operations per voxel.
fn bspline_field(
    coeffs: &[Vec<f64>; 3],
    ctrl: [usize; 3],
    patch: [usize; 3],
    grid: usize,
) -> Vec<[f32; 3]> {
    let table = |n: usize| -> Vec<(usize, [f64; 4])> {
        (0..n)
            .map(|q| {
                let u = q as f64 / grid as f64;
                (u.floor() as usize, bspline_weights(u - u.floor()))
            })
            .collect()
    };
    let (wx, wy, wz) = (table(patch[0]), table(patch[1]), table(patch[2]));
    let [cx, cy, cz] = ctrl;
    let [px, py, pz] = patch;
    let mut out = vec![[0f32; 3]; px * py * pz];
    for (a, c) in coeffs.iter().enumerate() {
        // x pass: [cz][cy][px]
        let mut t1 = vec![0.0; cz * cy * px];
        for row in 0..cz * cy {
            for (q, (b, w)) in wx.iter().enumerate() {
                t1[row * px + q] = (0..4).map(|m| w[m] * c[row * cx + b + m]).sum();
            }
        }
        // y pass: [cz][py][px]
        let mut t2 = vec![0.0; cz * py * px];
        for z in 0..cz {
            for (q, (b, w)) in wy.iter().enumerate() {
                for x in 0..px {
                    t2[(z * py + q) * px + x] =
                        (0..4).map(|m| w[m] * t1[(z * cy + b + m) * px + x]).sum();
                }
            }
        }
        // z pass: [pz][py][px]
        for (q, (b, w)) in wz.iter().enumerate() {
            for yx in 0..py * px {
                out[q * py * px + yx][a] = (0..4)
                    .map(|m| w[m] * t2[(b + m) * py * px + yx])
                    .sum::<f64>() as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_about_z_maps_axes_in_millimetres() {
        let m = rotation_scale(
            [0.0, 0.0, std::f64::consts::FRAC_PI_2],
            1.0,
            [1.0, 1.0, 3.0],
        );
        // a step along x lands on y; z untouched.
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(m[0][0], 0.0) && close(m[1][0], 1.0) && close(m[2][2], 1.0));
        // anisotropic in-plane voxels: 1 voxel of 0.5 mm along x is 0.5 voxel of 1 mm along y.
        let m = rotation_scale(
            [0.0, 0.0, std::f64::consts::FRAC_PI_2],
            2.0,
            [0.5, 1.0, 3.0],
        );
        assert!(close(m[1][0], 1.0) && close(m[0][1], -4.0));
    }

    #[test]
    fn bspline_of_constant_coefficients_is_constant() {
        let ctrl = [6, 5, 4]; // (patch - 1) / grid + 4 per axis
        let n = 120;
        let coeffs = [vec![1.5; n], vec![-2.0; n], vec![0.0; n]];
        let f = bspline_field(&coeffs, ctrl, [40, 20, 8], 16);
        assert!(
            f.iter()
                .all(|d| (d[0] - 1.5).abs() < 1e-5 && (d[1] + 2.0).abs() < 1e-5 && d[2] == 0.0)
        );
    }

    #[test]
    fn elastic_field_is_smooth_and_scaled_by_spacing() {
        let mut cfg = AugmentConfig::none();
        cfg.elastic = ElasticAug {
            p: 1.0,
            sigma_mm: 4.0,
            grid_voxels: 8,
        };
        let t = draw_spatial(&cfg, [32, 32, 16], [0.5, 0.5, 2.0], &mut Rng::new(3));
        let d = t.displacement.unwrap();
        assert!(d.iter().all(|v| v.iter().all(|x| x.is_finite())));
        // neighbouring voxels move almost together (smoothness), and the field is not zero.
        let max_step = (1..d.len())
            .filter(|n| n % 32 != 0)
            .map(|n| (d[n][0] - d[n - 1][0]).abs())
            .fold(0f32, f32::max);
        let rms_x = (d.iter().map(|v| v[0] * v[0]).sum::<f32>() / d.len() as f32).sqrt();
        let rms_z = (d.iter().map(|v| v[2] * v[2]).sum::<f32>() / d.len() as f32).sqrt();
        assert!(
            rms_x > 1.0 && max_step < 0.5 * rms_x + 1e-3,
            "rms {rms_x} step {max_step}"
        );
        // 4 mm is 8 voxels in x but 2 voxels in z.
        assert!(rms_z < rms_x / 2.0, "rms_z {rms_z} rms_x {rms_x}");
    }
}
