//! Reconciling a label with its image: same grid → as is; otherwise placed by world position onto the
//! image grid, but only when that is safe — the label's in-plane grid must be the image's (same voxel
//! size and voxel-aligned, axes possibly permuted or flipped as NRRD stores them) and its voxels must lie
//! inside the image (half a voxel of tolerance). Through-plane, a label may cover fewer slices (one
//! NCI-ISBI label has 23 slices for a 34-slice image); the uncovered slices become background.

use crate::data::prep::resample::labels_onto_grid;
use crate::data::{Affine, Image, LabelMap};

/// Same-grid tolerance on the affine (mm), as `dataset::check_label_on_image`.
const SAME_GRID_MM: f64 = 1e-3;
/// Largest misalignment (image voxels) accumulated over the label's extent for a "matching" grid.
const ALIGN_VOXELS: f64 = 0.25;

/// The label on the image grid, with a note when it had to be placed; `Err` is the reason to skip.
pub(super) fn place_label(
    label: &LabelMap,
    image: &Image,
) -> Result<(LabelMap, Option<String>), String> {
    if label.dims == image.dims && label.affine.max_abs_diff(&image.affine) <= SAME_GRID_MM {
        let mut same = label.clone();
        same.affine = image.affine;
        same.spacing = image.spacing;
        return Ok((same, None));
    }
    let inv = image
        .affine
        .inverse()
        .ok_or("the image affine is singular")?;
    let m = compose(&inv, &label.affine);
    let axis_of = check_axes(&m, label, image)?;
    check_extent(&m, label, image)?;

    let placed = labels_onto_grid(label, image.dims, &image.affine);
    let (before, after) = (count_nonzero(&label.data), count_nonzero(&placed.data));
    // The image axis the label's through-plane axis runs along, and the slices it covers.
    let c = (0..3).find(|&c| axis_of[c] == 2).unwrap_or(2);
    let (k0, k1) = span(&m, label, c, 2);
    let mut note = format!(
        "label grid {:?} placed by position on image grid {:?} (covers image slices {}..={} of {})",
        label.dims,
        image.dims,
        k0.round().max(0.0),
        k1.round().min(image.dims[2] as f64 - 1.0),
        image.dims[2]
    );
    if before != after {
        note += &format!("; {before} labelled voxels became {after}");
    }
    Ok((placed, Some(note)))
}

/// Each label axis must run along one image axis (a permutation); in-plane ones with the image's
/// voxel size and on its voxel lattice. Returns, per label axis, the image axis it maps to.
fn check_axes(m: &Affine, label: &LabelMap, image: &Image) -> Result<[usize; 3], String> {
    let mut axis_of = [0usize; 3];
    for c in 0..3 {
        let v = m.column(c);
        let a = (0..3)
            .max_by(|&x, &y| v[x].abs().total_cmp(&v[y].abs()))
            .unwrap();
        let extent = label.dims[c].saturating_sub(1).max(1) as f64;
        if (0..3).any(|r| r != a && v[r].abs() * extent > ALIGN_VOXELS) {
            return Err(format!(
                "label axis {c} is oblique to the image grid (direction {v:?} in image voxels)"
            ));
        }
        axis_of[c] = a;
    }
    if axis_of[0] == axis_of[1] || axis_of[1] == axis_of[2] || axis_of[0] == axis_of[2] {
        return Err(format!(
            "label axes map onto image axes {axis_of:?}, not a permutation"
        ));
    }
    let origin = m.origin();
    for c in 0..3 {
        let a = axis_of[c];
        if a == 2 {
            continue; // through-plane: any slice spacing is placed by nearest position
        }
        let step = m.column(c)[a].abs();
        let extent = label.dims[c].saturating_sub(1).max(1) as f64;
        if (step - 1.0).abs() * extent > ALIGN_VOXELS {
            return Err(format!(
                "label in-plane spacing {:.4} mm does not match the image's {:.4} mm",
                label.spacing[c], image.spacing[a]
            ));
        }
        if (origin[a] - origin[a].round()).abs() > ALIGN_VOXELS {
            return Err(format!(
                "label in-plane grid is shifted by {:.2} voxels from the image's",
                origin[a] - origin[a].round()
            ));
        }
    }
    Ok(axis_of)
}

/// Every label voxel centre must fall inside the image (within half a voxel).
fn check_extent(m: &Affine, label: &LabelMap, image: &Image) -> Result<(), String> {
    for a in 0..3 {
        let (lo, hi) = corners(m, label).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p[a]), hi.max(p[a]))
        });
        let max = image.dims[a] as f64 - 0.5;
        if lo < -0.5 - 1e-6 || hi > max + 1e-6 {
            return Err(format!(
                "label lies outside its image: along image axis {a} it spans voxels {lo:.1}..{hi:.1}, the image 0..{}",
                image.dims[a] - 1
            ));
        }
    }
    Ok(())
}

/// Range of image coordinate `a` along label axis `c` (other label indices at 0).
fn span(m: &Affine, label: &LabelMap, c: usize, a: usize) -> (f64, f64) {
    let mut end = [0.0; 3];
    end[c] = label.dims[c].saturating_sub(1) as f64;
    let (p, q) = (m.apply([0.0; 3])[a], m.apply(end)[a]);
    (p.min(q), p.max(q))
}

fn corners<'a>(m: &'a Affine, label: &'a LabelMap) -> impl Iterator<Item = [f64; 3]> + 'a {
    (0..8).map(move |bits| {
        let v: [f64; 3] = std::array::from_fn(|c| {
            if bits >> c & 1 == 1 {
                label.dims[c].saturating_sub(1) as f64
            } else {
                0.0
            }
        });
        m.apply(v)
    })
}

/// `a ∘ b` (apply `b`, then `a`).
fn compose(a: &Affine, b: &Affine) -> Affine {
    let mut out = Affine::identity();
    for r in 0..3 {
        for c in 0..4 {
            out.0[r][c] = (0..3).map(|k| a.0[r][k] * b.0[k][c]).sum::<f64>()
                + if c == 3 { a.0[r][3] } else { 0.0 };
        }
    }
    out
}

fn count_nonzero(data: &[u8]) -> usize {
    data.iter().filter(|&&v| v != 0).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Volume;

    fn image() -> Image {
        let affine = Affine::from_lps(
            [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 3.0]],
            [-40.0, -30.0, 10.0],
        );
        Volume::zeros([8, 6, 10], [0.5, 0.5, 3.0], affine)
    }

    /// A label on the image grid restricted to slices `k0..k1`, with voxel (i, j, k) = value if i == j.
    fn cropped(img: &Image, k0: usize, k1: usize) -> LabelMap {
        let origin = img.affine.apply([0.0, 0.0, k0 as f64]);
        let mut a = img.affine;
        for r in 0..3 {
            a.0[r][3] = origin[r];
        }
        let mut l: LabelMap = Volume::zeros([8, 6, k1 - k0], img.spacing, a);
        for k in 0..k1 - k0 {
            for j in 0..6 {
                l.set(j, j, k, 1 + (k % 2) as u8);
            }
        }
        l
    }

    #[test]
    fn same_grid_passes_through() {
        let img = image();
        let mut l = cropped(&img, 0, 10);
        l.affine.0[0][3] += 1e-4;
        let (placed, note) = place_label(&l, &img).unwrap();
        assert!(note.is_none());
        assert_eq!(placed.data, l.data);
        assert_eq!(placed.affine, img.affine);
    }

    #[test]
    fn fewer_slices_land_in_place() {
        let img = image();
        let l = cropped(&img, 3, 7);
        let (placed, note) = place_label(&l, &img).unwrap();
        assert!(note.unwrap().contains("covers image slices 3..=6 of 10"));
        for k in 0..10 {
            let expect = if (3..7).contains(&k) {
                1 + ((k - 3) % 2) as u8
            } else {
                0
            };
            assert_eq!(placed.get(2, 2, k), expect, "slice {k}");
            assert_eq!(placed.get(3, 2, k), 0);
        }
    }

    #[test]
    fn permuted_and_flipped_axes_are_placed() {
        // The same label stored k, j, i reversed along j: axes (k, -j, i).
        let img = image();
        let full = cropped(&img, 0, 10);
        let a = &img.affine;
        let cols = [a.column(2), a.column(1).map(|v| -v), a.column(0)];
        let origin = a.apply([0.0, 5.0, 0.0]);
        let mut aff = Affine::identity();
        for r in 0..3 {
            for c in 0..3 {
                aff.0[r][c] = cols[c][r];
            }
            aff.0[r][3] = origin[r];
        }
        let mut l: LabelMap = Volume::zeros([10, 6, 8], [3.0, 0.5, 0.5], aff);
        for k in 0..10 {
            for j in 0..6 {
                for i in 0..8 {
                    l.set(k, 5 - j, i, full.get(i, j, k));
                }
            }
        }
        let (placed, _) = place_label(&l, &img).unwrap();
        assert_eq!(placed.data, full.data);
    }

    #[test]
    fn outside_or_misaligned_labels_are_refused() {
        let img = image();
        let mut l = cropped(&img, 6, 10);
        l.affine.0[2][3] += 3.0 * 2.0; // two slices above the image's top
        assert!(place_label(&l, &img).unwrap_err().contains("outside"));
        let mut l = cropped(&img, 2, 5);
        l.affine.0[0][3] += 0.25; // half a voxel in-plane
        assert!(place_label(&l, &img).unwrap_err().contains("shifted"));
        let mut l = cropped(&img, 2, 5);
        l.affine.0[0][0] *= 1.2;
        l.spacing[0] *= 1.2;
        assert!(place_label(&l, &img).unwrap_err().contains("spacing"));
    }
}
