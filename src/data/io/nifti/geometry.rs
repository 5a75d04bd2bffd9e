//! NIfTI-1 geometry: the voxel → RAS affine a header describes (sform, qform or pixdim), and the
//! quaternion a writer stores for an affine (nifti1_io's `quatern_to_mat44` / `mat44_to_quatern`).

use ::nifti::NiftiHeader;

use crate::data::Affine;

/// The voxel → RAS affine of a header in millimetres (see [`header_geometry`]).
pub fn header_affine(h: &NiftiHeader) -> Affine {
    header_geometry(h).0
}

/// The voxel → RAS affine of a header in millimetres, and a warning for every fallback taken.
///
/// As nibabel and ITK read it: the sform when `sform_code > 0`, else the qform when
/// `qform_code > 0`, else the pixdim diagonal (NIfTI "method 1"). A sform or qform that cannot
/// place voxels (non-finite, a zero-length axis, singular) falls back to the next, with a warning;
/// a zero or non-finite pixdim is read as 1 (as nifti1_io does), with a warning. Spatial units
/// (`xyzt_units`: metre, millimetre, micron; unknown is read as millimetre) are converted to mm.
pub fn header_geometry(h: &NiftiHeader) -> (Affine, Vec<String>) {
    let mut warnings = Vec::new();
    let mm = unit_to_mm(h);
    let scaled = |mut a: Affine| {
        for row in a.0.iter_mut().take(3) {
            row.iter_mut().for_each(|v| *v *= mm);
        }
        a
    };
    if h.sform_code > 0 {
        let sform = sform(h);
        match sform.defect() {
            None => return (scaled(sform), warnings),
            Some(why) => warnings.push(format!(
                "the sform {why}; using the {}",
                if h.qform_code > 0 { "qform" } else { "pixdim" }
            )),
        }
    }
    if h.qform_code > 0 {
        let qform = qform(h, &mut warnings);
        match qform.defect() {
            None => return (scaled(qform), warnings),
            Some(why) => warnings.push(format!("the qform {why}; using the pixdim")),
        }
    }
    let mut a = Affine::identity();
    for (c, step) in pixdim_steps(h, &mut warnings).into_iter().enumerate() {
        a.0[c][c] = step;
    }
    if h.sform_code <= 0 && h.qform_code <= 0 && warnings.is_empty() {
        // Method 1 is legal, but orientation and origin are unknown.
        log::debug!("no sform or qform: axes taken as RAS with origin 0");
    }
    (scaled(a), warnings)
}

/// Millimetres per stored spatial unit (`xyzt_units` bits 0–2: 1 metre, 2 mm, 3 micron).
pub(super) fn unit_to_mm(h: &NiftiHeader) -> f64 {
    match h.xyzt_units & 0x07 {
        1 => 1000.0,
        3 => 0.001,
        _ => 1.0,
    }
}

fn sform(h: &NiftiHeader) -> Affine {
    let mut a = Affine::identity();
    for (r, row) in [h.srow_x, h.srow_y, h.srow_z].iter().enumerate() {
        for c in 0..4 {
            a.0[r][c] = row[c] as f64;
        }
    }
    a
}

fn qform(h: &NiftiHeader, warnings: &mut Vec<String>) -> Affine {
    let mut a = Affine::identity();
    let (b, c, d) = (h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64);
    let rot = quatern_to_rotation(b, c, d);
    let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
    for (col, step) in pixdim_steps(h, warnings).into_iter().enumerate() {
        let step = if col == 2 { step * qfac } else { step };
        for (r, row) in rot.iter().enumerate() {
            a.0[r][col] = row[col] * step;
        }
    }
    a.0[0][3] = h.quatern_x as f64;
    a.0[1][3] = h.quatern_y as f64;
    a.0[2][3] = h.quatern_z as f64;
    a
}

/// `|pixdim[1..4]|`, with 1 where a value is zero or not finite (as nifti1_io does, with a warning).
fn pixdim_steps(h: &NiftiHeader, warnings: &mut Vec<String>) -> [f64; 3] {
    std::array::from_fn(|c| {
        let p = h.pixdim[c + 1].abs() as f64;
        if p > 0.0 && p.is_finite() {
            p
        } else {
            warnings.push(format!(
                "pixdim[{}] = {} is not a voxel size; reading that axis at 1 mm",
                c + 1,
                h.pixdim[c + 1]
            ));
            1.0
        }
    })
}

/// Rotation matrix of the unit quaternion `(a, b, c, d)` with `a` implied (nifti1_io's
/// `quatern_to_mat44`).
pub(super) fn quatern_to_rotation(b: f64, c: f64, d: f64) -> [[f64; 3]; 3] {
    let (mut a, mut b, mut c, mut d) = (1.0 - (b * b + c * c + d * d), b, c, d);
    if a < 1e-7 {
        // 180° rotation: renormalise (b, c, d)
        let s = 1.0 / (b * b + c * c + d * d).sqrt();
        (a, b, c, d) = (0.0, b * s, c * s, d * s);
    } else {
        a = a.sqrt();
    }
    [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ]
}

/// Quaternion `(b, c, d)` and `qfac` of the rotation part of an affine (nifti1_io's
/// `mat44_to_quatern`): columns normalised, made orthogonal (polar decomposition), improper
/// rotations expressed with `qfac = -1`.
pub(super) fn affine_to_quatern(aff: &Affine) -> ([f64; 3], f64) {
    let mut m = [[0.0; 3]; 3];
    for c in 0..3 {
        let col = aff.column(c);
        let n = crate::data::volume::norm(col);
        for r in 0..3 {
            m[r][c] = if n > 0.0 {
                col[r] / n
            } else if r == c {
                1.0
            } else {
                0.0
            };
        }
    }
    let m = polar(m);
    let qfac = if det3(&m) > 0.0 { 1.0 } else { -1.0 };
    // an improper rotation becomes proper by flipping the third column
    let r = |i: usize, j: usize| if j == 2 { m[i][j] * qfac } else { m[i][j] };
    let trace = r(0, 0) + r(1, 1) + r(2, 2);
    let (a, b, c, d) = if trace + 1.0 > 0.5 {
        let a = 0.5 * (trace + 1.0).sqrt();
        (
            a,
            0.25 * (r(2, 1) - r(1, 2)) / a,
            0.25 * (r(0, 2) - r(2, 0)) / a,
            0.25 * (r(1, 0) - r(0, 1)) / a,
        )
    } else if 1.0 + r(0, 0) - r(1, 1) - r(2, 2) > 1.0 {
        let b = 0.5 * (1.0 + r(0, 0) - r(1, 1) - r(2, 2)).sqrt();
        (
            0.25 * (r(2, 1) - r(1, 2)) / b,
            b,
            0.25 * (r(0, 1) + r(1, 0)) / b,
            0.25 * (r(0, 2) + r(2, 0)) / b,
        )
    } else if 1.0 + r(1, 1) - r(0, 0) - r(2, 2) > 1.0 {
        let c = 0.5 * (1.0 + r(1, 1) - r(0, 0) - r(2, 2)).sqrt();
        (
            0.25 * (r(0, 2) - r(2, 0)) / c,
            0.25 * (r(0, 1) + r(1, 0)) / c,
            c,
            0.25 * (r(1, 2) + r(2, 1)) / c,
        )
    } else {
        let d = 0.5 * (1.0 + r(2, 2) - r(0, 0) - r(1, 1)).sqrt();
        (
            0.25 * (r(1, 0) - r(0, 1)) / d,
            0.25 * (r(0, 2) + r(2, 0)) / d,
            0.25 * (r(1, 2) + r(2, 1)) / d,
            d,
        )
    };
    // the stored quaternion implies a >= 0
    let s = if a < 0.0 { -1.0 } else { 1.0 };
    ([b * s, c * s, d * s], qfac)
}

pub(super) fn det3(m: &[[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

/// Closest orthogonal matrix (Newton iteration `X ← (X + X⁻ᵀ) / 2`); identity when singular.
pub(super) fn polar(mut x: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    for _ in 0..100 {
        let det = det3(&x);
        if det.abs() < 1e-12 {
            return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        }
        // inverse transpose = cofactor matrix / det
        let mut next = [[0.0; 3]; 3];
        let mut change = 0.0f64;
        for r in 0..3 {
            for c in 0..3 {
                let (r1, r2, c1, c2) = ((r + 1) % 3, (r + 2) % 3, (c + 1) % 3, (c + 2) % 3);
                let cof = x[r1][c1] * x[r2][c2] - x[r1][c2] * x[r2][c1];
                next[r][c] = 0.5 * (x[r][c] + cof / det);
                change = change.max((next[r][c] - x[r][c]).abs());
            }
        }
        x = next;
        if change < 1e-15 {
            break;
        }
    }
    x
}
