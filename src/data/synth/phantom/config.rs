//! How phantoms are acquired ([`PhantomConfig`]) and the two scanner styles ([`Style`]).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
    /// Small phantoms for tests: a 48-voxel matrix and 12 slices in both scanner styles, without
    /// slice sub-sampling (a fraction of a second each).
    pub fn small() -> Self {
        PhantomConfig {
            matrix: 48,
            dx_slices: [12, 12],
            t3_slices: [12, 12],
            z_subsamples: 1,
            ..PhantomConfig::default()
        }
    }

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

    pub(super) fn prefix(self) -> &'static str {
        match self {
            Style::Dx => "ProstateDx",
            Style::T3 => "Prostate3T",
        }
    }
}
