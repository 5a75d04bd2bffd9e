//! The weight gradient of a stride-1, same-padded 3×3×3 convolution on the CPU, in the padded-line
//! layout of [`super::direct_conv`].
//!
//! With `dy` laid out on the output line (`t = z·Sz + y·Sy + x`, zeros at the padding positions)
//! and the input zero-padded as in the forward, `dW[o, i, a, b, c] = Σ_t dy[o, t] ·
//! xpad[i, t + a·Sz + b·Sy + c]`: for each `(i, a, b)` the three x-taps are three shifted
//! vector loads of one input row, and 8 output channels × 3 taps accumulate in 24 registers over a
//! chunk of `t`, with no unfolded copy. Chunks of the line are split between threads, each with
//! its own partial gradient, summed in a fixed order.
//!
//! AVX-512 only; elsewhere (and for kernels other than 3) the unfold + GEMM path
//! ([`super::weight_grad`]) runs. Checked against that path in the tests below.

use rayon::prelude::*;

use super::pad::pad_volume;
use super::weight_grad::{conv3d_weight_grad, sum_halves};

/// Positions of the line per work item: `dy` for 8 channels of a chunk stays in L1.
const CHUNK: usize = 8192;

/// `dW[o, i, a, b, c] = Σ_{n,z,y,x} dy[n, o, z, y, x] · x[n, i, z+a−p, y+b−p, x+c−p]` (see
/// [`conv3d_weight_grad`], same shapes and result).
pub fn conv3d_weight_grad_direct(
    x: &[f32],
    dy: &[f32],
    x_dims: [usize; 5],
    co: usize,
    k: usize,
) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        let [n, ci, d, h, w] = x_dims;
        let sizes_ok = x.len() == n * ci * d * h * w && dy.len() == n * co * d * h * w;
        if k == 3
            && sizes_ok
            && !x.is_empty()
            && !dy.is_empty()
            && is_x86_feature_detected!("avx512f")
        {
            let line = line_length([d, h, w]);
            if super::channel_weight_grad::channel_weight_grad_pays(x_dims, co, k, line) {
                // SAFETY: AVX-512F checked just above.
                return unsafe {
                    super::channel_weight_grad::weight_grad_channels(x, dy, x_dims, co, k)
                };
            }
            return run(x, dy, x_dims, co);
        }
    }
    conv3d_weight_grad(x, dy, x_dims, co, k)
}

/// The geometry and padded operands shared by every work item.
#[cfg(target_arch = "x86_64")]
struct Ctx {
    /// Padded input `[n][ci][cs]`.
    xp: Vec<f32>,
    cs: usize,
    /// `dy` on the output line `[n][co][line]` (zeros at padding positions).
    dyp: Vec<f32>,
    line: usize,
    ci: usize,
    co: usize,
    sy: usize,
    sz: usize,
}

/// Positions of the output line per sample: every output position `z·Sz + y·Sy + x` lies below
/// it, rounded up to whole 16-lane vectors (3×3×3 kernel, sizes ≥ 1).
#[cfg(target_arch = "x86_64")]
fn line_length([d, h, w]: [usize; 3]) -> usize {
    let (sy, sz) = (w + 2, (h + 2) * (w + 2));
    ((d - 1) * sz + (h - 1) * sy + w).div_ceil(16) * 16
}

#[cfg(target_arch = "x86_64")]
fn run(x: &[f32], dy: &[f32], x_dims: [usize; 5], co: usize) -> Vec<f32> {
    let [n, ci, d, h, w] = x_dims;
    let (sy, sz) = (w + 2, (h + 2) * (w + 2));
    let line = line_length([d, h, w]);
    let max_off = 2 * (sz + sy + 1);
    let cs = (line + max_off).max((d + 2) * sz);
    let xp = pad_volume(x, n * ci, [d, h, w], 1, [sz, sy], cs);
    let dyp = pad_volume(dy, n * co, [d, h, w], 0, [sz, sy], line);
    let ctx = Ctx {
        xp,
        cs,
        dyp,
        line,
        ci,
        co,
        sy,
        sz,
    };
    let chunks = line.div_ceil(CHUNK);
    let items: Vec<(usize, usize)> = (0..n)
        .flat_map(|s| (0..chunks).map(move |c| (s, c)))
        .collect();
    let per_task = items
        .len()
        .div_ceil(rayon::current_num_threads().max(1) * 2)
        .max(1);
    let partial: Vec<Vec<f32>> = items
        .par_chunks(per_task)
        .map(|group| {
            let mut part = vec![0f32; co * ci * 27];
            for &(s, c) in group {
                let (t0, t1) = (c * CHUNK, ((c + 1) * CHUNK).min(line));
                // SAFETY: the CPU has AVX-512F (checked by the caller); t1 ≤ line, and the
                // buffers were sized above for every read of [t0, t1).
                unsafe { chunk_avx512(&ctx, s, t0, t1, &mut part) };
            }
            part
        })
        .collect();
    sum_halves(&partial)
}

/// Adds the gradient of positions `t0..t1` of sample `s` to `part` (`[co][ci][27]`).
///
/// # Safety
/// The CPU must have AVX-512F; `ctx` from [`run`], `t0 < t1 ≤ ctx.line`, both multiples of 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn chunk_avx512(ctx: &Ctx, s: usize, t0: usize, t1: usize, part: &mut [f32]) {
    use std::arch::x86_64::*;
    let (ci, co) = (ctx.ci, ctx.co);
    unsafe {
        for ob in 0..co.div_ceil(8) {
            // Rows of the block's channels (a channel beyond co repeats the last one; its sums
            // are not stored).
            let rows: [*const f32; 8] = std::array::from_fn(|o| {
                let oc = (ob * 8 + o).min(co - 1);
                ctx.dyp.as_ptr().add((s * co + oc) * ctx.line)
            });
            for i in 0..ci {
                let xi = ctx.xp.as_ptr().add((s * ci + i) * ctx.cs);
                for ab in 0..9 {
                    let base = xi.add((ab / 3) * ctx.sz + (ab % 3) * ctx.sy);
                    let mut acc = [[_mm512_setzero_ps(); 3]; 8];
                    let mut t = t0;
                    while t < t1 {
                        let x0 = _mm512_loadu_ps(base.add(t));
                        let x1 = _mm512_loadu_ps(base.add(t + 1));
                        let x2 = _mm512_loadu_ps(base.add(t + 2));
                        for (o, a) in acc.iter_mut().enumerate() {
                            let g = _mm512_loadu_ps(rows[o].add(t));
                            a[0] = _mm512_fmadd_ps(g, x0, a[0]);
                            a[1] = _mm512_fmadd_ps(g, x1, a[1]);
                            a[2] = _mm512_fmadd_ps(g, x2, a[2]);
                        }
                        t += 16;
                    }
                    for (o, a) in acc.iter().enumerate() {
                        let oc = ob * 8 + o;
                        if oc < co {
                            let at = (oc * ci + i) * 27 + ab * 3;
                            for (c, v) in a.iter().enumerate() {
                                part[at + c] += _mm512_reduce_add_ps(*v);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::cpu::unfold::{TEST_SHAPES, assert_close, test_values as values};

    #[test]
    fn matches_the_gemm_path() {
        // Beyond the shared border cases: channels that do not fill a block, a line longer than
        // a chunk, one voxel, and a flat volume.
        let extra = [
            ([2, 5, 3, 7, 9], 11, 3),
            ([1, 3, 1, 1, 1], 9, 3),
            ([2, 4, 6, 20, 22], 20, 3),
            ([1, 2, 1, 30, 40], 3, 3),
        ];
        for (dims, co, k) in TEST_SHAPES.into_iter().chain(extra) {
            let [n, ci, d, h, w] = dims;
            let x = values(n * ci * d * h * w, 4);
            let dy = values(n * co * d * h * w, 5);
            let got = conv3d_weight_grad_direct(&x, &dy, dims, co, k);
            let want = conv3d_weight_grad(&x, &dy, dims, co, k);
            let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
            let got: Vec<f32> = got.iter().map(|v| v / scale).collect();
            let want: Vec<f32> = want.iter().map(|v| v / scale).collect();
            assert_close(&got, &want, 1e-4, &format!("{dims:?} co {co} k{k}"));
        }
    }
}
