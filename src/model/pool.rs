//! 3-D max pooling from reshapes and `max_dim`, because burn 0.22.1 has no `max_pool3d` (on flex,
//! the project's one-pass kernel, [`crate::kernels::max_pool3d_flex`]).
//!
//! With stride = kernel every window is a contiguous block along one axis after a reshape, so
//! pooling W, then H, then D each becomes "reshape to rank ≤ 4, max over the window axis, reshape
//! back". Only standard ops are used, so every backend runs it and autodiff sends the gradient to
//! the arg-max element of each window.

use burn::prelude::*;

/// Max pooling with stride = `kernel` ([kd, kh, kw], entries ≥ 1).
///
/// Trailing voxels that do not fill a whole window are dropped (floor mode, like PyTorch);
/// [`UNet3d`](super::UNet3d) checks divisibility up front, so it never relies on that.
///
/// # Shapes
/// - input: `[batch, channels, depth, height, width]`
/// - output: `[batch, channels, depth / kd, height / kh, width / kw]`
pub fn max_pool3d(x: Tensor<5>, kernel: [usize; 3]) -> Tensor<5> {
    max_pool3d_with(x, kernel, true)
}

/// [`max_pool3d`]; with `own_kernels` on flex the project's one-pass CPU kernel with its arg-max
/// backward ([`crate::kernels::max_pool3d_flex`]), otherwise burn's ops
/// ([`max_pool3d_portable`]).
pub fn max_pool3d_with(x: Tensor<5>, kernel: [usize; 3], own_kernels: bool) -> Tensor<5> {
    if own_kernels && crate::kernels::max_pool_flex_supported(&x) {
        return crate::kernels::max_pool3d_flex(x, kernel);
    }
    max_pool3d_portable(x, kernel)
}

/// [`max_pool3d`] from burn's ops only (every backend; the reference of the flex kernel).
pub fn max_pool3d_portable(x: Tensor<5>, kernel: [usize; 3]) -> Tensor<5> {
    let [kd, kh, kw] = kernel.map(|k| k.max(1));
    let [n, c, d, h, w] = x.dims();
    let (d2, h2, w2) = (d / kd, h / kh, w / kw);
    // Floor mode: crop to whole windows (a no-op when sizes divide).
    let x = if (d2 * kd, h2 * kh, w2 * kw) != (d, h, w) {
        x.slice([0..n, 0..c, 0..d2 * kd, 0..h2 * kh, 0..w2 * kw])
    } else {
        x
    };
    let mut x = x;
    if kw > 1 {
        // [n·c·d·h, w/kw, kw] → max over the window → [n, c, d, h, w/kw]
        let t: Tensor<3> = x.reshape([n * c * d2 * kd * h2 * kh, w2, kw]);
        x = t.max_dim(2).reshape([n, c, d2 * kd, h2 * kh, w2]);
    }
    if kh > 1 {
        // [n·c·d, h/kh, kh, w/kw] → [n, c, d, h/kh, w/kw]
        let t: Tensor<4> = x.reshape([n * c * d2 * kd, h2, kh, w2]);
        x = t.max_dim(2).reshape([n, c, d2 * kd, h2, w2]);
    }
    if kd > 1 {
        // [n·c, d/kd, kd, h/kh·w/kw] → [n, c, d/kd, h/kh, w/kw]
        let t: Tensor<4> = x.reshape([n * c, d2, kd, h2 * w2]);
        x = t.max_dim(2).reshape([n, c, d2, h2, w2]);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;

    /// Plain loops over a flat [n, c, d, h, w] buffer: the pooled values and, per input voxel,
    /// how many windows take it as their maximum (the reference gradient of `sum(pool(x))`).
    fn naive(x: &[f32], dims: [usize; 5], k: [usize; 3]) -> (Vec<f32>, Vec<f32>) {
        let [n, c, d, h, w] = dims;
        let (d2, h2, w2) = (d / k[0], h / k[1], w / k[2]);
        let mut out = Vec::new();
        let mut grad = vec![0.0; x.len()];
        for b in 0..n * c {
            for z in 0..d2 {
                for y in 0..h2 {
                    for xx in 0..w2 {
                        let mut best = (f32::NEG_INFINITY, 0);
                        for dz in 0..k[0] {
                            for dy in 0..k[1] {
                                for dx in 0..k[2] {
                                    let (iz, iy, ix) =
                                        (z * k[0] + dz, y * k[1] + dy, xx * k[2] + dx);
                                    let i = ((b * d + iz) * h + iy) * w + ix;
                                    if x[i] > best.0 {
                                        best = (x[i], i);
                                    }
                                }
                            }
                        }
                        out.push(best.0);
                        grad[best.1] += 1.0;
                    }
                }
            }
        }
        (out, grad)
    }

    fn random(dims: [usize; 5], seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..dims.iter().product())
            .map(|_| rng.normal() as f32)
            .collect()
    }

    const CASES: [([usize; 5], [usize; 3]); 4] = [
        ([2, 3, 4, 6, 8], [2, 2, 2]),
        ([1, 2, 3, 4, 4], [1, 2, 2]),
        ([1, 1, 4, 2, 6], [2, 1, 3]),
        ([1, 2, 5, 7, 6], [2, 2, 2]), // odd sizes: floor mode drops the tail
    ];

    #[test]
    fn forward_matches_naive() {
        let device = Device::flex();
        for (seed, (dims, k)) in CASES.into_iter().enumerate() {
            let data = random(dims, seed as u64);
            let x = Tensor::<5>::from_data(TensorData::new(data.clone(), dims), &device);
            let y = max_pool3d(x, k);
            let (want, _) = naive(&data, dims, k);
            let [n, c, d, h, w] = dims;
            assert_eq!(y.dims(), [n, c, d / k[0], h / k[1], w / k[2]]);
            assert_eq!(
                y.into_data().try_into_vec::<f32>().unwrap(),
                want,
                "{dims:?} {k:?}"
            );
        }
    }

    #[test]
    fn gradient_goes_to_the_argmax() {
        let device = Device::flex().autodiff();
        for (seed, (dims, k)) in CASES.into_iter().enumerate() {
            let data = random(dims, 100 + seed as u64);
            let x =
                Tensor::<5>::from_data(TensorData::new(data.clone(), dims), &device).require_grad();
            let grads = max_pool3d(x.clone(), k).sum().backward();
            let got = x
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            let (_, want) = naive(&data, dims, k);
            assert_eq!(got, want, "{dims:?} {k:?}");
        }
    }
}
