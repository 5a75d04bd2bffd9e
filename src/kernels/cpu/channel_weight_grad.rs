//! The weight gradient of a stride-1, same-padded k×k×k convolution with vectors over output
//! channels: no junk positions and no horizontal sums.
//!
//! `dW[o, i, tap] = Σ_pos dy[o, pos] · xpad[i, pos + off(tap)]`. With `dy` transposed to
//! channels-last (16 output channels per vector), one work item owns 16 output channels × one
//! input channel, and its 27 accumulators *are* those gradient entries: per output position, one
//! vector load of `dy` and 27 broadcast inputs feed 27 multiply-adds, over the valid positions
//! only. (The line kernel of [`super::direct_weight_grad`] sums junk padding positions and reduces
//! 24 vectors per chunk, which dominated on the U-Net's 5×5 and 10×10 planes.) Items share no
//! output, so the result does not depend on the thread count. Checked against the unfold + GEMM
//! path in the tests below.

#![cfg(target_arch = "x86_64")]

use rayon::prelude::*;

use super::pad::{pad_volume, tap_offsets};

/// Taps of the 3×3×3 kernel: 27 accumulators fit in the 32 vector registers.
const TAPS: usize = 27;

/// Whether this kernel does fewer multiply-adds than the line kernel, which computes
/// `line_positions` positions per sample for blocks of 8 channels (and adds its reductions).
pub fn channel_weight_grad_pays(
    dims: [usize; 5],
    co: usize,
    k: usize,
    line_positions: usize,
) -> bool {
    let [n, _, d, h, w] = dims;
    let chan = (n * d * h * w) as f64 * (co.div_ceil(16) * 16) as f64;
    let line = (n * line_positions) as f64 * (co.div_ceil(8) * 8) as f64 * 1.1;
    k == 3 && chan < line
}

/// `dW[o, i, a, b, c] = Σ_{n,z,y,x} dy[n, o, z, y, x] · x[n, i, z+a−p, y+b−p, x+c−p]`
/// (the shapes and result of [`super::weight_grad::conv3d_weight_grad`]; k = 3 only).
///
/// # Safety
/// The CPU must have AVX-512F.
pub unsafe fn weight_grad_channels(
    x: &[f32],
    dy: &[f32],
    x_dims: [usize; 5],
    co: usize,
    k: usize,
) -> Vec<f32> {
    let [n, ci, d, h, w] = x_dims;
    assert_eq!(k, 3, "the channel weight gradient is for 3x3x3 kernels");
    let taps = TAPS;
    let plane = d * h * w;
    assert_eq!(x.len(), n * ci * plane, "x buffer does not match its shape");
    assert_eq!(
        dy.len(),
        n * co * plane,
        "dy buffer does not match its shape"
    );
    let mut dw = vec![0f32; co * ci * taps];
    if plane == 0 || n == 0 {
        return dw;
    }
    let p = k / 2;
    let (sy, sz) = (w + 2 * p, (h + 2 * p) * (w + 2 * p));
    let cs = (d + 2 * p) * sz;
    let xp = pad_volume(x, n * ci, [d, h, w], p, [sz, sy], cs);
    // dy channels-last, channels padded to whole vectors: dyt[s][pos][cp].
    let blocks = co.div_ceil(16);
    let cp = blocks * 16;
    let mut dyt = vec![0f32; n * plane * cp];
    dyt.par_chunks_mut(plane * cp)
        .zip(dy.par_chunks(co * plane))
        .for_each(|(dst, src)| {
            for (o, ch) in src.chunks(plane).enumerate() {
                for (pos, &v) in ch.iter().enumerate() {
                    dst[pos * cp + o] = v;
                }
            }
        });
    let offs: [usize; TAPS] = tap_offsets(3, [sz, sy])
        .try_into()
        .expect("a 3x3x3 kernel has 27 taps");
    // Each item: (block, input channel) → its 16 × taps gradients, [taps][16].
    let grads: Vec<[[f32; 16]; TAPS]> = (0..blocks * ci)
        .into_par_iter()
        .map(|item| {
            let (b, i) = (item / ci, item % ci);
            let geo = Geo {
                n,
                d,
                h,
                w,
                sy,
                sz,
                cs,
                ci,
                cp,
            };
            // SAFETY: the caller guarantees AVX-512F; `item` reads inside `xp` and `dyt`.
            unsafe { item_avx512(&xp, &dyt, &offs, geo, b, i) }
        })
        .collect();
    for (item, g) in grads.iter().enumerate() {
        let (b, i) = (item / ci, item % ci);
        for (t, lanes) in g.iter().enumerate() {
            for (l, &v) in lanes.iter().enumerate() {
                let o = b * 16 + l;
                if o < co {
                    dw[(o * ci + i) * taps + t] = v;
                }
            }
        }
    }
    dw
}

/// The sizes one item needs.
#[derive(Clone, Copy)]
struct Geo {
    n: usize,
    d: usize,
    h: usize,
    w: usize,
    sy: usize,
    sz: usize,
    cs: usize,
    ci: usize,
    cp: usize,
}

/// Gradients of output channels `16·b ..` for input channel `i`, per tap.
///
/// # Safety
/// AVX-512F; buffers laid out as in [`weight_grad_channels`].
#[target_feature(enable = "avx512f")]
unsafe fn item_avx512(
    xp: &[f32],
    dyt: &[f32],
    offs: &[usize; TAPS],
    g: Geo,
    b: usize,
    i: usize,
) -> [[f32; 16]; TAPS] {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_setzero_ps(); TAPS];
    let plane = g.d * g.h * g.w;
    unsafe {
        for s in 0..g.n {
            let xs = xp.as_ptr().add((s * g.ci + i) * g.cs);
            let mut dp = dyt.as_ptr().add(s * plane * g.cp + b * 16);
            for z in 0..g.d {
                for r in 0..g.h {
                    let row = xs.add(z * g.sz + r * g.sy);
                    for x in 0..g.w {
                        let gv = _mm512_loadu_ps(dp);
                        let xr = row.add(x);
                        for t in 0..TAPS {
                            let xb = _mm512_set1_ps(*xr.add(offs[t]));
                            acc[t] = _mm512_fmadd_ps(xb, gv, acc[t]);
                        }
                        dp = dp.add(g.cp);
                    }
                }
            }
        }
        let mut out = [[0f32; 16]; TAPS];
        for (o, a) in out.iter_mut().zip(&acc) {
            _mm512_storeu_ps(o.as_mut_ptr(), *a);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::cpu::unfold::{TEST_SHAPES, assert_close, test_values as values};
    use crate::kernels::cpu::weight_grad::conv3d_weight_grad;

    #[test]
    fn matches_the_gemm_path() {
        if !is_x86_feature_detected!("avx512f") {
            return; // nothing to check on this CPU: the kernel is never chosen here
        }
        // Channels that do not fill a vector, several vectors, one voxel.
        let extra = [
            ([2, 3, 3, 5, 5], 20, 3),
            ([1, 2, 1, 1, 1], 17, 3),
            ([2, 4, 4, 10, 10], 64, 3),
        ];
        for (dims, co, k) in TEST_SHAPES.into_iter().chain(extra) {
            if k != 3 {
                continue;
            }
            let [n, ci, d, h, w] = dims;
            let x = values(n * ci * d * h * w, 21);
            let dy = values(n * co * d * h * w, 22);
            // SAFETY: AVX-512F checked above.
            let got = unsafe { weight_grad_channels(&x, &dy, dims, co, k) };
            let want = conv3d_weight_grad(&x, &dy, dims, co, k);
            let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
            let got: Vec<f32> = got.iter().map(|v| v / scale).collect();
            let want: Vec<f32> = want.iter().map(|v| v / scale).collect();
            assert_close(&got, &want, 1e-4, &format!("{dims:?} co {co} k{k}"));
        }
    }
}
