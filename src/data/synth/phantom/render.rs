//! Rasterises a planned case: clean intensity averaged over sub-samples through each thick slice
//! (through-plane partial volume), times the coil bias, a light in-plane point-spread blur, Rician
//! noise, then the scanner's intensity scale and integer quantisation. Labels are the gland zones at
//! each voxel centre. Slices are independent (noise is seeded per slice), so they render in parallel
//! and the result does not depend on the number of threads.

use super::pelvis::Anatomy;
use super::plan::Plan;
use crate::util::rng::Rng;

/// Renders the image (scaled, quantised) and the label map, both in voxel order (i fastest).
pub fn render(plan: &Plan, anat: &Anatomy, subsamples: usize, rng: &Rng) -> (Vec<f32>, Vec<u8>) {
    let [nx, ny, nz] = plan.dims;
    let n_sub = subsamples.max(1);
    let offsets: Vec<[f64; 3]> = (0..n_sub)
        .map(|s| {
            let dk = (s as f64 + 0.5) / n_sub as f64 - 0.5;
            std::array::from_fn(|c| dk * plan.step[2][c])
        })
        .collect();
    let slices = par_map(nz, |k| {
        let mut clean = vec![0.0f64; nx * ny];
        let mut labels = vec![0u8; nx * ny];
        let (mut disp, mut mask, mut bias) =
            (vec![[0.0; 3]; nx], vec![[0.0; 3]; nx], vec![0.0; nx]);
        for j in 0..ny {
            let q0 = plan.to_anatomy(0.0, j as f64, k as f64);
            // The pelvis displacement is smooth on the scale of a slice: shared by the sub-samples.
            anat.row(q0, plan.step[0], &mut disp, &mut mask);
            plan.bias_row(anat, j, k, &mut bias);
            for i in 0..nx {
                let g: [f64; 3] =
                    std::array::from_fn(|c| q0[c] + i as f64 * plan.step[0][c] + disp[i][c]);
                let v: f64 = offsets
                    .iter()
                    .map(|o| {
                        anat.sample([g[0] + o[0], g[1] + o[1], g[2] + o[2]], mask[i][0])
                            .0
                    })
                    .sum();
                clean[i + nx * j] = v / n_sub as f64 * bias[i];
                labels[i + nx * j] = anat.label(g);
            }
        }
        let blurred = blur(&clean, nx, ny);
        let mut r = rng.fork(k as u64);
        let noisy: Vec<f64> = blurred
            .iter()
            .map(|&s| {
                // Rician magnitude: complex Gaussian noise (one Box–Muller pair) on a real signal.
                let (n1, n2) = normal_pair(&mut r);
                let (a, b) = (s + plan.noise * n1, plan.noise * n2);
                (a * a + b * b).sqrt()
            })
            .collect();
        (noisy, labels)
    });
    let max = slices
        .iter()
        .flat_map(|(v, _)| v.iter())
        .fold(0.0f64, |m, &v| m.max(v));
    let scale = if max > 0.0 {
        plan.max_intensity / max
    } else {
        1.0
    };
    let mut image = Vec::with_capacity(nx * ny * nz);
    let mut labels = Vec::with_capacity(nx * ny * nz);
    for (v, l) in slices {
        image.extend(v.iter().map(|&x| (x * scale).round() as f32));
        labels.extend(l);
    }
    (image, labels)
}

/// The clean image (no sub-sampling, bias or noise), the dominant tissue and the label at each voxel
/// centre: the ground truth the tests check intensities against.
#[cfg(test)]
pub fn render_clean(
    plan: &Plan,
    anat: &Anatomy,
) -> (Vec<f32>, Vec<super::pelvis::Tissue>, Vec<u8>) {
    let [nx, ny, nz] = plan.dims;
    let slices = par_map(nz, |k| {
        let mut out = (
            Vec::with_capacity(nx * ny),
            Vec::with_capacity(nx * ny),
            Vec::with_capacity(nx * ny),
        );
        let (mut disp, mut mask) = (vec![[0.0; 3]; nx], vec![[0.0; 3]; nx]);
        for j in 0..ny {
            let q0 = plan.to_anatomy(0.0, j as f64, k as f64);
            anat.row(q0, plan.step[0], &mut disp, &mut mask);
            for i in 0..nx {
                let g: [f64; 3] =
                    std::array::from_fn(|c| q0[c] + i as f64 * plan.step[0][c] + disp[i][c]);
                let (v, t) = anat.sample(g, mask[i][0]);
                out.0.push(v as f32);
                out.1.push(t);
                out.2.push(anat.label(g));
            }
        }
        out
    });
    let mut all = (Vec::new(), Vec::new(), Vec::new());
    for (v, t, l) in slices {
        all.0.extend(v);
        all.1.extend(t);
        all.2.extend(l);
    }
    all
}

/// Two independent standard normals from one Box–Muller draw.
fn normal_pair(r: &mut Rng) -> (f64, f64) {
    let (u1, u2) = (r.uniform().max(f64::MIN_POSITIVE), r.uniform());
    let rad = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
    (rad * c, rad * s)
}

/// In-plane point-spread: separable [1, 6, 1] / 8 (σ ≈ 0.5 voxel), edges clamped.
fn blur(src: &[f64], nx: usize, ny: usize) -> Vec<f64> {
    let mut tmp = vec![0.0; src.len()];
    for j in 0..ny {
        for i in 0..nx {
            let (l, r) = (i.saturating_sub(1), (i + 1).min(nx - 1));
            let row = nx * j;
            tmp[row + i] = (src[row + l] + 6.0 * src[row + i] + src[row + r]) / 8.0;
        }
    }
    let mut out = vec![0.0; src.len()];
    for j in 0..ny {
        let (u, d) = (j.saturating_sub(1), (j + 1).min(ny - 1));
        for i in 0..nx {
            out[nx * j + i] = (tmp[nx * u + i] + 6.0 * tmp[nx * j + i] + tmp[nx * d + i]) / 8.0;
        }
    }
    out
}

/// `f(0..n)` on all available cores (interleaved so the costly middle slices are shared), in order.
fn par_map<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map(|w| w.get())
        .unwrap_or(1)
        .min(n)
        .max(1);
    if workers == 1 {
        return (0..n).map(f).collect();
    }
    let f = &f;
    let parts: Vec<Vec<(usize, R)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    (w..n)
                        .step_by(workers)
                        .map(|k| (k, f(k)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
    for (k, r) in parts.into_iter().flatten() {
        out[k] = Some(r);
    }
    out.into_iter()
        .map(|r| r.expect("every slice rendered"))
        .collect()
}
