//! Synthetic prostate T2 MRI phantoms in the image of NCI-ISBI 2013: the project's embedded default
//! data. Each case is a male pelvis built from smooth implicit shapes (tapered, randomly deformed
//! ellipsoids and tubes) evaluated at voxel centres in millimetres: a bright peripheral zone (label 1)
//! wrapped posteriorly and laterally around a darker, nodular central gland (label 2) with a blurred
//! boundary between them, bladder, rectum, seminal vesicles, muscles, bone, fat and a body outline with
//! air outside. Scans alternate between two scanner styles like the real collection: `ProstateDx`
//! (1.5 T, endorectal coil, fine pixels, 30–40 slices) and `Prostate3T` (3 T, surface coil, coarser
//! pixels, 15–24 slices of 3 or 4 mm), with partial volume, coil bias, Rician noise and a per-case
//! intensity scale. Everything is a pure function of `(config, seed, index)`.

mod field;
mod gland;
mod pelvis;
mod plan;
mod render;
mod shapes;
mod tones;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::{Image, LabelMap, Volume};
use crate::error::{Error, Result};
use crate::util::rng::Rng;

/// How phantoms are acquired. The anatomy of a case depends only on the seed and index, so changing
/// these settings changes the grid and the scanner, not the patient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhantomConfig {
    /// In-plane matrix (voxels per side) of the 1.5 T `ProstateDx` style; the 3 T `Prostate3T` style
    /// uses about 7/8 of it (a multiple of 8), with coarser pixels over a similar field of view.
    pub matrix: usize,
    /// In-plane field-of-view range (mm) of the Dx style; each case fits it to the body within it.
    /// With the default matrix this gives pixels of about 0.41–0.51 mm.
    pub dx_fov_mm: [f64; 2],
    /// In-plane field-of-view range (mm) of the 3T style (about 0.5–0.6 mm pixels by default).
    pub t3_fov_mm: [f64; 2],
    /// Slice-count range of the Dx style (3 mm slices); raised where needed to cover the gland.
    pub dx_slices: [usize; 2],
    /// Slice-count range of the 3T style; raised where needed to cover the gland.
    pub t3_slices: [usize; 2],
    /// Probability that a 3T case has 4 mm slices instead of 3 mm.
    pub t3_thick_slice_prob: f64,
    /// Range of the Rician noise σ, relative to fat at unit coil gain.
    pub noise: [f64; 2],
    /// Range (log-uniform) of each case's largest intensity, like different scanners' scaling.
    pub max_intensity: [f64; 2],
    /// Samples through each slice's thickness for through-plane partial volume (1 = none).
    pub z_subsamples: usize,
}

impl Default for PhantomConfig {
    fn default() -> Self {
        PhantomConfig {
            matrix: 224,
            dx_fov_mm: [92.0, 114.0],
            t3_fov_mm: [100.0, 118.0],
            dx_slices: [30, 40],
            t3_slices: [15, 24],
            t3_thick_slice_prob: 0.15,
            noise: [0.015, 0.04],
            max_intensity: [300.0, 30000.0],
            z_subsamples: 2,
        }
    }
}

impl PhantomConfig {
    /// Checks the settings; the message names the bad field and value.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::config(format!("phantom config: {msg}")));
        if !(16..=1024).contains(&self.matrix) {
            return bad(format!("matrix must be 16..=1024, got {}", self.matrix));
        }
        for (name, r) in [("dx_fov_mm", self.dx_fov_mm), ("t3_fov_mm", self.t3_fov_mm)] {
            if !(r[0] >= 20.0 && r[1] >= r[0] && r[1] <= 1000.0) {
                return bad(format!(
                    "{name} must be an increasing range within 20..=1000 mm, got {r:?}"
                ));
            }
        }
        for (name, r) in [("dx_slices", self.dx_slices), ("t3_slices", self.t3_slices)] {
            if !(r[0] >= 3 && r[1] >= r[0] && r[1] <= 512) {
                return bad(format!(
                    "{name} must be an increasing range within 3..=512, got {r:?}"
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.t3_thick_slice_prob) {
            return bad(format!(
                "t3_thick_slice_prob must be in 0..=1, got {}",
                self.t3_thick_slice_prob
            ));
        }
        if !(self.noise[0] >= 0.0 && self.noise[1] >= self.noise[0] && self.noise[1] <= 1.0) {
            return bad(format!(
                "noise must be an increasing range within 0..=1, got {:?}",
                self.noise
            ));
        }
        let m = self.max_intensity;
        if !(m[0] >= 1.0 && m[1] >= m[0] && m[1] <= 1e7) {
            return bad(format!(
                "max_intensity must be an increasing range within 1..=1e7, got {m:?}"
            ));
        }
        if !(1..=8).contains(&self.z_subsamples) {
            return bad(format!(
                "z_subsamples must be 1..=8, got {}",
                self.z_subsamples
            ));
        }
        Ok(())
    }
}

/// The two scanner styles of NCI-ISBI 2013; even case indices are Dx, odd ones 3T.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// PROSTATE-DIAGNOSIS: 1.5 T Philips with an endorectal coil.
    Dx,
    /// Prostate-3T: 3 T Siemens with a pelvic phased-array coil.
    T3,
}

impl Style {
    pub fn of(index: usize) -> Style {
        if index % 2 == 0 { Style::Dx } else { Style::T3 }
    }

    fn prefix(self) -> &'static str {
        match self {
            Style::Dx => "ProstateDx",
            Style::T3 => "Prostate3T",
        }
    }
}

/// Case id of phantom `index`: styles alternate, each numbered from 1
/// (0 → `ProstateDx-01-0001`, 1 → `Prostate3T-01-0001`, 2 → `ProstateDx-01-0002`).
pub fn case_id(index: usize) -> String {
    format!("{}-01-{:04}", Style::of(index).prefix(), index / 2 + 1)
}

/// The random streams of one case (independent, so e.g. the grid never changes the anatomy).
fn streams(seed: u64, index: usize) -> (Rng, Rng, Rng) {
    let root = Rng::new(seed).fork(index as u64);
    (root.fork(1), root.fork(2), root.fork(3))
}

/// The anatomy and acquisition plan of a case, without rendering.
fn plan_case(cfg: &PhantomConfig, seed: u64, index: usize) -> (plan::Plan, pelvis::Anatomy, Rng) {
    let style = Style::of(index);
    let (mut a_rng, mut p_rng, noise_rng) = streams(seed, index);
    let mut anat = pelvis::Anatomy::random(&mut a_rng, style);
    let plan = plan::Plan::new(cfg, &mut p_rng, style, &anat);
    anat.edge = plan.spacing[0];
    (plan, anat, noise_rng)
}

/// Phantom case `index` of the series seeded by `seed`: a T2-like image (integer-valued intensities
/// up to the case's scanner maximum) and its label map (0 background, 1 PZ, 2 CG) on the same grid,
/// axial slices with i → patient left, j → posterior, k → superior (a DICOM-like LPS grid, stored
/// as a RAS affine). Deterministic in `(cfg, seed, index)`. Settings outside the ranges
/// `PhantomConfig::validate` accepts are clamped rather than rejected.
pub fn make_phantom(cfg: &PhantomConfig, seed: u64, index: usize) -> (Image, LabelMap) {
    let (plan, anat, noise_rng) = plan_case(cfg, seed, index);
    let (data, labels) = render::render(&plan, &anat, cfg.z_subsamples.clamp(1, 8), &noise_rng);
    let image = Volume {
        data,
        dims: plan.dims,
        spacing: plan.spacing,
        affine: plan.affine,
        nifti_header: None,
    };
    let label = Volume {
        data: labels,
        ..image.same_grid::<u8>()
    };
    (image, label)
}
