//! InstanceNorm (affine) followed by a leaky ReLU, forward and backward, on the CPU in one pass
//! each.
//!
//! burn's InstanceNorm is a GroupNorm built from about ten tensor ops, and its leaky ReLU is a
//! mask and a select; on flex each op is a pass over memory and a node in the autodiff graph, and
//! at the U-Net's 8–16-channel full-resolution layers the two cost as much as the convolution
//! before them. Here the statistics, normalisation, affine and activation are one pass per
//! `(sample, channel)` plane, and the backward is the closed form.

use rayon::prelude::*;

/// What the backward needs from the forward.
pub struct NormSaved {
    /// `(x − mean) · rstd`, same layout as `x`.
    pub x_hat: Vec<f32>,
    /// `1 / sqrt(var + eps)` per `(sample, channel)` plane.
    pub rstd: Vec<f32>,
}

/// `y = act(gamma[c] · (x − mean) / sqrt(var + eps) + beta[c])` with the biased variance of each
/// `(sample, channel)` plane and `act(z) = z` for `z > 0`, `slope · z` otherwise (0 = ReLU,
/// 1 = identity).
///
/// # Shapes
/// - `x`: `[n, c, spatial…]` contiguous, `planes = n·c` planes; `gamma`, `beta`: `[c]`
///
/// # Panics
/// If `x.len()` is not a multiple of `planes` or `planes` of `gamma.len()` (caller bugs).
pub fn forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    planes: usize,
    eps: f32,
    slope: f32,
) -> (Vec<f32>, NormSaved) {
    let c = gamma.len();
    assert!(planes > 0 && x.len() % planes == 0 && planes % c == 0);
    let size = x.len() / planes;
    let mut y = vec![0f32; x.len()];
    let mut x_hat = vec![0f32; x.len()];
    let mut rstd = vec![0f32; planes];
    x.par_chunks(size)
        .zip(y.par_chunks_mut(size))
        .zip(x_hat.par_chunks_mut(size))
        .zip(rstd.par_iter_mut())
        .enumerate()
        .for_each(|(p, (((x, y), x_hat), rstd))| {
            let mean = x.iter().map(|&v| v as f64).sum::<f64>() / size as f64;
            let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / size as f64;
            let r = (1.0 / (var + eps as f64).sqrt()) as f32;
            let (g, b, m) = (gamma[p % c], beta[p % c], mean as f32);
            for ((y, h), &v) in y.iter_mut().zip(x_hat.iter_mut()).zip(x) {
                *h = (v - m) * r;
                let z = g * *h + b;
                *y = if z > 0.0 { z } else { slope * z };
            }
            *rstd = r;
        });
    (y, NormSaved { x_hat, rstd })
}

/// Gradients of [`forward`]: `(dx, dgamma, dbeta)` for the upstream gradient `dy`.
///
/// With `g = dy · act'(z)` on a plane of `N` values: `dbeta = Σ g`, `dgamma = Σ g·x̂` (summed over
/// samples too) and `dx = gamma · rstd · (g − mean(g) − x̂ · mean(g·x̂))`.
pub fn backward(
    dy: &[f32],
    saved: &NormSaved,
    gamma: &[f32],
    beta: &[f32],
    slope: f32,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let c = gamma.len();
    let planes = saved.rstd.len();
    let size = dy.len() / planes;
    let mut dx = vec![0f32; dy.len()];
    let mut sums = vec![(0f32, 0f32); planes];
    dy.par_chunks(size)
        .zip(saved.x_hat.par_chunks(size))
        .zip(dx.par_chunks_mut(size))
        .zip(sums.par_iter_mut())
        .enumerate()
        .for_each(|(p, (((dy, x_hat), dx), sums))| {
            let (g, b, r) = (gamma[p % c], beta[p % c], saved.rstd[p]);
            let (mut sum_g, mut sum_gx) = (0f64, 0f64);
            // dx holds g = dy · act'(z) until the plane's sums are known.
            for ((d, &dyv), &h) in dx.iter_mut().zip(dy).zip(x_hat) {
                let gv = if g * h + b > 0.0 { dyv } else { slope * dyv };
                *d = gv;
                sum_g += gv as f64;
                sum_gx += (gv * h) as f64;
            }
            let mean_g = (sum_g / size as f64) as f32;
            let mean_gx = (sum_gx / size as f64) as f32;
            for (d, &h) in dx.iter_mut().zip(x_hat) {
                *d = g * r * (*d - mean_g - h * mean_gx);
            }
            *sums = (sum_gx as f32, sum_g as f32);
        });
    let mut dgamma = vec![0f32; c];
    let mut dbeta = vec![0f32; c];
    for (p, &(gx, gs)) in sums.iter().enumerate() {
        dgamma[p % c] += gx;
        dbeta[p % c] += gs;
    }
    (dx, dgamma, dbeta)
}
