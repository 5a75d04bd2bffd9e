//! The weight gradient of a stride-1, same-padded k×k×k convolution on the CPU, as im2col tiles
//! and one GEMM per tile.
//!
//! burn's generic backward computes it as a convolution whose "kernel" is the whole output
//! gradient (`[batch, d, h, w]` wide), which on flex at the U-Net's decoder shapes costs 3–4× the
//! forward pass. Here every `(sample, slice)` tile of the input is unfolded into a
//! `[ci·k³, h·w]` matrix (8 MB at 48 channels × 40×40) and multiplied into the accumulator
//! `dW[co, ci·k³] += dy[co, h·w] · colsᵀ`, so the work is one well-shaped GEMM per tile; the
//! tiles are split between threads, each with its own accumulator.

use rayon::prelude::*;

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
    let cols_rows = ci * k * k * k;
    let out_len = co * cols_rows;
    let tiles: Vec<(usize, usize)> = (0..n).flat_map(|s| (0..d).map(move |z| (s, z))).collect();
    // A few tiles per task: each task owns one accumulator and one column buffer.
    let per_task = tiles
        .len()
        .div_ceil(rayon::current_num_threads().max(1) * 2)
        .max(1);
    tiles
        .par_chunks(per_task)
        .map(|chunk| {
            let mut acc = vec![0f32; out_len];
            let mut cols = vec![0f32; cols_rows * plane];
            for &(s, z) in chunk {
                unfold_tile(&mut cols, x, x_dims, s, z, k);
                let dy_tile = &dy[(s * co * d + z) * plane..];
                // acc[o, j] += Σ_v dy_tile[o·d·plane + v] · cols[j·plane + v]
                // SAFETY: every pointer and stride stays inside its buffer: acc is co × cols_rows
                // (row stride cols_rows), dy_tile rows are `d·plane` apart and `plane` long (the
                // last row ends at (co−1)·d·plane + plane ≤ dy_tile.len()), cols is cols_rows ×
                // plane read transposed.
                unsafe {
                    gemm::gemm(
                        co,
                        cols_rows,
                        plane,
                        acc.as_mut_ptr(),
                        1,
                        cols_rows as isize,
                        true,
                        dy_tile.as_ptr(),
                        1,
                        (d * plane) as isize,
                        cols.as_ptr(),
                        plane as isize,
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
            acc
        })
        .reduce(
            || vec![0f32; out_len],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

/// Fills `cols[j·plane + y·w + x]`, `j = ((i·k + a)·k + b)·k + c`, with the input of sample `s`,
/// channel `i`, at `(z+a−p, y+b−p, x+c−p)` (0 outside the volume).
fn unfold_tile(cols: &mut [f32], x: &[f32], dims: [usize; 5], s: usize, z: usize, k: usize) {
    let [_, ci, d, h, w] = dims;
    let plane = h * w;
    let p = k / 2;
    for (j, row) in cols.chunks_mut(plane).enumerate() {
        let (c, b, a, i) = (j % k, (j / k) % k, (j / (k * k)) % k, j / (k * k * k));
        let zz = z + a;
        if zz < p || zz - p >= d {
            row.fill(0.0);
            continue;
        }
        let src_plane = &x[((s * ci + i) * d + zz - p) * plane..][..plane];
        // Output x reads input x + c − p: the valid outputs are [lo, hi).
        let lo = p.saturating_sub(c);
        let hi = (w + p).saturating_sub(c).min(w);
        for (y, out) in row.chunks_mut(w).enumerate() {
            let yy = y + b;
            if yy < p || yy - p >= h || lo >= hi {
                out.fill(0.0);
                continue;
            }
            let src = &src_plane[(yy - p) * w..][..w];
            out[..lo].fill(0.0);
            out[lo..hi].copy_from_slice(&src[lo + c - p..hi + c - p]);
            out[hi..].fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn values(len: usize, seed: u32) -> Vec<f32> {
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

    #[test]
    fn matches_the_definition() {
        // Odd sizes, w < k and a 1-voxel axis exercise every border case.
        for (dims, co, k) in [
            ([2, 3, 4, 5, 6], 2, 3),
            ([1, 2, 3, 4, 2], 3, 3),
            ([1, 1, 1, 3, 3], 1, 3),
            ([2, 2, 3, 3, 4], 2, 1),
            ([1, 2, 5, 6, 7], 2, 5),
        ] {
            let [n, ci, d, h, w] = dims;
            let x = values(n * ci * d * h * w, 1);
            let dy = values(n * co * d * h * w, 2);
            let got = conv3d_weight_grad(&x, &dy, dims, co, k);
            let want = naive(&x, &dy, dims, co, k);
            for (g, r) in got.iter().zip(&want) {
                assert!(
                    (g - r).abs() < 1e-4 * (1.0 + r.abs()),
                    "{dims:?} k{k}: {g} vs {r}"
                );
            }
        }
    }
}
