//! The weight gradient of a stride-1, same-padded k×k×k convolution on the CPU, as unfolded
//! tiles and k GEMMs per tile.
//!
//! burn's generic backward computes it as a convolution whose "kernel" is the whole output
//! gradient (`[batch, d, h, w]` wide), which on flex at the U-Net's decoder shapes costs 3–4× the
//! forward pass. Here every `(sample, slice)` tile of the input is unfolded by whole rows
//! ([`super::unfold`]) into a `[ci·k², h·pitch]` matrix, and each x-tap `c` is one GEMM
//! `dW_c[co, ci·k²] += dy[co, h·pitch] · cols_cᵀ` (`dy` copied to the same padded pitch, zeros in
//! the padding); the tiles are split between threads, each with its own accumulator. (Row bands
//! that fit in L2, as in the forward, measured slower here: the reduction runs along the band.)

use rayon::prelude::*;

use super::unfold::{Unfold, unfold};

/// `dW[o, i, a, b, c] = Σ_{n,z,y,x} dy[n, o, z, y, x] · x[n, i, z+a−p, y+b−p, x+c−p]` with
/// `p = k/2` and zero outside the volume.
///
/// # Shapes
/// - `x`: `[n, ci, d, h, w]` (`x_dims`), contiguous
/// - `dy`: `[n, co, d, h, w]`, contiguous
/// - returns `[co, ci, k, k, k]`, contiguous
///
/// # Panics
/// If the buffer lengths do not match the shapes or `k` is even (caller bugs, not user input).
pub fn conv3d_weight_grad(
    x: &[f32],
    dy: &[f32],
    x_dims: [usize; 5],
    co: usize,
    k: usize,
) -> Vec<f32> {
    let [n, ci, d, h, w] = x_dims;
    let plane = h * w;
    assert_eq!(
        x.len(),
        n * ci * d * plane,
        "x buffer does not match its shape"
    );
    assert_eq!(
        dy.len(),
        n * co * d * plane,
        "dy buffer does not match its shape"
    );
    assert!(k % 2 == 1, "same padding needs an odd kernel");
    let u = Unfold::new(ci, w, k, h);
    let (taps, len) = (u.taps, u.len());
    let tiles: Vec<(usize, usize)> = (0..n).flat_map(|s| (0..d).map(move |z| (s, z))).collect();
    // A few tiles per task: each task owns one accumulator and one column buffer.
    let per_task = tiles
        .len()
        .div_ceil(rayon::current_num_threads().max(1) * 2)
        .max(1);
    // acc[c][o][j]: the gradient of x-tap c, one per task, summed below in a fixed order.
    let partial: Vec<Vec<f32>> = tiles
        .par_chunks(per_task)
        .map(|chunk| {
            let mut acc = vec![0f32; k * co * taps];
            let mut cols = vec![0f32; u.buffer_len()];
            // dy at the padded pitch; the padding columns stay 0.
            let mut dy_p = vec![0f32; co * len];
            for &(s, z) in chunk {
                unfold(&mut cols, x, x_dims, s, z, 0, &u);
                for (o, dst) in dy_p.chunks_mut(len).enumerate() {
                    let src = &dy[((s * co + o) * d + z) * plane..][..plane];
                    for (d_row, s_row) in dst.chunks_mut(u.pitch).zip(src.chunks(w)) {
                        d_row[..w].copy_from_slice(s_row);
                    }
                }
                for c in 0..k {
                    // acc[c][o, j] += Σ_v dy_p[o, v] · cols[j·stride + c + v]
                    // SAFETY: acc[c] is co × taps (row stride taps); dy_p is co × len; the
                    // shifted matrix is read transposed, its last read (taps−1)·stride + (k−1) +
                    // len − 1 inside cols (taps·stride long, stride = len + k − 1).
                    unsafe {
                        gemm::gemm(
                            co,
                            taps,
                            len,
                            acc[c * co * taps..].as_mut_ptr(),
                            1,
                            taps as isize,
                            true,
                            dy_p.as_ptr(),
                            1,
                            len as isize,
                            cols.as_ptr().add(c),
                            u.stride() as isize,
                            1,
                            1.0,
                            1.0,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        );
                    }
                }
            }
            acc
        })
        .collect();
    let acc = sum_halves(&partial);
    // dW[o, j, c] = acc[c][o, j]
    let mut dw = vec![0f32; co * taps * k];
    for (oj, ws) in dw.chunks_mut(k).enumerate() {
        for (c, v) in ws.iter_mut().enumerate() {
            *v = acc[c * co * taps + oj];
        }
    }
    dw
}

/// The element-wise sum of `parts` (at least one), as `sum(first half) + sum(second half)`: the
/// tree rayon's `reduce` builds when it splits all the way down, but fixed, so the same shape
/// gives the same bits however the threads were scheduled.
pub(super) fn sum_halves(parts: &[Vec<f32>]) -> Vec<f32> {
    if parts.len() == 1 {
        return parts[0].clone();
    }
    let (a, b) = parts.split_at(parts.len() / 2);
    let mut sum = sum_halves(a);
    sum.iter_mut().zip(sum_halves(b)).for_each(|(s, v)| *s += v);
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::cpu::unfold::{TEST_SHAPES, assert_close, test_values as values};

    /// The definition, summed term by term.
    fn naive(x: &[f32], dy: &[f32], dims: [usize; 5], co: usize, k: usize) -> Vec<f32> {
        let [n, ci, d, h, w] = dims;
        let p = k as isize / 2;
        let mut out = vec![0f32; co * ci * k * k * k];
        for o in 0..co {
            for i in 0..ci {
                for a in 0..k {
                    for b in 0..k {
                        for c in 0..k {
                            let mut sum = 0f64;
                            for s in 0..n {
                                for z in 0..d {
                                    for y in 0..h {
                                        for xx in 0..w {
                                            let (zi, yi, xi) = (
                                                z as isize + a as isize - p,
                                                y as isize + b as isize - p,
                                                xx as isize + c as isize - p,
                                            );
                                            if zi < 0
                                                || yi < 0
                                                || xi < 0
                                                || zi >= d as isize
                                                || yi >= h as isize
                                                || xi >= w as isize
                                            {
                                                continue;
                                            }
                                            let xv = x[(((s * ci + i) * d + zi as usize) * h
                                                + yi as usize)
                                                * w
                                                + xi as usize];
                                            let g = dy[(((s * co + o) * d + z) * h + y) * w + xx];
                                            sum += (xv * g) as f64;
                                        }
                                    }
                                }
                            }
                            out[(((o * ci + i) * k + a) * k + b) * k + c] = sum as f32;
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_definition() {
        // Plus 64 channels and a wide row.
        for (dims, co, k) in TEST_SHAPES.into_iter().chain([([1, 64, 2, 3, 40], 2, 3)]) {
            let [n, ci, d, h, w] = dims;
            let x = values(n * ci * d * h * w, 1);
            let dy = values(n * co * d * h * w, 2);
            let got = conv3d_weight_grad(&x, &dy, dims, co, k);
            let want = naive(&x, &dy, dims, co, k);
            assert_close(&got, &want, 1e-4, &format!("{dims:?} k{k}"));
        }
    }

    #[test]
    fn same_bits_on_every_call() {
        // 48 tiles: several per thread, so the per-task sums are combined in every call.
        let dims = [3, 4, 16, 6, 7];
        let x = values(3 * 4 * 16 * 6 * 7, 3);
        let dy = values(3 * 5 * 16 * 6 * 7, 4);
        let first = conv3d_weight_grad(&x, &dy, dims, 5, 3);
        for _ in 0..5 {
            assert_eq!(conv3d_weight_grad(&x, &dy, dims, 5, 3), first);
        }
    }

    #[test]
    fn halves_sum_in_a_fixed_tree() {
        let parts: Vec<Vec<f32>> = [1e8f32, 1.0, -1e8, 1.0].iter().map(|&v| vec![v]).collect();
        // In f32, (1e8 + 1) + (−1e8 + 1) rounds to 1e8 − 1e8 = 0; left to right it would be 1.
        assert_eq!(sum_halves(&parts), vec![0.0]);
        // Three parts: 1e8 + (1 − 1e8) = 0.
        assert_eq!(sum_halves(&parts[..3]), vec![0.0]);
    }
}
