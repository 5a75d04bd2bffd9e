//! The acquisition of one phantom case: scanner style, grid (matrix, field of view fitted to the body,
//! slice count covering the gland with empty slices at both ends), patient position and small
//! rotations, the coil's receive-bias field, the noise level and the scanner's intensity scale.

use super::config::{PhantomConfig, Style};
use super::field::Waves;
use super::pelvis::Anatomy;
use crate::data::Affine;
use crate::util::rng::Rng;

/// Receive-coil sensitivity, the dominant bias field of prostate T2 images.
#[derive(Clone, Debug)]
pub enum Coil {
    /// Endorectal coil (the 1.5 T style): very bright next to the rectum, falling off like 1/r².
    Endorectal {
        gain: f64,
        scale_mm: f64,
        z_mm: [f64; 2],
    },
    /// Pelvic phased array (the 3 T style): brighter towards the anterior and posterior body surface.
    Surface {
        anterior: f64,
        posterior: f64,
        scale_mm: f64,
    },
}

/// Everything about a case except its anatomy.
#[derive(Clone, Debug)]
pub struct Plan {
    pub dims: [usize; 3],
    pub spacing: [f64; 3],
    pub affine: Affine,
    /// Voxel (0, 0, 0) in the anatomy frame, and the anatomy-frame step of each voxel axis.
    pub q0: [f64; 3],
    pub step: [[f64; 3]; 3],
    pub coil: Coil,
    bias_wave: Waves,
    /// Rician noise σ relative to fat at unit coil gain.
    pub noise: f64,
    /// The largest intensity of the finished image (the scanner's scaling).
    pub max_intensity: f64,
}

impl Plan {
    /// Plans case `index` for the given anatomy.
    pub fn new(cfg: &PhantomConfig, rng: &mut Rng, style: Style, anat: &Anatomy) -> Self {
        let (fov_range, slices, matrix) = match style {
            Style::Dx => (cfg.dx_fov_mm, cfg.dx_slices, cfg.matrix.max(8)),
            Style::T3 => (
                cfg.t3_fov_mm,
                cfg.t3_slices,
                (((cfg.matrix * 7) as f64 / 64.0).round() as usize * 8).max(8),
            ),
        };
        // In-plane: centre the body (± a few mm) and fit the field of view to it where the range allows.
        let shift = [rng.range(-4.0, 4.0), rng.range(-3.0, 3.0)];
        let (lo, hi) = (
            fov_range[0].min(fov_range[1]),
            fov_range[0].max(fov_range[1]),
        );
        let fit = 2.0 * (anat.body_h[1] + shift[1].abs() + rng.range(2.0, 8.0));
        let fov = fit.max(rng.range(lo, lo + 0.4 * (hi - lo))).clamp(lo, hi);
        let ds = fov / matrix as f64;
        // Through-plane: slice thickness by style, enough slices for the gland plus two empty ones at each end.
        let thick = match style {
            Style::T3 if rng.chance(cfg.t3_thick_slice_prob) => 4.0,
            _ => 3.0,
        };
        let yaw = rng.range(-6.0, 6.0).to_radians();
        let tilt = rng.range(-12.0, 6.0).to_radians();
        let gl = &anat.gland;
        let half_z = gl.c * tilt.cos() + gl.b_ant.max(gl.b_post) * tilt.sin().abs() + 3.0;
        let needed = (2.0 * half_z / thick).ceil() as usize + 4;
        let (s_lo, s_hi) = (slices[0].min(slices[1]), slices[0].max(slices[1]));
        let nz = (s_lo + rng.below(s_hi - s_lo + 1)).max(needed);
        let slack = ((nz as f64 - 3.0) * thick * 0.5 - half_z).max(0.0);
        let z_off = rng.range(-0.8, 0.8) * slack;
        let dims = [matrix, matrix, nz];
        let spacing = [ds, ds, thick];
        // World (LPS): image centre somewhere near the magnet centre; the gland sits at a random offset.
        let centre_img = [
            rng.range(-20.0, 20.0),
            rng.range(-30.0, 10.0),
            rng.range(-80.0, 20.0),
        ];
        let origin =
            std::array::from_fn(|c| centre_img[c] - 0.5 * (dims[c] as f64 - 1.0) * spacing[c]);
        let gland_world = [
            centre_img[0] - shift[0],
            centre_img[1] - anat.body_yc - shift[1],
            centre_img[2] + z_off,
        ];
        let affine = Affine::from_lps([[ds, 0.0, 0.0], [0.0, ds, 0.0], [0.0, 0.0, thick]], origin);
        // Anatomy frame = R^T (world - gland centre), R = yaw about z then tilt about x.
        let (sy, cy) = yaw.sin_cos();
        let (st, ct) = tilt.sin_cos();
        let rz = [[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]];
        let rx = [[1.0, 0.0, 0.0], [0.0, ct, -st], [0.0, st, ct]];
        let r: [[f64; 3]; 3] = std::array::from_fn(|i| {
            std::array::from_fn(|j| (0..3).map(|k| rz[i][k] * rx[k][j]).sum())
        });
        let to_anat = |v: [f64; 3]| -> [f64; 3] {
            std::array::from_fn(|j| (0..3).map(|i| r[i][j] * v[i]).sum())
        };
        let q0 = to_anat(std::array::from_fn(|c| origin[c] - gland_world[c]));
        let step = std::array::from_fn(|c| {
            let mut e = [0.0; 3];
            e[c] = spacing[c];
            to_anat(e)
        });
        let coil = match style {
            Style::Dx => Coil::Endorectal {
                gain: rng.range(2.0, 5.0),
                scale_mm: rng.range(12.0, 20.0),
                z_mm: [
                    anat.anal_z + rng.range(0.0, 8.0),
                    gl.c + rng.range(8.0, 20.0),
                ],
            },
            Style::T3 => Coil::Surface {
                anterior: rng.range(0.2, 0.7),
                posterior: rng.range(0.3, 0.9),
                scale_mm: rng.range(25.0, 50.0),
            },
        };
        let noise = rng.range(
            cfg.noise[0].min(cfg.noise[1]),
            cfg.noise[0].max(cfg.noise[1]),
        );
        let (m_lo, m_hi) = (
            cfg.max_intensity[0].min(cfg.max_intensity[1]),
            cfg.max_intensity[0].max(cfg.max_intensity[1]),
        );
        let max_intensity = rng.range(m_lo.max(1.0).ln(), m_hi.max(1.0).ln()).exp();
        let bias_wave = Waves::new(rng, 3, [80.0, 200.0], 0.07);
        Plan {
            dims,
            spacing,
            affine,
            q0,
            step,
            coil,
            bias_wave,
            noise,
            max_intensity,
        }
    }

    /// Anatomy-frame position of a (fractional) voxel index.
    #[inline]
    pub fn to_anatomy(&self, i: f64, j: f64, k: f64) -> [f64; 3] {
        std::array::from_fn(|c| {
            self.q0[c] + i * self.step[0][c] + j * self.step[1][c] + k * self.step[2][c]
        })
    }

    /// Multiplicative receive bias along the voxel row `(0.., j, k)`.
    pub fn bias_row(&self, anat: &Anatomy, j: usize, k: usize, out: &mut [f64]) {
        let q0 = self.to_anatomy(0.0, j as f64, k as f64);
        let mut wave = vec![[0.0; 3]; out.len()];
        self.bias_wave.row(q0, self.step[0], &mut wave);
        for (i, (o, w)) in out.iter_mut().zip(&wave).enumerate() {
            let q = std::array::from_fn(|c| q0[c] + i as f64 * self.step[0][c]);
            *o = (self.coil_gain(anat, q) * (1.0 + w[0])).max(0.05);
        }
    }

    /// The coil's sensitivity at `q` (anatomy frame).
    fn coil_gain(&self, anat: &Anatomy, q: [f64; 3]) -> f64 {
        match &self.coil {
            Coil::Endorectal {
                gain,
                scale_mm,
                z_mm,
            } => {
                let c = anat.rectum_centre(q[2]);
                let dz = (z_mm[0] - q[2]).max(q[2] - z_mm[1]).max(0.0);
                let d2 = (q[0] - c[0]).powi(2) + (q[1] - c[1]).powi(2) + dz * dz;
                0.6 + gain / (1.0 + d2 / (scale_mm * scale_mm))
            }
            Coil::Surface {
                anterior,
                posterior,
                scale_mm,
            } => {
                let (ya, yp) = (anat.body_yc - anat.body_h[1], anat.body_yc + anat.body_h[1]);
                1.0 + anterior * (-(q[1] - ya).max(0.0) / scale_mm).exp()
                    + posterior * (-(yp - q[1]).max(0.0) / scale_mm).exp()
            }
        }
    }
}
