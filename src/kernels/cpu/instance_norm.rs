//! InstanceNorm (affine) followed by a leaky ReLU, forward and backward, on the CPU in one pass
//! each.
//!
//! burn's InstanceNorm is a GroupNorm built from about ten tensor ops, and its leaky ReLU is a
//! mask and a select; on flex each op is a pass over memory and a node in the autodiff graph, and
//! at the U-Net's 8–16-channel full-resolution layers the two cost as much as the convolution
//! before them. Here the statistics, normalisation, affine and activation are one pass per
//! `(sample, channel)` plane, and the backward is the closed form (from the saved input and the
//! per-plane statistics, so the forward writes nothing but its output).

use rayon::prelude::*;

/// What the backward needs from the forward besides its input: per `(sample, channel)` plane.
pub struct PlaneStats {
    pub mean: Vec<f32>,
    /// `1 / sqrt(var + eps)`.
    pub rstd: Vec<f32>,
}

/// Values summed per block in f32 lanes (vectorised), blocks summed in f64: the accuracy of a
/// pairwise sum at the speed of a plain loop.
const BLOCK: usize = 2048;
const LANES: usize = 16;

/// `Σ f(v)` over `x` (see [`BLOCK`]).
fn lane_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut total = 0f64;
    for block in x.chunks(BLOCK) {
        let mut acc = [0f32; LANES];
        let mut chunks = block.chunks_exact(LANES);
        for c in &mut chunks {
            for i in 0..LANES {
                acc[i] += f(c[i]);
            }
        }
        let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
        total += (acc.iter().sum::<f32>() + tail) as f64;
    }
    total
}

/// `(Σ g, Σ g·x̂)` over a plane for the backward, `g = dy · act'(z)` (see [`backward`]).
fn grad_sums(dy: &[f32], x: &[f32], k: &Coeffs) -> (f64, f64) {
    let (mut sg, mut sgh) = (0f64, 0f64);
    for (dyb, xb) in dy.chunks(BLOCK).zip(x.chunks(BLOCK)) {
        let (mut ag, mut agh) = ([0f32; LANES], [0f32; LANES]);
        let mut dyc = dyb.chunks_exact(LANES);
        let mut xc = xb.chunks_exact(LANES);
        for (d, v) in (&mut dyc).zip(&mut xc) {
            for i in 0..LANES {
                let g = k.grad(d[i], v[i]);
                ag[i] += g;
                agh[i] += g * k.x_hat(v[i]);
            }
        }
        let (mut tg, mut tgh) = (0f32, 0f32);
        for (&d, &v) in dyc.remainder().iter().zip(xc.remainder()) {
            let g = k.grad(d, v);
            tg += g;
            tgh += g * k.x_hat(v);
        }
        sg += (ag.iter().sum::<f32>() + tg) as f64;
        sgh += (agh.iter().sum::<f32>() + tgh) as f64;
    }
    (sg, sgh)
}

/// One plane's normalisation as `z = scale · x + shift` (the forward and the backward compute
/// `z` the same way, so they agree on its sign).
struct Coeffs {
    mean: f32,
    rstd: f32,
    scale: f32,
    shift: f32,
    slope: f32,
}

impl Coeffs {
    fn new(mean: f32, rstd: f32, gamma: f32, beta: f32, slope: f32) -> Self {
        let scale = gamma * rstd;
        Coeffs {
            mean,
            rstd,
            scale,
            shift: beta - mean * scale,
            slope,
        }
    }

    #[inline(always)]
    fn y(&self, x: f32) -> f32 {
        let z = self.scale * x + self.shift;
        if z > 0.0 { z } else { self.slope * z }
    }

    /// `dy · act'(z)`.
    #[inline(always)]
    fn grad(&self, dy: f32, x: f32) -> f32 {
        if self.scale * x + self.shift > 0.0 {
            dy
        } else {
            self.slope * dy
        }
    }

    #[inline(always)]
    fn x_hat(&self, x: f32) -> f32 {
        (x - self.mean) * self.rstd
    }
}

/// `y = act(gamma[c] · (x − mean) / sqrt(var + eps) + beta[c])` with the biased variance of each
/// `(sample, channel)` plane and `act(z) = z` for `z > 0`, `slope · z` otherwise (0 = ReLU,
/// 1 = identity). Two reads of each plane for its statistics (mean, then the centred variance),
/// one read and one write for the output.
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
) -> (Vec<f32>, PlaneStats) {
    let c = gamma.len();
    assert!(planes > 0 && x.len() % planes == 0 && planes % c == 0);
    let size = x.len() / planes;
    let mut y = vec![0f32; x.len()];
    let mut stats = vec![(0f32, 0f32); planes];
    x.par_chunks(size)
        .zip(y.par_chunks_mut(size))
        .zip(stats.par_iter_mut())
        .enumerate()
        .for_each(|(p, ((x, y), stats))| {
            let mean = lane_sum(x, |v| v) / size as f64;
            let m = mean as f32;
            let var = lane_sum(x, |v| (v - m) * (v - m)) / size as f64;
            let r = (1.0 / (var + eps as f64).sqrt()) as f32;
            let k = Coeffs::new(m, r, gamma[p % c], beta[p % c], slope);
            for (y, &v) in y.iter_mut().zip(x) {
                *y = k.y(v);
            }
            *stats = (m, r);
        });
    let (mean, rstd) = stats.into_iter().unzip();
    (y, PlaneStats { mean, rstd })
}

/// Gradients of [`forward`]: `(dx, dgamma, dbeta)` for the upstream gradient `dy`, from the
/// forward's input `x` and its [`PlaneStats`] (x̂ is recomputed rather than stored).
///
/// With `g = dy · act'(z)` on a plane of `N` values: `dbeta = Σ g`, `dgamma = Σ g·x̂` (summed over
/// samples too) and `dx = gamma · rstd · (g − mean(g) − x̂ · mean(g·x̂))`.
pub fn backward(
    dy: &[f32],
    x: &[f32],
    stats: &PlaneStats,
    gamma: &[f32],
    beta: &[f32],
    slope: f32,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let c = gamma.len();
    let planes = stats.rstd.len();
    let size = dy.len() / planes;
    let mut dx = vec![0f32; dy.len()];
    let mut sums = vec![(0f32, 0f32); planes];
    dy.par_chunks(size)
        .zip(x.par_chunks(size))
        .zip(dx.par_chunks_mut(size))
        .zip(sums.par_iter_mut())
        .enumerate()
        .for_each(|(p, (((dy, x), dx), sums))| {
            let (g, r) = (gamma[p % c], stats.rstd[p]);
            let k = Coeffs::new(stats.mean[p], r, g, beta[p % c], slope);
            let (sum_g, sum_gx) = grad_sums(dy, x, &k);
            let mean_g = (sum_g / size as f64) as f32;
            let mean_gx = (sum_gx / size as f64) as f32;
            let gr = g * r;
            for ((d, &dyv), &v) in dx.iter_mut().zip(dy).zip(x) {
                *d = gr * (k.grad(dyv, v) - mean_g - k.x_hat(v) * mean_gx);
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
