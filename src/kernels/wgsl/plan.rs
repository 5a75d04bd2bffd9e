//! Shapes, tile choices and dispatch grids for the WGSL convolution kernels.
//!
//! Everything here is plain arithmetic on sizes, so it is tested without a device. The tile
//! parameters become template constants of the shaders (and part of their kernel ids); the
//! tensor sizes are passed at run time in a small `info` buffer.

use crate::{Error, Result};

/// Most workgroups a dispatch may have along one dimension (WebGPU's guaranteed limit).
pub const MAX_GROUPS_PER_DIM: u32 = 65_535;

/// Sizes of one stride-1, same-padded 3-D convolution `[n, ci, d, h, w] -> [n, co, d, h, w]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    pub n: usize,
    pub ci: usize,
    pub co: usize,
    pub d: usize,
    pub h: usize,
    pub w: usize,
    /// Cubic kernel size: 1 or 3.
    pub k: usize,
}

impl ConvGeometry {
    /// Reads the geometry from `x: [n, ci, d, h, w]` and `weight: [co, ci, k, k, k]`.
    pub fn from_dims(x: [usize; 5], weight: [usize; 5]) -> Result<Self> {
        let [n, ci, d, h, w] = x;
        let [co, wci, k0, k1, k2] = weight;
        if wci != ci {
            return Err(Error::config(format!(
                "conv3d: weight has {wci} input channels but x has {ci} (x {x:?}, weight {weight:?})"
            )));
        }
        if k0 != k1 || k1 != k2 || !(k0 == 1 || k0 == 3) {
            return Err(Error::config(format!(
                "conv3d: only cubic 1x1x1 and 3x3x3 kernels are supported, got {k0}x{k1}x{k2}"
            )));
        }
        if [n, ci, co, d, h, w].contains(&0) {
            return Err(Error::config(format!(
                "conv3d: empty tensor (x {x:?}, weight {weight:?})"
            )));
        }
        Ok(Self {
            n,
            ci,
            co,
            d,
            h,
            w,
            k: k0,
        })
    }

    /// Voxels per channel.
    pub fn voxels(&self) -> usize {
        self.d * self.h * self.w
    }

    /// Multiply-adds of one forward pass times two.
    pub fn flops(&self) -> f64 {
        2.0 * (self.n * self.voxels() * self.ci * self.co * self.k.pow(3)) as f64
    }

    /// The same convolution with input and output channels swapped (the input-gradient conv).
    pub fn transposed(&self) -> Self {
        Self {
            ci: self.co,
            co: self.ci,
            ..*self
        }
    }

    /// Checks every buffer against the adapter's largest binding (bytes) and u32 indexing.
    pub fn check_buffers(&self, max_binding_bytes: u64) -> Result<()> {
        let sizes = [
            ("input", self.n * self.ci * self.voxels()),
            ("output", self.n * self.co * self.voxels()),
            ("weight", self.co * self.ci * self.k.pow(3)),
        ];
        for (what, elems) in sizes {
            let bytes = elems as u64 * 4;
            if bytes > max_binding_bytes || elems as u64 > u32::MAX as u64 {
                return Err(Error::Backend(format!(
                    "conv3d: the {what} tensor needs {bytes} bytes, over the adapter's storage \
                     binding limit of {max_binding_bytes} bytes; use smaller patches or batches"
                )));
            }
        }
        Ok(())
    }
}

/// A dispatch of `total` workgroups folded into a grid that respects the per-dimension limit.
/// Shaders rebuild the linear id as `x + nx * (y + ny * z)` and ignore ids `>= total`.
pub fn fold_grid(total: u32) -> Result<(u32, u32, u32)> {
    let m = MAX_GROUPS_PER_DIM;
    if total == 0 {
        return Ok((1, 1, 1));
    }
    if total <= m {
        return Ok((total, 1, 1));
    }
    let rows = total.div_ceil(m);
    if rows <= m {
        return Ok((m, rows, 1));
    }
    let layers = rows.div_ceil(m);
    if layers <= m {
        return Ok((m, m, layers));
    }
    Err(Error::Backend(format!(
        "conv3d: {total} workgroups exceed the dispatch limits"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_folds_under_the_limit_and_covers_all_groups() {
        for total in [1u32, 7, 65_535, 65_536, 1_000_000, 65_535 * 65_535 + 3] {
            let (x, y, z) = fold_grid(total).unwrap();
            assert!(x <= MAX_GROUPS_PER_DIM && y <= MAX_GROUPS_PER_DIM && z <= MAX_GROUPS_PER_DIM);
            let cover = x as u64 * y as u64 * z as u64;
            assert!(cover >= total as u64, "{total}: {x}x{y}x{z}");
            assert!(
                cover - (total as u64) < (x as u64) * (y as u64),
                "too much waste"
            );
        }
    }

    #[test]
    fn geometry_rejects_bad_kernels_and_channel_mismatch() {
        assert!(ConvGeometry::from_dims([1, 3, 4, 4, 4], [8, 3, 3, 3, 3]).is_ok());
        assert!(ConvGeometry::from_dims([1, 3, 4, 4, 4], [8, 2, 3, 3, 3]).is_err());
        assert!(ConvGeometry::from_dims([1, 3, 4, 4, 4], [8, 3, 5, 5, 5]).is_err());
        assert!(ConvGeometry::from_dims([1, 3, 4, 4, 4], [8, 3, 3, 1, 3]).is_err());
    }

    #[test]
    fn oversized_buffers_are_an_error() {
        let g = ConvGeometry::from_dims([2, 32, 64, 64, 64], [32, 32, 3, 3, 3]).unwrap();
        assert!(g.check_buffers(1 << 30).is_ok());
        let err = g.check_buffers(1 << 20).unwrap_err().to_string();
        assert!(err.contains("binding limit"), "{err}");
    }
}
