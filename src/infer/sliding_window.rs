//! Sliding-window inference over a whole (preprocessed) volume, as in nnU-Net / MONAI: windows of the
//! training patch size at a step of half a patch, each window's softmax weighted by a Gaussian
//! importance map (σ = 1/8 of the patch) so borders of windows count less, optional mirror test-time
//! augmentation. Only one batch of windows lives on the device at a time; the stitched probabilities
//! live on the host, so memory on the device is bounded whatever the volume size.

use crate::backend::guard_device;
use crate::error::{Error, Result};
use crate::kernels::softmax_channels;
use crate::model::UNet3d;
pub use crate::run::config::SlidingWindowConfig;
use crate::util::phases::PhaseClock;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};

/// Start offsets of the windows along one axis so that they cover `size` with a step of at most
/// `step * patch` (the last window ends exactly at the border).
pub fn window_starts(size: usize, patch: usize, step: f64) -> Vec<usize> {
    if size <= patch {
        return vec![0];
    }
    let target = (patch as f64 * step).max(1.0);
    let n = ((size - patch) as f64 / target).ceil() as usize + 1;
    let span = (size - patch) as f64;
    (0..n)
        .map(|i| (span * i as f64 / (n - 1) as f64).round() as usize)
        .collect()
}

/// Gaussian importance map over a patch, max 1, never exactly 0.
pub fn gaussian_map(patch: [usize; 3], sigma_scale: f64) -> Vec<f32> {
    let axis = |n: usize| -> Vec<f64> {
        let sigma = (n as f64 * sigma_scale).max(1e-3);
        let c = (n as f64 - 1.0) / 2.0;
        (0..n)
            .map(|i| (-((i as f64 - c).powi(2)) / (2.0 * sigma * sigma)).exp())
            .collect()
    };
    let (gd, gh, gw) = (axis(patch[0]), axis(patch[1]), axis(patch[2]));
    let mut out = Vec::with_capacity(patch.iter().product());
    for d in &gd {
        for h in &gh {
            for w in &gw {
                out.push((d * h * w) as f32);
            }
        }
    }
    let max = out.iter().cloned().fold(0.0f32, f32::max);
    let floor = out
        .iter()
        .cloned()
        .filter(|v| *v > 0.0)
        .fold(f32::MAX, f32::min);
    out.iter()
        .map(|v| (v / max).max(floor / max).max(1e-6))
        .collect()
}

/// Class probabilities for a single-channel volume `image` laid out `[D, H, W]` (W fastest).
/// Returns one buffer per class in the same layout.
pub fn predict_probabilities(
    model: &UNet3d,
    image: &[f32],
    dims: [usize; 3],
    classes: usize,
    cfg: &SlidingWindowConfig,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let mut clock = PhaseClock::new();
    predict_probabilities_timed(model, image, dims, classes, cfg, device, &mut clock)
}

/// [`predict_probabilities`], charging its time to `clock`'s phases: padding, window extraction,
/// upload, network (forward, softmax and mirroring, until the probabilities are back on the
/// host), Gaussian-weighted accumulation, and normalisation with the crop back.
pub fn predict_probabilities_timed(
    model: &UNet3d,
    image: &[f32],
    dims: [usize; 3],
    classes: usize,
    cfg: &SlidingWindowConfig,
    device: &Device,
    clock: &mut PhaseClock,
) -> Result<Vec<Vec<f32>>> {
    let n: usize = dims.iter().product();
    if image.len() != n {
        return Err(Error::config(format!(
            "image has {} voxels, dims {dims:?} need {n}",
            image.len()
        )));
    }
    if cfg.batch == 0 || !(cfg.step > 0.0 && cfg.step <= 1.0) {
        return Err(Error::config(format!(
            "sliding window: batch must be >= 1 and step in (0, 1], got {} and {}",
            cfg.batch, cfg.step
        )));
    }
    // Pad up to at least one patch per axis (zero = the z-score mean), centred.
    let padded: [usize; 3] = std::array::from_fn(|a| dims[a].max(cfg.patch[a]));
    let offset: [usize; 3] = std::array::from_fn(|a| (padded[a] - dims[a]) / 2);
    let pad_buf = pad(image, dims, padded, offset);
    let starts: Vec<Vec<usize>> = (0..3)
        .map(|a| window_starts(padded[a], cfg.patch[a], cfg.step))
        .collect();
    let mut windows: Vec<[usize; 3]> = Vec::new();
    for &d in &starts[0] {
        for &h in &starts[1] {
            for &w in &starts[2] {
                windows.push([d, h, w]);
            }
        }
    }

    let weight = gaussian_map(cfg.patch, cfg.sigma_scale);
    let pn: usize = padded.iter().product();
    let mut acc = vec![vec![0f32; pn]; classes];
    let mut norm = vec![0f32; pn];
    let [pd, ph, pw] = cfg.patch;
    let patch_len = pd * ph * pw;
    clock.lap("pad and allocate");
    for chunk in windows.chunks(cfg.batch) {
        let mut input = Vec::with_capacity(chunk.len() * patch_len);
        for w in chunk {
            input.extend(crop(&pad_buf, padded, *w, cfg.patch));
        }
        clock.lap("window extraction");
        let x =
            Tensor::<5>::from_data(TensorData::new(input, [chunk.len(), 1, pd, ph, pw]), device);
        clock.lap("upload");
        let advice = format!(
            "use fewer windows per pass (sliding-window batch, now {}) or a smaller patch",
            cfg.batch
        );
        let host: Vec<f32> = guard_device("sliding window", &advice, || {
            let probs = forward_with_mirroring(model, x, &cfg.mirror_axes);
            probs.into_data().try_into_vec::<f32>().map_err(|e| {
                Error::Backend(format!("reading probabilities back from the device: {e:?}"))
            })
        })?;
        clock.lap("network, softmax, read back");
        if host.len() != chunk.len() * classes * patch_len {
            return Err(Error::config(format!(
                "model gave {} values per batch, expected {} classes",
                host.len() / chunk.len() / patch_len,
                classes
            )));
        }
        for (b, w) in chunk.iter().enumerate() {
            for c in 0..classes {
                let src = &host[(b * classes + c) * patch_len..][..patch_len];
                accumulate(&mut acc[c], padded, *w, cfg.patch, src, &weight);
            }
            accumulate(
                &mut norm,
                padded,
                *w,
                cfg.patch,
                &vec![1.0; patch_len],
                &weight,
            );
        }
        clock.lap("weighting and accumulation");
    }
    let out = acc
        .into_iter()
        .map(|a| {
            let a: Vec<f32> = a.iter().zip(&norm).map(|(v, n)| v / n.max(1e-12)).collect();
            crop(&a, padded, offset, dims)
        })
        .collect();
    clock.lap("normalise and crop back");
    Ok(out)
}

fn forward_with_mirroring(model: &UNet3d, x: Tensor<5>, axes: &[usize]) -> Tensor<5> {
    let probs = |logits: Tensor<5>| {
        if model.own_kernels() {
            softmax_channels(logits, false)
        } else {
            softmax(logits, 1)
        }
    };
    let mut sum = probs(model.forward(x.clone()));
    let combos = 1usize << axes.len();
    for mask in 1..combos {
        let flip: Vec<usize> = axes
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, a)| *a)
            .collect();
        let y = probs(model.forward(flip_axes(x.clone(), &flip)));
        sum = sum + flip_axes(y, &flip);
    }
    sum.div_scalar(combos as f32)
}

fn flip_axes(x: Tensor<5>, axes: &[usize]) -> Tensor<5> {
    axes.iter().fold(x, |t, &a| t.flip([a]))
}

fn pad(src: &[f32], dims: [usize; 3], to: [usize; 3], offset: [usize; 3]) -> Vec<f32> {
    if dims == to {
        return src.to_vec();
    }
    let mut out = vec![0f32; to.iter().product()];
    for d in 0..dims[0] {
        for h in 0..dims[1] {
            let s = (d * dims[1] + h) * dims[2];
            let t = ((d + offset[0]) * to[1] + h + offset[1]) * to[2] + offset[2];
            out[t..t + dims[2]].copy_from_slice(&src[s..s + dims[2]]);
        }
    }
    out
}

/// Copies the box at `start` of size `size` out of a `[D, H, W]` buffer.
pub fn crop(src: &[f32], dims: [usize; 3], start: [usize; 3], size: [usize; 3]) -> Vec<f32> {
    let mut out = Vec::with_capacity(size.iter().product());
    for d in 0..size[0] {
        for h in 0..size[1] {
            let s = ((start[0] + d) * dims[1] + start[1] + h) * dims[2] + start[2];
            out.extend_from_slice(&src[s..s + size[2]]);
        }
    }
    out
}

fn accumulate(
    dst: &mut [f32],
    dims: [usize; 3],
    start: [usize; 3],
    size: [usize; 3],
    src: &[f32],
    weight: &[f32],
) {
    let mut i = 0;
    for d in 0..size[0] {
        for h in 0..size[1] {
            let t = ((start[0] + d) * dims[1] + start[1] + h) * dims[2] + start[2];
            for w in 0..size[2] {
                dst[t + w] += src[i] * weight[i];
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_voxel_of_an_indivisible_volume() {
        for (size, patch) in [(37, 16), (16, 16), (10, 16), (100, 32)] {
            let s = window_starts(size, patch, 0.5);
            assert_eq!(s[0], 0);
            if size >= patch {
                assert_eq!(s.last().unwrap() + patch, size);
                for pair in s.windows(2) {
                    assert!(
                        pair[1] - pair[0] <= patch / 2,
                        "step too large for {size}/{patch}: {s:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn gaussian_peaks_in_the_centre_and_is_positive() {
        let g = gaussian_map([5, 8, 8], 0.125);
        let max_i = g
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        let (d, h) = (max_i / 64, (max_i / 8) % 8);
        assert_eq!(d, 2);
        assert!(h == 3 || h == 4);
        assert!(g.iter().all(|v| *v > 0.0));
    }

    #[test]
    fn crop_and_pad_are_inverse() {
        let src: Vec<f32> = (0..2 * 3 * 4).map(|v| v as f32).collect();
        let p = pad(&src, [2, 3, 4], [4, 5, 6], [1, 1, 1]);
        assert_eq!(crop(&p, [4, 5, 6], [1, 1, 1], [2, 3, 4]), src);
    }
}
