//! Synthetic prostate T2 MRI phantoms in the image of NCI-ISBI 2013: the project's embedded default
//! data. Each case is a male pelvis built from smooth implicit shapes (tapered, randomly deformed
//! ellipsoids and tubes) evaluated at voxel centres in millimetres: a bright peripheral zone (label 1)
//! wrapped posteriorly and laterally around a darker, nodular central gland (label 2) with a blurred
//! boundary between them, bladder, rectum, seminal vesicles, muscles, bone, fat and a body outline with
//! air outside. Scans alternate between two scanner styles like the real collection: `ProstateDx`
//! (1.5 T, endorectal coil, fine pixels, 30–40 slices) and `Prostate3T` (3 T, surface coil, coarser
//! pixels, 15–24 slices of 3 or 4 mm), with partial volume, coil bias, Rician noise and a per-case
//! intensity scale. Everything is a pure function of `(config, seed, index)`.

mod config;
mod field;
mod gland;
mod pelvis;
mod plan;
mod render;
mod shapes;
mod tones;

#[cfg(test)]
mod tests;

pub use config::{PhantomConfig, Style};

use crate::data::{Image, LabelMap, Volume};
use crate::util::rng::Rng;

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
