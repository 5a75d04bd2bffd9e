//! Intensity augmentation of an extracted patch (nnU-Net's order: noise, blur, brightness,
//! contrast, gamma), with the settings of [`AugmentConfig`] and the caller's seeded [`Rng`].

use super::augment::AugmentConfig;
use crate::util::rng::Rng;

/// Intensity augmentations on an extracted patch (`dims = [px, py, pz]`, volume `spacing` in mm), in
/// nnU-Net's order: noise, blur, brightness, contrast, gamma.
pub fn augment_intensity(
    patch: &mut [f32],
    dims: [usize; 3],
    spacing: [f64; 3],
    cfg: &AugmentConfig,
    rng: &mut Rng,
) {
    if rng.chance(cfg.noise.p) {
        let sd = rng
            .range(cfg.noise.range[0], cfg.noise.range[1])
            .max(0.0)
            .sqrt();
        for x in patch.iter_mut() {
            *x += (sd * rng.normal()) as f32;
        }
    }
    if rng.chance(cfg.blur.p) {
        let sigma = rng.range(cfg.blur.range[0], cfg.blur.range[1]);
        for axis in 0..3 {
            gaussian_blur_axis(patch, dims, axis, sigma * spacing[0] / spacing[axis]);
        }
    }
    if rng.chance(cfg.brightness.p) {
        let f = rng.range(cfg.brightness.range[0], cfg.brightness.range[1]) as f32;
        patch.iter_mut().for_each(|x| *x *= f);
    }
    if rng.chance(cfg.contrast.p) {
        let f = rng.range(cfg.contrast.range[0], cfg.contrast.range[1]) as f32;
        let (mean, _) = mean_sd(patch);
        let (lo, hi) = min_max(patch);
        patch
            .iter_mut()
            .for_each(|x| *x = ((*x - mean) * f + mean).clamp(lo, hi));
    }
    if rng.chance(cfg.gamma.p) {
        let g = rng.range(cfg.gamma.range[0], cfg.gamma.range[1]) as f32;
        let (mean, sd) = mean_sd(patch);
        let (lo, hi) = min_max(patch);
        let span = (hi - lo).max(1e-7);
        patch
            .iter_mut()
            .for_each(|x| *x = ((*x - lo) / span).powf(g) * span + lo);
        // keep the patch's statistics (nnU-Net's retain_stats), so only the shape of the histogram changes.
        let (m2, s2) = mean_sd(patch);
        let k = if s2 > 1e-7 { sd / s2 } else { 1.0 };
        patch.iter_mut().for_each(|x| *x = (*x - m2) * k + mean);
    }
}

fn mean_sd(v: &[f32]) -> (f32, f32) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean as f32, var.sqrt() as f32)
}

fn min_max(v: &[f32]) -> (f32, f32) {
    v.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

/// 1-D Gaussian blur along one axis (edges clamped); σ < 0.3 voxel is a no-op.
fn gaussian_blur_axis(v: &mut [f32], dims: [usize; 3], axis: usize, sigma: f64) {
    if sigma < 0.3 || dims[axis] < 2 {
        return;
    }
    let r = (3.0 * sigma).ceil() as isize;
    let mut k: Vec<f32> = (-r..=r)
        .map(|t| (-(t * t) as f64 / (2.0 * sigma * sigma)).exp() as f32)
        .collect();
    let s: f32 = k.iter().sum();
    k.iter_mut().for_each(|w| *w /= s);
    let stride = [1, dims[0], dims[0] * dims[1]][axis];
    let n = dims[axis] as isize;
    let mut line = vec![0f32; dims[axis]];
    for start in 0..v.len() {
        // visit each line once, from its first voxel.
        if (start / stride) % dims[axis] != 0 {
            continue;
        }
        for (t, l) in line.iter_mut().enumerate() {
            *l = v[start + t * stride];
        }
        for t in 0..n {
            let acc: f32 = (-r..=r)
                .map(|o| k[(o + r) as usize] * line[(t + o).clamp(0, n - 1) as usize])
                .sum();
            v[start + t as usize * stride] = acc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intensity_augmentations_keep_values_finite_and_none_is_identity() {
        let dims = [8, 8, 4];
        let base: Vec<f32> = (0..256)
            .map(|n| ((n * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let mut v = base.clone();
        augment_intensity(
            &mut v,
            dims,
            [0.5, 0.5, 2.0],
            &AugmentConfig::none(),
            &mut Rng::new(1),
        );
        assert_eq!(v, base);
        let mut all = AugmentConfig::default();
        for ch in [
            &mut all.gamma,
            &mut all.brightness,
            &mut all.contrast,
            &mut all.noise,
            &mut all.blur,
        ] {
            ch.p = 1.0;
        }
        augment_intensity(&mut v, dims, [0.5, 0.5, 2.0], &all, &mut Rng::new(1));
        assert!(v.iter().all(|x| x.is_finite()));
        assert_ne!(v, base);
        // blur of a constant stays constant.
        let mut c = vec![2.0f32; 256];
        gaussian_blur_axis(&mut c, dims, 1, 1.0);
        assert!(c.iter().all(|x| (x - 2.0).abs() < 1e-5));
    }
}
