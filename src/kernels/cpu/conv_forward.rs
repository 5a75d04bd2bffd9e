//! A stride-1, same-padded k×k×k convolution on the CPU, as unfolded tiles and k GEMMs per tile.
//!
//! flex's own conv3d converts the input to channels-last on one thread, builds its im2col
//! columns element by element and copies each GEMM result out of a fresh buffer; at the U-Net's
//! narrow layers (8–32 channels) that overhead costs as much as the arithmetic. Here every
//! `(sample, slice, row band)` tile is unfolded by whole rows ([`super::unfold`]) into a
//! `[ci·k², band]` matrix small enough to stay in cache, and `y[co, band] = Σ_c W_c · cols_c`
//! (one GEMM per x-tap `c`, each reading the matrix shifted by `c`) is accumulated in a
//! per-thread buffer, then copied into the output with the bias.

use rayon::prelude::*;

use super::shared_out::SharedOut;

use super::unfold::{Unfold, band_rows, unfold};

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
pub fn conv3d_forward(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    x_dims: [usize; 5],
    k: usize,
) -> Vec<f32> {
    let [n, ci, d, h, w] = x_dims;
    let plane = h * w;
    let co = bias.len();
    let taps = ci * k * k;
    assert_eq!(
        x.len(),
        n * ci * d * plane,
        "x buffer does not match its shape"
    );
    assert_eq!(
        weight.len(),
        co * taps * k,
        "weight buffer does not match its shape"
    );
    assert!(k % 2 == 1, "same padding needs an odd kernel");
    // The weight per x-tap: w_taps[c][o][j] = weight[o, j, c] with j = (i, a, b).
    let mut w_taps = vec![0f32; k * co * taps];
    for (oj, ws) in weight.chunks(k).enumerate() {
        for (c, &v) in ws.iter().enumerate() {
            w_taps[c * co * taps + oj] = v;
        }
    }
    let band = band_rows(ci, k, h, w);
    let bands = h.div_ceil(band);
    let full = Unfold::new(ci, w, k, band);
    let mut y = vec![0f32; n * co * d * plane];
    let out = SharedOut::new(y.as_mut_ptr());
    (0..n * d * bands).into_par_iter().for_each_init(
        || (vec![0f32; full.buffer_len()], vec![0f32; co * full.len()]),
        |(cols, acc), t| {
            let (s, z, y0) = (t / (d * bands), (t / bands) % d, (t % bands) * band);
            let u = Unfold::new(ci, w, k, band.min(h - y0));
            let len = u.len();
            unfold(cols, x, x_dims, s, z, y0, &u);
            for c in 0..k {
                // acc[o, v] (+)= Σ_j w_taps[c][o, j] · cols[j·stride + c + v]
                // SAFETY: acc is co × len (row stride len); w_taps[c] is co × taps row-major;
                // the shifted matrix's last read is (taps−1)·stride + (k−1) + len − 1, inside
                // cols (taps·stride long, stride = len + k − 1).
                unsafe {
                    gemm::gemm(
                        co,
                        len,
                        taps,
                        acc.as_mut_ptr(),
                        1,
                        len as isize,
                        c > 0,
                        w_taps[c * co * taps..].as_ptr(),
                        1,
                        taps as isize,
                        cols.as_ptr().add(c),
                        1,
                        u.stride() as isize,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
            // The tile's outputs: co rows `d·plane` apart, each `rows·w` long from (s, ·, z, y0).
            let first = (s * co * d + z) * plane + y0 * w;
            for (o, acc_o) in acc[..co * len].chunks(len).enumerate() {
                // SAFETY: tiles write disjoint (s, z, band) ranges of y, each inside the buffer.
                let dst = unsafe { out.slice(first + o * d * plane, u.rows * w) };
                for (dst_row, acc_row) in dst.chunks_mut(w).zip(acc_o.chunks(u.pitch)) {
                    for (v, &a) in dst_row.iter_mut().zip(acc_row) {
                        *v = a + bias[o];
                    }
                }
            }
        },
    );
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::cpu::unfold::{TEST_SHAPES, assert_close, test_values as values};

    /// The definition, summed term by term.
    fn naive(x: &[f32], wt: &[f32], bias: &[f32], dims: [usize; 5], k: usize) -> Vec<f32> {
        let [n, ci, d, h, w] = dims;
        let co = bias.len();
        let p = k as isize / 2;
        let at = |s: usize, i: usize, z: isize, y: isize, xx: isize| {
            let inside = (0..d as isize).contains(&z)
                && (0..h as isize).contains(&y)
                && (0..w as isize).contains(&xx);
            if inside {
                x[(((s * ci + i) * d + z as usize) * h + y as usize) * w + xx as usize] as f64
            } else {
                0.0
            }
        };
        let mut out = vec![0f32; n * co * d * h * w];
        for s in 0..n {
            for o in 0..co {
                for z in 0..d {
                    for y in 0..h {
                        for xx in 0..w {
                            let mut sum = bias[o] as f64;
                            for i in 0..ci {
                                for a in 0..k {
                                    for b in 0..k {
                                        for c in 0..k {
                                            let wv = wt[(((o * ci + i) * k + a) * k + b) * k + c];
                                            sum += wv as f64
                                                * at(
                                                    s,
                                                    i,
                                                    z as isize + a as isize - p,
                                                    y as isize + b as isize - p,
                                                    xx as isize + c as isize - p,
                                                );
                                        }
                                    }
                                }
                            }
                            out[(((s * co + o) * d + z) * h + y) * w + xx] = sum as f32;
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_definition() {
        // 64 channels × 9 taps × 43 columns are 99 KB a row: bands of 2 rows, the last one short.
        for (dims, co, k) in TEST_SHAPES.into_iter().chain([([1, 64, 2, 5, 40], 2, 3)]) {
            let [n, ci, d, h, w] = dims;
            let x = values(n * ci * d * h * w, 1);
            let wt = values(co * ci * k * k * k, 2);
            let bias = values(co, 3);
            let got = conv3d_forward(&x, &wt, &bias, dims, k);
            let want = naive(&x, &wt, &bias, dims, k);
            assert_close(&got, &want, 1e-4, &format!("{dims:?} k{k}"));
        }
    }
}
