//! The im2col unfold shared by the CPU convolution ([`super::conv_forward`]) and its weight
//! gradient ([`super::weight_grad`]).
//!
//! Only the `k×k` taps in z and y are unfolded, each input row copied at a padded pitch of
//! `w + 2p` with zeros on both sides: tap `c` in x is then the same matrix read `c` elements
//! further on, so one GEMM per x-tap reads it in place. That writes `ci·k²` rows instead of
//! im2col's `ci·k³` (a third of the traffic at k = 3); the price is `2p` junk columns per row
//! in the GEMM's output (forward) or zeros in its input (weight gradient).

/// Target size of one tile's unfolded matrix, so it stays in a core's L2 cache.
const COLS_BYTES: usize = 256 * 1024;

/// The layout of one unfolded tile: `rows` output rows of slice `z` from row `y0`.
#[derive(Clone, Copy, Debug)]
pub struct Unfold {
    /// Kernel size (odd) and half-width `p = k/2`.
    pub k: usize,
    pub p: usize,
    /// Padded row pitch, `w + 2p` for input rows `w` wide.
    pub pitch: usize,
    /// Output rows in the tile.
    pub rows: usize,
    /// Matrix rows: one per `(channel, z tap, y tap)`, `ci·k²`.
    pub taps: usize,
}

impl Unfold {
    pub fn new(ci: usize, w: usize, k: usize, rows: usize) -> Self {
        let p = k / 2;
        Unfold {
            k,
            p,
            pitch: w + 2 * p,
            rows,
            taps: ci * k * k,
        }
    }

    /// Output positions in the tile, `rows·pitch`; position `r·pitch + x` is real for `x < w`.
    pub fn len(&self) -> usize {
        self.rows * self.pitch
    }

    /// Row stride of the matrix, `len + 2p`: x-tap `c` reads columns `c..c + len`.
    pub fn stride(&self) -> usize {
        self.len() + 2 * self.p
    }

    /// Floats the matrix needs.
    pub fn buffer_len(&self) -> usize {
        self.taps * self.stride()
    }
}

/// Rows per band of an `h`-row plane so that the band's matrix fits in [`COLS_BYTES`].
pub fn band_rows(ci: usize, k: usize, h: usize, w: usize) -> usize {
    let per_row = 4 * ci * k * k * (w + k);
    (COLS_BYTES / per_row.max(1)).clamp(1, h.max(1))
}

/// Fills `cols[j·stride + r·pitch + q]`, `j = (i·k + a)·k + b`, with the input of sample `s`,
/// channel `i` at `(z+a−p, y0+r+b−p, q−p)`, 0 outside the volume (and in each row's tail).
pub fn unfold(
    cols: &mut [f32],
    x: &[f32],
    dims: [usize; 5],
    s: usize,
    z: usize,
    y0: usize,
    u: &Unfold,
) {
    let [_, ci, d, h, w] = dims;
    let (k, p, pitch) = (u.k, u.p, u.pitch);
    let plane = h * w;
    for (j, row) in cols[..u.buffer_len()].chunks_mut(u.stride()).enumerate() {
        let (b, a, i) = (j % k, (j / k) % k, j / (k * k));
        let zz = z + a;
        if zz < p || zz - p >= d {
            row.fill(0.0);
            continue;
        }
        let src_plane = &x[((s * ci + i) * d + zz - p) * plane..][..plane];
        let (body, tail) = row.split_at_mut(u.len());
        tail.fill(0.0);
        for (r, out) in body.chunks_mut(pitch).enumerate() {
            let yy = y0 + r + b;
            if yy < p || yy - p >= h {
                out.fill(0.0);
                continue;
            }
            out[..p].fill(0.0);
            out[p..p + w].copy_from_slice(&src_plane[(yy - p) * w..][..w]);
            out[p + w..].fill(0.0);
        }
    }
}

/// Deterministic values in [−1, 1] for the CPU kernels' tests.
#[cfg(test)]
pub(crate) fn test_values(len: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// Shapes `(x dims, output channels, k)` for the CPU kernels' tests: odd sizes, `w < k`, a
/// 1-voxel axis and k = 1 and 5 exercise every border case.
#[cfg(test)]
pub(crate) const TEST_SHAPES: [([usize; 5], usize, usize); 5] = [
    ([2, 3, 4, 5, 6], 2, 3),
    ([1, 2, 3, 4, 2], 3, 3),
    ([1, 1, 1, 3, 3], 1, 3),
    ([2, 2, 3, 3, 4], 2, 1),
    ([1, 2, 5, 6, 7], 2, 5),
];

/// Asserts `got ≈ want` element-wise within `tol · (1 + |want|)`, naming `what` on failure.
#[cfg(test)]
pub(crate) fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, r)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - r).abs() < tol * (1.0 + r.abs()),
            "{what}[{i}]: {g} vs {r}"
        );
    }
}
