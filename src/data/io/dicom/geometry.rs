//! Slice order and voxel geometry of one series, from the slice headers alone.
//!
//! Order is by ImagePositionPatient projected onto the slice normal (row cosines × column cosines), never
//! by file name; without positions, by InstanceNumber. Voxel `i` runs along a row (the IOP row cosines),
//! `j` down the rows (IOP column cosines), `k` along the normal from the first sorted slice, so the grid
//! is always right-handed in LPS. Irregular gaps are reported as warnings, not errors: clinical series
//! with a dropped slice are still worth reading.

use std::path::Path;

use super::scan::SliceHeader;
use crate::data::Affine;
use crate::data::volume::norm;
use crate::error::{Error, Result};
use crate::util::stats;

/// Orientation cosines may differ this much between slices of one series (DS text rounding).
const ORIENTATION_TOL: f64 = 1e-3;

/// Sorted slices and the grid they form.
#[derive(Clone, Debug)]
pub(super) struct Stack {
    /// Indices into the header list, in slice order.
    pub order: Vec<usize>,
    pub dims: [usize; 3],
    pub spacing: [f64; 3],
    pub affine: Affine,
    /// Irregular spacing and fallbacks, one line each (logged by the reader, checked by tests).
    pub warnings: Vec<String>,
}

/// Orders the slices of one series and derives its grid.
pub(super) fn stack(dir: &Path, slices: &[SliceHeader]) -> Result<Stack> {
    let first = &slices[0];
    for s in slices {
        if (s.rows, s.cols) != (first.rows, first.cols) {
            return Err(Error::invalid(
                &s.path,
                format!(
                    "slice is {}x{} (rows x columns) but {} is {}x{}; one series must have one size",
                    s.rows,
                    s.cols,
                    first.path.display(),
                    first.rows,
                    first.cols
                ),
            ));
        }
    }
    let mut warnings = Vec::new();
    let (row, col) = orientation(slices, &mut warnings)?;
    let normal = cross(row, col);

    let use_positions = first.orientation.is_some() && slices.iter().all(|s| s.position.is_some());
    let (order, dz) = if use_positions {
        by_position(slices, normal, &mut warnings)?
    } else {
        let order = by_instance(dir, slices, &mut warnings)?;
        (order, fallback_slice_spacing(slices, &mut warnings))
    };

    let [dy, dx] = first.pixel_spacing.unwrap_or_else(|| {
        warnings.push(format!(
            "{}: no PixelSpacing, assuming 1 mm",
            first.path.display()
        ));
        [1.0, 1.0]
    });
    if !(dx > 0.0 && dy > 0.0 && dx.is_finite() && dy.is_finite()) {
        return Err(Error::invalid(
            &first.path,
            format!("PixelSpacing {dy}\\{dx} is not a positive size"),
        ));
    }
    let origin = slices[order[0]].position.unwrap_or([0.0; 3]);
    let columns = [scale(row, dx), scale(col, dy), scale(normal, dz)];
    let affine = Affine::from_lps(columns, origin);
    if let Some(why) = affine.defect() {
        return Err(Error::invalid(
            &first.path,
            format!("the slice geometry {why}: the series cannot be placed in space"),
        ));
    }
    Ok(Stack {
        dims: [first.cols, first.rows, slices.len()],
        spacing: [dx, dy, dz],
        affine,
        order,
        warnings,
    })
}

/// The common orientation (unit row and column cosines); identity axes when no slice has one.
fn orientation(slices: &[SliceHeader], warnings: &mut Vec<String>) -> Result<([f64; 3], [f64; 3])> {
    let first = &slices[0];
    let Some(iop) = first.orientation else {
        if let Some(s) = slices.iter().find(|s| s.orientation.is_some()) {
            return Err(Error::invalid(
                &first.path,
                format!(
                    "no ImageOrientationPatient, but {} has one",
                    s.path.display()
                ),
            ));
        }
        warnings.push(format!(
            "{}: no ImageOrientationPatient, assuming axial",
            first.path.display()
        ));
        return Ok(([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]));
    };
    for s in slices {
        let same = s.orientation.is_some_and(|o| {
            o.iter()
                .zip(&iop)
                .all(|(a, b)| (a - b).abs() <= ORIENTATION_TOL)
        });
        if !same {
            return Err(Error::invalid(
                &s.path,
                format!(
                    "ImageOrientationPatient {:?} differs from {:?} in {}; one series must have one orientation",
                    s.orientation,
                    iop,
                    first.path.display()
                ),
            ));
        }
    }
    let (row, col) = ([iop[0], iop[1], iop[2]], [iop[3], iop[4], iop[5]]);
    let (nr, nc) = (norm(row), norm(col));
    let dot = row.iter().zip(&col).map(|(a, b)| a * b).sum::<f64>();
    if (nr - 1.0).abs() > 1e-2 || (nc - 1.0).abs() > 1e-2 || dot.abs() > 1e-2 {
        return Err(Error::invalid(
            &first.path,
            format!("ImageOrientationPatient {iop:?} is not two orthogonal unit vectors"),
        ));
    }
    Ok((scale(row, 1.0 / nr), scale(col, 1.0 / nc)))
}

/// Sorts by position along the normal; the slice spacing is the median gap.
fn by_position(
    slices: &[SliceHeader],
    normal: [f64; 3],
    warnings: &mut Vec<String>,
) -> Result<(Vec<usize>, f64)> {
    let pos: Vec<f64> = slices
        .iter()
        .map(|s| dot(s.position.unwrap(), normal))
        .collect();
    let mut order: Vec<usize> = (0..slices.len()).collect();
    order.sort_by(|&a, &b| {
        pos[a]
            .total_cmp(&pos[b])
            .then(slices[a].instance.cmp(&slices[b].instance))
    });
    if order.len() == 1 {
        return Ok((order, fallback_slice_spacing(slices, warnings)));
    }
    let gaps: Vec<f64> = order.windows(2).map(|w| pos[w[1]] - pos[w[0]]).collect();
    for (w, gap) in order.windows(2).zip(&gaps) {
        if *gap < 1e-3 {
            return Err(Error::invalid(
                &slices[w[1]].path,
                format!(
                    "slice at {:.3} mm along the normal has the same position as {}; \
                     the folder holds more than one volume of this series",
                    pos[w[1]],
                    slices[w[0]].path.display()
                ),
            ));
        }
    }
    // At least two slices here, so at least one gap.
    let median = stats::median(gaps.iter().copied()).unwrap_or(0.0);
    let tol = (0.01 * median).max(0.01);
    for (w, gap) in order.windows(2).zip(&gaps) {
        if (gap - median).abs() > tol {
            let missing = (gap / median).round() - 1.0;
            let note = if missing >= 1.0 && (gap - (missing + 1.0) * median).abs() <= tol {
                format!(" (about {missing} missing slice(s))")
            } else {
                String::new()
            };
            warnings.push(format!(
                "irregular slice spacing: gap of {gap:.3} mm between slices at {:.3} and {:.3} mm along the normal \
                 ({} and {}), median spacing {median:.3} mm{note}; the volume uses the median",
                pos[w[0]],
                pos[w[1]],
                slices[w[0]].path.display(),
                slices[w[1]].path.display()
            ));
        }
    }
    Ok((order, median))
}

/// Sorts by InstanceNumber when positions are missing.
fn by_instance(
    dir: &Path,
    slices: &[SliceHeader],
    warnings: &mut Vec<String>,
) -> Result<Vec<usize>> {
    if let Some(s) = slices.iter().find(|s| s.instance.is_none()) {
        if slices.len() > 1 {
            return Err(Error::invalid(
                &s.path,
                "neither ImagePositionPatient/ImageOrientationPatient nor InstanceNumber: cannot order the slices",
            ));
        }
    }
    if slices.len() > 1 {
        warnings.push(format!(
            "{}: ImagePositionPatient missing on some slices; ordering by InstanceNumber",
            dir.display()
        ));
    }
    let mut order: Vec<usize> = (0..slices.len()).collect();
    order.sort_by_key(|&i| slices[i].instance);
    for w in order.windows(2) {
        if slices[w[0]].instance == slices[w[1]].instance {
            return Err(Error::invalid(
                &slices[w[1]].path,
                format!(
                    "InstanceNumber {:?} repeats {}",
                    slices[w[1]].instance,
                    slices[w[0]].path.display()
                ),
            ));
        }
    }
    Ok(order)
}

/// Slice spacing without usable positions: SpacingBetweenSlices, else SliceThickness, else 1 mm.
fn fallback_slice_spacing(slices: &[SliceHeader], warnings: &mut Vec<String>) -> f64 {
    let s = &slices[0];
    match [s.spacing_between, s.slice_thickness]
        .into_iter()
        .flatten()
        .find(|v| *v > 0.0)
    {
        Some(v) => v,
        None => {
            warnings.push(format!(
                "{}: no slice spacing or thickness, assuming 1 mm",
                s.path.display()
            ));
            1.0
        }
    }
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}
