//! The one volume type of the program: voxels on a 3-D grid with its physical geometry.
//!
//! Memory order is NIfTI's: `i` (x) fastest, then `j` (y), then `k` (z, usually the slice axis), so
//! `index = i + nx * (j + ny * k)`. As a tensor the same buffer is `[depth = nz, height = ny, width = nx]`.

/// 4×4 voxel-to-world matrix (row-major), world in RAS millimetres as in NIfTI.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Affine(pub [[f64; 4]; 4]);

impl Affine {
    pub fn identity() -> Self {
        let mut m = [[0.0; 4]; 4];
        for (i, row) in m.iter_mut().enumerate() {
            row[i] = 1.0;
        }
        Affine(m)
    }

    /// Axis-aligned grid: voxel `(i, j, k)` at `origin + spacing * (i, j, k)` in RAS.
    pub fn from_spacing_origin(spacing: [f64; 3], origin: [f64; 3]) -> Self {
        let mut a = Affine::identity();
        for r in 0..3 {
            a.0[r][r] = spacing[r];
            a.0[r][3] = origin[r];
        }
        a
    }

    /// From LPS (DICOM / NRRD `space: left-posterior-superior`) direction columns and origin:
    /// `columns[c]` is the world step of voxel axis `c`. Flips x and y to RAS.
    pub fn from_lps(columns: [[f64; 3]; 3], origin: [f64; 3]) -> Self {
        let mut a = Affine::identity();
        let flip = [-1.0, -1.0, 1.0];
        for r in 0..3 {
            for (c, col) in columns.iter().enumerate() {
                a.0[r][c] = flip[r] * col[r];
            }
            a.0[r][3] = flip[r] * origin[r];
        }
        a
    }

    /// The world step of voxel axis `c` (column `c` of the 3×3 part).
    pub fn column(&self, c: usize) -> [f64; 3] {
        [self.0[0][c], self.0[1][c], self.0[2][c]]
    }

    pub fn origin(&self) -> [f64; 3] {
        [self.0[0][3], self.0[1][3], self.0[2][3]]
    }

    /// Voxel size along each voxel axis (norms of the columns).
    pub fn spacing(&self) -> [f64; 3] {
        std::array::from_fn(|c| norm(self.column(c)))
    }

    /// World position of a (fractional) voxel index.
    pub fn apply(&self, v: [f64; 3]) -> [f64; 3] {
        std::array::from_fn(|r| {
            self.0[r][0] * v[0] + self.0[r][1] * v[1] + self.0[r][2] * v[2] + self.0[r][3]
        })
    }

    /// Why this affine cannot place voxels in the world, if it cannot: a non-finite element, a
    /// zero-length axis, or axes that (nearly) lie in one plane (singular 3×3 part).
    pub fn defect(&self) -> Option<String> {
        if self.0.iter().flatten().any(|v| !v.is_finite()) {
            return Some("has a non-finite element".into());
        }
        let norms: [f64; 3] = std::array::from_fn(|c| norm(self.column(c)));
        if let Some(c) = (0..3).find(|&c| !(norms[c] > 0.0)) {
            return Some(format!("axis {c} has zero length"));
        }
        let m = &self.0;
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        // The volume of the unit voxel against that of a box of its axes' lengths: 0 when the
        // axes are parallel, 1 when they are orthogonal.
        if !(det.abs() / (norms[0] * norms[1] * norms[2]) > 1e-6) {
            return Some("is singular (its axes lie in one plane)".into());
        }
        None
    }

    /// Inverse (world → voxel); `None` when the 3×3 part is singular.
    pub fn inverse(&self) -> Option<Affine> {
        let m = &self.0;
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        if det.abs() < 1e-12 {
            return None;
        }
        let mut inv = [[0.0; 3]; 3];
        for r in 0..3 {
            for c in 0..3 {
                let (r1, r2) = ((c + 1) % 3, (c + 2) % 3);
                let (c1, c2) = ((r + 1) % 3, (r + 2) % 3);
                inv[r][c] = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / det;
            }
        }
        let mut out = Affine::identity();
        for r in 0..3 {
            for c in 0..3 {
                out.0[r][c] = inv[r][c];
            }
            out.0[r][3] = -(0..3).map(|c| inv[r][c] * m[c][3]).sum::<f64>();
        }
        Some(out)
    }

    /// Largest absolute element difference, for geometry checks with a tolerance.
    pub fn max_abs_diff(&self, other: &Affine) -> f64 {
        let mut d = 0.0f64;
        for r in 0..4 {
            for c in 0..4 {
                d = d.max((self.0[r][c] - other.0[r][c]).abs());
            }
        }
        d
    }
}

pub fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

/// Voxels on a grid with geometry. `T = f32` for images, `u8` for label maps.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume<T> {
    pub data: Vec<T>,
    /// `[nx, ny, nz]`.
    pub dims: [usize; 3],
    /// Voxel size in mm along i, j, k.
    pub spacing: [f64; 3],
    /// Voxel → RAS world (mm).
    pub affine: Affine,
    /// The NIfTI header this volume was read from, kept so a written result carries the exact same
    /// geometry fields (qform/sform codes, quaternions, pixdim, units).
    pub nifti_header: Option<Box<nifti::NiftiHeader>>,
}

pub type Image = Volume<f32>;
pub type LabelMap = Volume<u8>;

impl<T: Copy + Default> Volume<T> {
    /// A volume filled with `T::default()` on the given grid.
    pub fn zeros(dims: [usize; 3], spacing: [f64; 3], affine: Affine) -> Self {
        Volume {
            data: vec![T::default(); dims[0] * dims[1] * dims[2]],
            dims,
            spacing,
            affine,
            nifti_header: None,
        }
    }

    /// A volume of another voxel type on the same grid (geometry and header kept).
    pub fn same_grid<U: Copy + Default>(&self) -> Volume<U> {
        Volume {
            data: vec![U::default(); self.len()],
            dims: self.dims,
            spacing: self.spacing,
            affine: self.affine,
            nifti_header: self.nifti_header.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    #[inline]
    pub fn get(&self, i: usize, j: usize, k: usize) -> T {
        self.data[self.index(i, j, k)]
    }

    #[inline]
    pub fn set(&mut self, i: usize, j: usize, k: usize, v: T) {
        let idx = self.index(i, j, k);
        self.data[idx] = v;
    }

    /// Volume of one voxel in millilitres.
    pub fn voxel_ml(&self) -> f64 {
        self.spacing.iter().product::<f64>() / 1000.0
    }

    /// True when `other` lies on the same grid (dims equal, affine within `tol` mm).
    pub fn same_geometry<U>(&self, other: &Volume<U>, tol: f64) -> bool {
        self.dims == other.dims && self.affine.max_abs_diff(&other.affine) <= tol
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_inverse_round_trips() {
        let a = Affine::from_lps(
            [[0.0, 0.5, 0.0], [0.4, 0.0, 0.1], [0.0, 0.0, 3.0]],
            [10.0, -20.0, 5.0],
        );
        let inv = a.inverse().unwrap();
        let p = [3.0, 7.5, 2.0];
        let back = inv.apply(a.apply(p));
        for c in 0..3 {
            assert!((back[c] - p[c]).abs() < 1e-9);
        }
    }

    #[test]
    fn lps_flips_x_and_y() {
        let a = Affine::from_lps(
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            [1.0, 2.0, 3.0],
        );
        assert_eq!(a.origin(), [-1.0, -2.0, 3.0]);
        assert_eq!(a.column(0), [-1.0, 0.0, 0.0]);
    }
}
