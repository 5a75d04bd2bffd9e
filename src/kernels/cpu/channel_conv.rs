//! The direct convolution for small planes: vectors over output channels instead of positions.
//!
//! [`super::direct_conv`] vectorises along the padded line, so a 10×10 plane computes 144
//! positions for 100 outputs and a 5×5 plane 48 for 25. Here a tile is `P` consecutive outputs
//! of one row and 32 output channels (two AVX-512 vectors): per input channel and tap, two weight
//! vectors and `P` broadcast inputs feed `2·P` multiply-adds, and only a row's last tile computes
//! positions past its end. Used where that wastes less than the line (see
//! [`channel_conv_pays`]); checked against the unfold + GEMM path in the tests below.

#![cfg(target_arch = "x86_64")]

use rayon::prelude::*;

use super::shared_out::SharedOut;

use super::pad::{pad_volume, repack_weights, tap_offsets};

/// Output channels per tile (two 16-lane vectors).
const CB: usize = 32;

/// Whether the channel-vector kernel computes fewer junk multiply-adds than the line kernel with
/// runs of `line_v` positions and blocks of 8 channels (which computes `line_positions`
/// positions per sample).
pub fn channel_conv_pays(dims: [usize; 5], co: usize, line_positions: usize) -> bool {
    let [_, _, d, h, w] = dims;
    let p = tile_width(w);
    let chan = (d * h * w.div_ceil(p) * p) as f64 * (co.div_ceil(CB) * CB) as f64;
    let line = line_positions as f64 * (co.div_ceil(8) * 8) as f64;
    // The channel kernel issues a few more loads per multiply-add: count it 10 % dearer.
    chan * 1.1 < line
}

/// Outputs per tile for rows `w` wide: the width in {5, 8, 10, 12} wasting the fewest positions
/// (the widest on ties).
fn tile_width(w: usize) -> usize {
    [12, 10, 8, 5]
        .into_iter()
        .min_by_key(|&p| w.div_ceil(p) * p - w)
        .unwrap_or(12)
}

/// `y = conv3d(x, weight) + bias`, stride 1, same padding, k×k×k with odd k (the shapes and
/// result of [`super::direct_conv::conv3d_direct`]).
///
/// # Safety
/// The CPU must have AVX-512F.
pub unsafe fn conv3d_channels(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    x_dims: [usize; 5],
    k: usize,
) -> Vec<f32> {
    match tile_width(x_dims[4]) {
        12 => run::<12>(x, weight, bias, x_dims, k),
        10 => run::<10>(x, weight, bias, x_dims, k),
        8 => run::<8>(x, weight, bias, x_dims, k),
        _ => run::<5>(x, weight, bias, x_dims, k),
    }
}

struct Ctx<'a> {
    xp: Vec<f32>,
    cs: usize,
    sy: usize,
    sz: usize,
    ci: usize,
    co: usize,
    /// Weights `[block][ci][tap][CB]` (zero beyond `co`).
    wb: Vec<f32>,
    offs: Vec<usize>,
    bias: &'a [f32],
    dims: [usize; 5],
}

fn run<const P: usize>(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    x_dims: [usize; 5],
    k: usize,
) -> Vec<f32> {
    let [n, ci, d, h, w] = x_dims;
    let co = bias.len();
    let taps = k * k * k;
    assert_eq!(
        x.len(),
        n * ci * d * h * w,
        "x buffer does not match its shape"
    );
    assert_eq!(
        weight.len(),
        co * ci * taps,
        "weight buffer does not match its shape"
    );
    assert!(k % 2 == 1, "same padding needs an odd kernel");
    let mut y = vec![0f32; n * co * d * h * w];
    if y.is_empty() {
        return y;
    }
    let p = k / 2;
    let (sy, sz) = (w + 2 * p, (h + 2 * p) * (w + 2 * p));
    // A row's last tile reads up to P − 1 positions past its end: slack after the volume.
    let cs = (d + 2 * p) * sz + P;
    let xp = pad_volume(x, n * ci, [d, h, w], p, [sz, sy], cs);
    let blocks = co.div_ceil(CB);
    let wb = repack_weights(weight, co, ci, taps, CB);
    let offs = tap_offsets(k, [sz, sy]);
    let ctx = Ctx {
        xp,
        cs,
        sy,
        sz,
        ci,
        co,
        wb,
        offs,
        bias,
        dims: x_dims,
    };
    let out = SharedOut::new(y.as_mut_ptr());
    (0..n * d * h).into_par_iter().for_each(|row| {
        let (s, z, r) = (row / (d * h), row / h % d, row % h);
        for x0 in (0..w).step_by(P) {
            for b in 0..blocks {
                // SAFETY: the caller checked AVX-512F; each (row, x0, block) writes only its
                // own outputs; reads stay inside `xp` (sized with P floats of slack).
                unsafe { tile::<P>(&ctx, [s, z, r, x0, b], out.ptr()) };
            }
        }
    });
    y
}

/// Outputs `x0..x0 + P` (those inside the row) of row `(s, z, r)`, channels of block `b`.
///
/// # Safety
/// AVX-512F; `ctx` from [`run`] with the same `P`; no one else writes these outputs.
#[target_feature(enable = "avx512f")]
unsafe fn tile<const P: usize>(ctx: &Ctx, [s, z, r, x0, b]: [usize; 5], out: *mut f32) {
    use std::arch::x86_64::*;
    let taps = ctx.offs.len();
    let [_, _, d, h, w] = ctx.dims;
    unsafe {
        let base = ctx
            .xp
            .as_ptr()
            .add(s * ctx.ci * ctx.cs + z * ctx.sz + r * ctx.sy + x0);
        let mut acc = [[_mm512_setzero_ps(); 2]; P];
        let mut wp = ctx.wb.as_ptr().add(b * ctx.ci * taps * CB);
        for i in 0..ctx.ci {
            let xi = base.add(i * ctx.cs);
            for &off in &ctx.offs {
                let w0 = _mm512_loadu_ps(wp);
                let w1 = _mm512_loadu_ps(wp.add(16));
                let xo = xi.add(off);
                for (q, a) in acc.iter_mut().enumerate() {
                    let xb = _mm512_set1_ps(*xo.add(q));
                    a[0] = _mm512_fmadd_ps(xb, w0, a[0]);
                    a[1] = _mm512_fmadd_ps(xb, w1, a[1]);
                }
                wp = wp.add(CB);
            }
        }
        // Transpose through a small buffer: tmp[q][c] → y[s, c, z, r, x0 + q].
        let mut tmp = [[0f32; CB]; P];
        for (q, a) in acc.iter().enumerate() {
            _mm512_storeu_ps(tmp[q].as_mut_ptr(), a[0]);
            _mm512_storeu_ps(tmp[q].as_mut_ptr().add(16), a[1]);
        }
        let valid = P.min(w - x0);
        let plane = d * h * w;
        for c in 0..CB {
            let oc = b * CB + c;
            if oc >= ctx.co {
                break;
            }
            let dst = out.add((s * ctx.co + oc) * plane + (z * h + r) * w + x0);
            let bias = ctx.bias[oc];
            for (q, row) in tmp.iter().enumerate().take(valid) {
                *dst.add(q) = row[c] + bias;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::cpu::conv_forward::conv3d_forward;
    use crate::kernels::cpu::unfold::{TEST_SHAPES, assert_close, test_values as values};

    #[test]
    fn matches_the_gemm_path_at_every_tile_width() {
        if !is_x86_feature_detected!("avx512f") {
            return; // nothing to check on this CPU: the kernel is never chosen here
        }
        // Widths picking each tile width (12, 10, 8, 5) and partial last tiles; channels that
        // do not fill a block; k = 1 and 5.
        let extra = [
            ([2, 5, 3, 4, 12], 40, 3),
            ([1, 3, 2, 3, 10], 33, 3),
            ([2, 2, 2, 5, 16], 7, 3),
            ([1, 4, 4, 5, 5], 64, 3),
            ([1, 6, 2, 3, 7], 16, 1),
            ([1, 2, 3, 6, 9], 3, 5),
        ];
        for (dims, co, k) in TEST_SHAPES.into_iter().chain(extra) {
            let [n, ci, d, h, w] = dims;
            let x = values(n * ci * d * h * w, 11);
            let wt = values(co * ci * k * k * k, 12);
            let bias = values(co, 13);
            // SAFETY: AVX-512F checked above.
            let got = unsafe { conv3d_channels(&x, &wt, &bias, dims, k) };
            let want = conv3d_forward(&x, &wt, &bias, dims, k);
            assert_close(&got, &want, 1e-4, &format!("{dims:?} co {co} k{k}"));
        }
    }
}
