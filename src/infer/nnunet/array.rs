//! A 3-D array in C order (`[a0, a1, a2]`, last axis fastest), the layout nnU-Net's numpy arrays
//! have: an image read from NIfTI is `[z, y, x]` with x fastest, i.e. exactly the voxel order of
//! unet3d's [`Volume`](crate::data::Volume) buffers.

/// A dense 3-D array, C order.
#[derive(Clone, Debug, PartialEq)]
pub struct Array3<T> {
    pub shape: [usize; 3],
    pub data: Vec<T>,
}

impl<T: Copy + Default> Array3<T> {
    pub fn zeros(shape: [usize; 3]) -> Self {
        Array3 {
            shape,
            data: vec![T::default(); shape.iter().product()],
        }
    }

    pub fn from_vec(shape: [usize; 3], data: Vec<T>) -> Self {
        debug_assert_eq!(data.len(), shape.iter().product::<usize>());
        Array3 { shape, data }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    #[inline]
    pub fn offset(&self, i: [usize; 3]) -> usize {
        (i[0] * self.shape[1] + i[1]) * self.shape[2] + i[2]
    }

    /// numpy's `a.transpose(perm)`: output axis `d` is input axis `perm[d]`.
    pub fn transpose(&self, perm: [usize; 3]) -> Self {
        if perm == [0, 1, 2] {
            return self.clone();
        }
        let shape = perm.map(|p| self.shape[p]);
        let stride_in = [self.shape[1] * self.shape[2], self.shape[2], 1];
        let strides = perm.map(|p| stride_in[p]);
        let mut data = Vec::with_capacity(self.len());
        for a in 0..shape[0] {
            for b in 0..shape[1] {
                let base = a * strides[0] + b * strides[1];
                data.extend((0..shape[2]).map(|c| self.data[base + c * strides[2]]));
            }
        }
        Array3 { shape, data }
    }

    /// The box `[lo, hi)` per axis.
    pub fn crop(&self, bbox: [[usize; 2]; 3]) -> Self {
        let shape = bbox.map(|[lo, hi]| hi - lo);
        let mut data = Vec::with_capacity(shape.iter().product());
        for a in bbox[0][0]..bbox[0][1] {
            for b in bbox[1][0]..bbox[1][1] {
                let start = self.offset([a, b, bbox[2][0]]);
                data.extend_from_slice(&self.data[start..start + shape[2]]);
            }
        }
        Array3 { shape, data }
    }

    /// `self` written into a `shape` array of `fill` at offset `lo` (the inverse of a crop).
    pub fn embed(&self, shape: [usize; 3], lo: [usize; 3], fill: T) -> Self {
        let mut out = Array3 {
            shape,
            data: vec![fill; shape.iter().product()],
        };
        for a in 0..self.shape[0] {
            for b in 0..self.shape[1] {
                let src = self.offset([a, b, 0]);
                let dst = out.offset([a + lo[0], b + lo[1], lo[2]]);
                out.data[dst..dst + self.shape[2]]
                    .copy_from_slice(&self.data[src..src + self.shape[2]]);
            }
        }
        out
    }

    /// `a[.., k, ..]` along `axis`: the 2-D slice as a `[1, m, n]`-like array of the other
    /// two axes in order.
    pub fn slice(&self, axis: usize, k: usize) -> Array3<T> {
        let mut lo = [0; 3];
        let mut hi = self.shape;
        lo[axis] = k;
        hi[axis] = k + 1;
        self.crop([[lo[0], hi[0]], [lo[1], hi[1]], [lo[2], hi[2]]])
    }

    /// Writes `slice` (shaped like [`slice`](Self::slice)'s result) at index `k` of `axis`.
    pub fn set_slice(&mut self, axis: usize, k: usize, slice: &Array3<T>) {
        let mut lo = [0; 3];
        lo[axis] = k;
        let mut i = 0;
        for a in 0..slice.shape[0] {
            for b in 0..slice.shape[1] {
                let dst = self.offset([a + lo[0], b + lo[1], lo[2]]);
                let n = slice.shape[2];
                self.data[dst..dst + n].copy_from_slice(&slice.data[i..i + n]);
                i += n;
            }
        }
    }

    pub fn map<U>(&self, f: impl Fn(T) -> U) -> Array3<U> {
        Array3 {
            shape: self.shape,
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }
}

/// Inverse of a permutation: `inverse(p)[p[d]] = d`.
pub fn inverse_permutation(perm: [usize; 3]) -> [usize; 3] {
    let mut inv = [0; 3];
    for (d, &p) in perm.iter().enumerate() {
        inv[p] = d;
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_crop_embed_slice_agree_with_numpy_semantics() {
        let a = Array3::from_vec([2, 3, 4], (0..24).collect::<Vec<i32>>());
        let t = a.transpose([2, 0, 1]);
        assert_eq!(t.shape, [4, 2, 3]);
        // t[c, a, b] = a[a, b, c]
        assert_eq!(t.data[t.offset([3, 1, 2])], a.data[a.offset([1, 2, 3])]);
        assert_eq!(t.transpose(inverse_permutation([2, 0, 1])), a);
        let c = a.crop([[1, 2], [0, 2], [1, 3]]);
        assert_eq!(c.data, vec![13, 14, 17, 18]);
        let e = c.embed([2, 3, 4], [1, 0, 1], -1);
        assert_eq!(e.crop([[1, 2], [0, 2], [1, 3]]), c);
        assert_eq!(e.data.iter().filter(|&&v| v == -1).count(), 20);
        let mut z = Array3::zeros([2, 3, 4]);
        for k in 0..3 {
            z.set_slice(1, k, &a.slice(1, k));
        }
        assert_eq!(z, a);
    }
}
