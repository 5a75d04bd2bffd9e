//! A stride-1, same-padded k×k×k convolution on the CPU as a direct convolution over the
//! zero-padded input read as one line, with a register-blocked micro-kernel.
//!
//! With the input zero-padded by `p = k/2` on every side and strides `Sy = w + 2p`,
//! `Sz = (h + 2p)·Sy`, the output voxel `(z, y, x)` sits at `t = z·Sz + y·Sy + x` and tap
//! `(a, b, c)` reads the padded input at `t + a·Sz + b·Sy + c`. So a run of `V` consecutive `t` is
//! `Σ_i Σ_tap w[o, i, tap] · xpad[i][t + off(tap) ..][..V]`: every tap is one contiguous vector
//! load, reused by a block of `OB` output channels held in registers, with no unfolded copy of
//! the input (the unfold + GEMM path wrote ~9 floats per input float and packed them again).
//! Positions of `t` in the padding produce junk that the final copy (with the bias) skips.
//!
//! The micro-kernel is written per instruction set (AVX-512, AVX2 + FMA) and picked at run time
//! (other CPUs run the unfold + GEMM path of [`super::conv_forward`]); it is checked against the definition in the tests below and, through the model's
//! conv blocks, against burn's `conv3d`.

use rayon::prelude::*;

use super::shared_out::SharedOut;

use super::pad::{pad_volume, repack_weights, tap_offsets};

/// The geometry and repacked operands shared by every tile.
struct Ctx<'a> {
    /// Zero-padded input `[n][ci][cs]` (`cs` = channel stride, with slack after the volume so
    /// every run's last tap stays in the buffer).
    xp: Vec<f32>,
    cs: usize,
    ci: usize,
    co: usize,
    /// Weights `[block][ci][tap][OB]` (zero for channels beyond `co`).
    wb: Vec<f32>,
    blocks: usize,
    /// Offset of each tap in the padded line, tap `(a·k + b)·k + c`.
    offs: Vec<usize>,
    bias: &'a [f32],
    /// Runs cover each slice apart (`true`) or the whole volume as one line.
    per_slice: bool,
    /// Line stride of a slice, `(h + 2p)·(w + 2p)`.
    sz: usize,
    /// Voxels per output slice (`h·w`) and per output channel (`d·h·w`).
    hw: usize,
    plane: usize,
    /// Output offset within a channel of each line position a run covers (within a slice when
    /// `per_slice`), or [`JUNK`] for positions in the padding.
    map: Vec<usize>,
}

/// A line position in the padding: computed, never stored.
const JUNK: usize = usize::MAX;

/// `y[n, o, z, y, x] = bias[o] + Σ_{i,a,b,c} weight[o, i, a, b, c] · x[n, i, z+a−p, y+b−p, x+c−p]`
/// with `p = k/2` and zero outside the volume.
///
/// # Shapes
/// - `x`: `[n, ci, d, h, w]` (`x_dims`), contiguous
/// - `weight`: `[co, ci, k, k, k]`, contiguous; `bias`: `[co]`
/// - returns `[n, co, d, h, w]`, contiguous
///
/// # Panics
/// If the buffer lengths do not match the shapes or `k` is even (caller bugs, not user input).
pub fn conv3d_direct(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    x_dims: [usize; 5],
    k: usize,
) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            let [_, _, d, h, w] = x_dims;
            let (slices, runs) = line_runs([d, h, w], k, 48);
            if super::channel_conv::channel_conv_pays(x_dims, bias.len(), slices * runs * 48) {
                // SAFETY: AVX-512F checked just above.
                return unsafe { super::channel_conv::conv3d_channels(x, weight, bias, x_dims, k) };
            }
            return run::<8, 48>(x, weight, bias, x_dims, k, tile_avx512::<3>);
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return run::<4, 24>(x, weight, bias, x_dims, k, tile_avx2);
        }
    }
    // Other CPUs (aarch64 included): the unfold + GEMM path, whose `gemm` crate has kernels
    // for them.
    super::conv_forward::conv3d_forward(x, weight, bias, x_dims, k)
}

/// `(slices, runs per slice)` of `v` positions covering a `[d, h, w]` volume's output positions
/// `t = z·Sz + y·Sy + x` (z < d, y < h, x < w) on the line padded for kernel `k`: each slice's rows
/// apart (skipping the padding rows between slices) when a slice's runs end before the next
/// slice starts, otherwise one line of runs over the volume (`slices` = 1).
fn line_runs(dims: [usize; 3], k: usize, v: usize) -> (usize, usize) {
    let (slices, runs, _) = line_plan(dims, k, v);
    (slices, runs)
}

/// [`line_runs`] and whether the runs cover each slice apart.
fn line_plan([d, h, w]: [usize; 3], k: usize, v: usize) -> (usize, usize, bool) {
    if d == 0 || h == 0 || w == 0 {
        return (0, 0, false);
    }
    let p = k / 2;
    let (sy, sz) = (w + 2 * p, (h + 2 * p) * (w + 2 * p));
    let slice_span = (h - 1) * sy + w;
    if slice_span.div_ceil(v) * v <= sz {
        (d, slice_span.div_ceil(v), true)
    } else {
        (1, ((d - 1) * sz + slice_span).div_ceil(v), false)
    }
}

/// One tile: output positions `t0..t0 + V` of sample `s`, every output channel, written to the
/// output `out` (`[n][co][d][h][w]`), through the context's position map.
type Tile = unsafe fn(&Ctx<'_>, usize, usize, *mut f32);

fn run<const OB: usize, const V: usize>(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    x_dims: [usize; 5],
    k: usize,
    tile: Tile,
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
    let p = k / 2;
    let (sy, sz) = (w + 2 * p, (h + 2 * p) * (w + 2 * p));
    let len = n * co * d * h * w;
    if len == 0 {
        return Vec::new();
    }
    let (slices, runs, per_slice) = line_plan([d, h, w], k, V);
    let tr = (slices - 1) * sz + runs * V;
    let max_off = (k - 1) * (sz + sy + 1);
    let cs = (tr + max_off).max((d + 2 * p) * sz);

    let xp = pad_volume(x, n * ci, [d, h, w], p, [sz, sy], cs);
    let blocks = co.div_ceil(OB);
    let wb = repack_weights(weight, co, ci, taps, OB);
    let offs = tap_offsets(k, [sz, sy]);
    let map = (0..runs * V)
        .map(|t| {
            let (z, rem) = if per_slice { (0, t) } else { (t / sz, t % sz) };
            let (r, c) = (rem / sy, rem % sy);
            if z < d && r < h && c < w {
                (z * h + r) * w + c
            } else {
                JUNK
            }
        })
        .collect();
    let ctx = Ctx {
        xp,
        cs,
        ci,
        co,
        wb,
        blocks,
        offs,
        bias,
        per_slice,
        sz,
        hw: h * w,
        plane: d * h * w,
        map,
    };

    // Every output is written exactly once, by the tile whose run covers its line position, so
    // the buffer needs no zeroing first.
    let mut y: Vec<f32> = Vec::with_capacity(len);
    let out = SharedOut::new(y.as_mut_ptr());
    (0..n * slices * runs)
        .into_par_iter()
        .with_min_len(2)
        .for_each(|item| {
            let (s, z, r) = (item / (slices * runs), (item / runs) % slices, item % runs);
            let t0 = z * sz + r * V;
            // SAFETY: each (sample, run) writes only the outputs its own V positions map to;
            // `tile` reads `ctx` within the bounds sized above.
            unsafe { tile(&ctx, s, t0, out.ptr()) };
        });
    // SAFETY: the runs cover every output position of every sample and channel (line_plan),
    // and each was written above.
    unsafe { y.set_len(len) };
    y
}

/// Stores the `block` accumulated rows of block `ob` of tile `(s, t0)` (each `run` long in `acc`,
/// row-major), plus the bias, at the outputs their line positions map to, skipping padding
/// positions and channels beyond `co`.
///
/// # Safety
/// As [`Tile`]: `out` is the `[n][co][d][h][w]` output and the tile's run lies in the map.
#[inline(always)]
unsafe fn store_block(
    ctx: &Ctx,
    [s, t0, ob]: [usize; 3],
    [block, run]: [usize; 2],
    acc: &[f32],
    out: *mut f32,
) {
    // The run's slice and its first position within the map.
    let (z, local) = if ctx.per_slice {
        (t0 / ctx.sz, t0 % ctx.sz)
    } else {
        (0, t0)
    };
    let map = &ctx.map[local..local + run];
    for o in 0..block {
        let oc = ob * block + o;
        if oc < ctx.co {
            let b = ctx.bias[oc];
            unsafe {
                let dst = out.add((s * ctx.co + oc) * ctx.plane + z * ctx.hw);
                for (&m, &a) in map.iter().zip(&acc[o * run..(o + 1) * run]) {
                    if m != JUNK {
                        *dst.add(m) = a + b;
                    }
                }
            }
        }
    }
}

/// The AVX-512 micro-kernel: 8 output channels × `16·NV` positions in `8·NV` registers; per input
/// channel and tap, `NV` vector loads and `8·NV` fused multiply-adds with broadcast weights.
///
/// # Safety
/// The CPU must have AVX-512F; `ctx` from [`run`] with `OB = 8`, `V = 16·NV`; see [`Tile`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512<const NV: usize>(ctx: &Ctx, s: usize, t0: usize, out: *mut f32) {
    use std::arch::x86_64::*;
    let taps = ctx.offs.len();
    unsafe {
        let xs = ctx.xp.as_ptr().add(s * ctx.ci * ctx.cs + t0);
        for ob in 0..ctx.blocks {
            let mut acc = [[_mm512_setzero_ps(); NV]; 8];
            let mut wp = ctx.wb.as_ptr().add(ob * ctx.ci * taps * 8);
            for i in 0..ctx.ci {
                let xi = xs.add(i * ctx.cs);
                for &off in &ctx.offs {
                    let mut xv = [_mm512_setzero_ps(); NV];
                    for (j, x) in xv.iter_mut().enumerate() {
                        *x = _mm512_loadu_ps(xi.add(off + 16 * j));
                    }
                    for (o, row) in acc.iter_mut().enumerate() {
                        let w = _mm512_set1_ps(*wp.add(o));
                        for (a, x) in row.iter_mut().zip(&xv) {
                            *a = _mm512_fmadd_ps(w, *x, *a);
                        }
                    }
                    wp = wp.add(8);
                }
            }
            let mut rows = [0f32; 8 * 16 * 4];
            for (o, row) in acc.iter().enumerate() {
                for (j, a) in row.iter().enumerate() {
                    _mm512_storeu_ps(rows.as_mut_ptr().add((o * NV + j) * 16), *a);
                }
            }
            store_block(ctx, [s, t0, ob], [8, 16 * NV], &rows, out);
        }
    }
}

/// The AVX2 micro-kernel: 4 output channels × 24 positions in 12 registers.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `ctx` from [`run`] with `OB = 4`, `V = 24`; see [`Tile`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2(ctx: &Ctx, s: usize, t0: usize, out: *mut f32) {
    use std::arch::x86_64::*;
    let taps = ctx.offs.len();
    unsafe {
        let xs = ctx.xp.as_ptr().add(s * ctx.ci * ctx.cs + t0);
        for ob in 0..ctx.blocks {
            let mut acc = [_mm256_setzero_ps(); 12];
            let mut wp = ctx.wb.as_ptr().add(ob * ctx.ci * taps * 4);
            for i in 0..ctx.ci {
                let xi = xs.add(i * ctx.cs);
                for &off in &ctx.offs {
                    let x0 = _mm256_loadu_ps(xi.add(off));
                    let x1 = _mm256_loadu_ps(xi.add(off + 8));
                    let x2 = _mm256_loadu_ps(xi.add(off + 16));
                    for o in 0..4 {
                        let w = _mm256_set1_ps(*wp.add(o));
                        acc[3 * o] = _mm256_fmadd_ps(w, x0, acc[3 * o]);
                        acc[3 * o + 1] = _mm256_fmadd_ps(w, x1, acc[3 * o + 1]);
                        acc[3 * o + 2] = _mm256_fmadd_ps(w, x2, acc[3 * o + 2]);
                    }
                    wp = wp.add(4);
                }
            }
            let mut rows = [0f32; 4 * 24];
            for (j, a) in acc.iter().enumerate() {
                _mm256_storeu_ps(rows.as_mut_ptr().add(8 * j), *a);
            }
            store_block(ctx, [s, t0, ob], [4, 24], &rows, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::cpu::conv_forward::conv3d_forward;
    use crate::kernels::cpu::unfold::{TEST_SHAPES, assert_close, test_values as values};

    /// Every micro-kernel this machine can run gives the unfold + GEMM path's result, which its
    /// own test checks against the definition.
    #[test]
    fn every_micro_kernel_matches_the_gemm_path() {
        type Conv = Box<dyn Fn(&[f32], &[f32], &[f32], [usize; 5], usize) -> Vec<f32>>;
        let mut kernels: Vec<(&str, Conv)> = vec![("dispatched", Box::new(conv3d_direct))];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                kernels.push((
                    "avx2",
                    Box::new(|x, w, b, d, k| run::<4, 24>(x, w, b, d, k, tile_avx2)),
                ));
            }
            if is_x86_feature_detected!("avx512f") {
                kernels.push((
                    "avx512",
                    Box::new(|x, w, b, d, k| run::<8, 48>(x, w, b, d, k, tile_avx512::<3>)),
                ));
            }
        }
        // Beyond the shared border cases: channels that do not fill a block, a run longer than a
        // plane, one output voxel, and the U-Net's head (k = 1).
        let extra = [
            ([2, 5, 3, 7, 9], 11, 3),
            ([1, 3, 1, 1, 1], 9, 3),
            ([1, 16, 4, 5, 5], 3, 1),
            ([2, 4, 6, 10, 12], 20, 3),
        ];
        for (name, conv) in &kernels {
            for (dims, co, k) in TEST_SHAPES.into_iter().chain(extra) {
                let [n, ci, d, h, w] = dims;
                let x = values(n * ci * d * h * w, 1);
                let wt = values(co * ci * k * k * k, 2);
                let bias = values(co, 3);
                let got = conv(&x, &wt, &bias, dims, k);
                let want = conv3d_forward(&x, &wt, &bias, dims, k);
                assert_close(&got, &want, 1e-4, &format!("{name} {dims:?} co {co} k{k}"));
            }
        }
    }
}
