//! Segmentation loss: softmax cross-entropy (optional class weights) + soft Dice, weighted sum,
//! optionally deep-supervised (the same loss at the decoder's lower resolutions).
//!
//! Voxels carrying the ignore label (default 255) add nothing to either term, which is what lets the
//! network learn from sparsely annotated slices (Çiçek et al. 2016, the "semi-automated" setting).

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::kernels::reduce::{sum_all, sum_axes};
use crate::kernels::softmax_channels;
use crate::model::UNet3d;
use crate::run::config::LossConfig;
use burn::tensor::{Device, Tensor, TensorData};

/// One-hot targets and the mask of labelled voxels, built on the host and moved to the device.
pub struct Targets {
    /// `[B, C, D, H, W]`, 1 where the voxel has that class, 0 elsewhere (all 0 on ignored voxels).
    pub onehot: Tensor<5>,
    /// `[B, 1, D, H, W]`, 1 for labelled voxels, 0 for ignored ones.
    pub mask: Tensor<5>,
    /// Number of labelled voxels.
    pub labelled: usize,
}

/// Builds targets from a `[B, D, H, W]` label buffer. A value that is neither a class (< `classes`) nor
/// the ignore label is an error, never silently dropped.
pub fn make_targets(
    labels: &[u8],
    shape: [usize; 4],
    classes: usize,
    ignore: u8,
    device: &Device,
) -> Result<Targets> {
    let [b, d, h, w] = shape;
    let spatial = d * h * w;
    if labels.len() != b * spatial {
        return Err(Error::config(format!(
            "label buffer has {} voxels, shape {shape:?} needs {}",
            labels.len(),
            b * spatial
        )));
    }
    let mut onehot = vec![0f32; b * classes * spatial];
    let mut mask = vec![0f32; b * spatial];
    let mut labelled = 0;
    for (n, sample) in labels.chunks(spatial).enumerate() {
        for (v, &l) in sample.iter().enumerate() {
            if l == ignore {
                continue;
            }
            if l as usize >= classes {
                return Err(Error::config(format!(
                    "label value {l} is outside the {classes} declared classes (and is not the ignore label {ignore})"
                )));
            }
            onehot[(n * classes + l as usize) * spatial + v] = 1.0;
            mask[n * spatial + v] = 1.0;
            labelled += 1;
        }
    }
    Ok(Targets {
        onehot: Tensor::from_data(TensorData::new(onehot, [b, classes, d, h, w]), device),
        mask: Tensor::from_data(TensorData::new(mask, [b, 1, d, h, w]), device),
        labelled,
    })
}

/// The loss and its two terms (scalars, `[1]`).
pub struct LossParts {
    pub total: Tensor<1>,
    pub ce: Tensor<1>,
    pub dice: Tensor<1>,
}

/// `logits`: `[B, C, D, H, W]`.
pub fn segmentation_loss(logits: Tensor<5>, t: &Targets, cfg: &LossConfig) -> LossParts {
    let [_, classes, ..] = logits.dims();
    let device = logits.device();
    let ce = cross_entropy(logits.clone(), t, cfg, classes, &device);
    let dice = soft_dice_loss(logits, t, cfg);
    let total = ce.clone().mul_scalar(cfg.ce_weight) + dice.clone().mul_scalar(cfg.dice_weight);
    LossParts { total, ce, dice }
}

/// The training loss of one batch (`x`: `[B, C, D, H, W]`, `labels`: its `[B, D, H, W]` labels):
/// [`deep_supervision_loss`] of [`UNet3d::forward_deep`], which without auxiliary heads is just
/// [`segmentation_loss`] of `forward`.
pub fn batch_loss(
    model: &UNet3d,
    x: Tensor<5>,
    labels: &[u8],
    cfg: &LossConfig,
) -> Result<LossParts> {
    model.check_input(x.dims())?;
    deep_supervision_loss(model.forward_deep(x), labels, &model.pool_kernels, cfg)
}

/// Weights of the deep-supervision outputs (full resolution first): halving per level, summing
/// to 1, as nnU-Net (which also leaves out the lowest decoder level; the model has no head there).
pub fn deep_supervision_weights(outputs: usize) -> Vec<f64> {
    let raw: Vec<f64> = (0..outputs).map(|i| 0.5f64.powi(i as i32)).collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|w| w / sum).collect()
}

/// Labels of a `[B, D, H, W]` buffer at `factor` times lower resolution per axis [z, y, x]: the
/// voxel in the middle of each block (nearest neighbour, so the ignore label survives). Sizes must
/// be multiples of the factor (the sampler's patches are).
pub fn downsample_labels(labels: &[u8], shape: [usize; 4], factor: [usize; 3]) -> Vec<u8> {
    let [b, d, h, w] = shape;
    let [fz, fy, fx] = factor;
    let (d2, h2, w2) = (d / fz, h / fy, w / fx);
    let mut out = Vec::with_capacity(b * d2 * h2 * w2);
    for n in 0..b {
        for z in 0..d2 {
            for y in 0..h2 {
                let row = ((n * d + z * fz + fz / 2) * h + y * fy + fy / 2) * w;
                out.extend((0..w2).map(|x| labels[row + x * fx + fx / 2]));
            }
        }
    }
    out
}

/// The deep-supervision loss: [`segmentation_loss`] of every output of
/// [`UNet3d::forward_deep`](crate::model::UNet3d::forward_deep) against the labels brought to its
/// resolution, weighted by [`deep_supervision_weights`]. `labels` is the `[B, D, H, W]` buffer of
/// the full-resolution output; `pool_kernels` the model's. Every reported term is the weighted sum.
pub fn deep_supervision_loss(
    outputs: Vec<Tensor<5>>,
    labels: &[u8],
    pool_kernels: &[[usize; 3]],
    cfg: &LossConfig,
) -> Result<LossParts> {
    let weights = deep_supervision_weights(outputs.len());
    let mut sum: Option<LossParts> = None;
    let mut factor = [1usize; 3];
    for (level, (logits, weight)) in outputs.into_iter().zip(weights).enumerate() {
        if level > 0 {
            factor = std::array::from_fn(|a| factor[a] * pool_kernels[level - 1][a]);
        }
        let [b, classes, d, h, w] = logits.dims();
        let full = [b, d * factor[0], h * factor[1], w * factor[2]];
        // The full-resolution output takes the labels as they are.
        let level_labels = if factor == [1; 3] {
            Cow::Borrowed(labels)
        } else {
            Cow::Owned(downsample_labels(labels, full, factor))
        };
        let device = logits.device();
        let t = make_targets(
            &level_labels,
            [b, d, h, w],
            classes,
            cfg.ignore_label,
            &device,
        )?;
        let p = segmentation_loss(logits, &t, cfg);
        let scaled = |x: Tensor<1>| x.mul_scalar(weight);
        let (total, ce, dice) = (scaled(p.total), scaled(p.ce), scaled(p.dice));
        sum = Some(match sum {
            None => LossParts { total, ce, dice },
            Some(s) => LossParts {
                total: s.total + total,
                ce: s.ce + ce,
                dice: s.dice + dice,
            },
        });
    }
    sum.ok_or_else(|| Error::config("deep supervision: the model gave no outputs"))
}

fn cross_entropy(
    logits: Tensor<5>,
    t: &Targets,
    cfg: &LossConfig,
    classes: usize,
    device: &Device,
) -> Tensor<1> {
    let logp = softmax_channels(logits, true);
    // Per-voxel weight: the weight of its class (0 on ignored voxels, since one-hot is all 0 there).
    let weights: Vec<f32> = cfg
        .class_weights
        .clone()
        .unwrap_or_else(|| vec![1.0; classes]);
    let w = Tensor::<5>::from_data(TensorData::new(weights, [1, classes, 1, 1, 1]), device);
    let weighted_onehot = t.onehot.clone() * w;
    let voxel_weight = weighted_onehot.clone().sum_dim(1);
    let nll = -sum_all(weighted_onehot * logp);
    nll / sum_all(voxel_weight).add_scalar(1e-8)
}

fn soft_dice_loss(logits: Tensor<5>, t: &Targets, cfg: &LossConfig) -> Tensor<1> {
    let [b, c, ..] = logits.dims();
    let probs = softmax_channels(logits, false) * t.mask.clone();
    let g = t.onehot.clone();
    let reduce = |x: Tensor<5>| -> Tensor<2> {
        if cfg.batch_dice {
            sum_axes(x, &[0, 2, 3, 4]).reshape([1, c])
        } else {
            sum_axes(x, &[2, 3, 4]).reshape([b, c])
        }
    };
    let inter = reduce(probs.clone() * g.clone());
    let denom = reduce(probs) + reduce(g);
    let dice = (inter.mul_scalar(2.0).add_scalar(cfg.smooth)) / denom.add_scalar(cfg.smooth);
    let first = if cfg.dice_include_background || c == 1 {
        0
    } else {
        1
    };
    let rows = if cfg.batch_dice { 1 } else { b };
    let dice = dice.slice([0..rows, first..c]);
    dice.mean().neg().add_scalar(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_scalar()
    }

    #[test]
    fn perfect_logits_give_near_zero_loss_and_ignored_voxels_do_not_count() {
        let device = Device::flex();
        let labels = vec![0u8, 1, 2, 255, 1, 0, 2, 2];
        let t = make_targets(&labels, [1, 2, 2, 2], 3, 255, &device).unwrap();
        assert_eq!(t.labelled, 7);
        // Logits: +20 on the true class; the ignored voxel gets a wildly wrong prediction.
        let mut logits = vec![0f32; 3 * 8];
        for (v, &l) in labels.iter().enumerate() {
            let c = if l == 255 { 0 } else { l as usize };
            logits[c * 8 + v] = if l == 255 { -50.0 } else { 20.0 };
        }
        let x = Tensor::<5>::from_data(TensorData::new(logits, [1, 3, 2, 2, 2]), &device);
        let parts = segmentation_loss(x, &t, &LossConfig::default());
        assert!(scalar(parts.ce) < 1e-6);
        assert!(scalar(parts.dice) < 1e-4);
    }

    #[test]
    fn uniform_logits_give_log_c_cross_entropy() {
        let device = Device::flex();
        let labels = vec![0u8, 1, 2, 1];
        let t = make_targets(&labels, [1, 1, 2, 2], 3, 255, &device).unwrap();
        let x = Tensor::<5>::zeros([1, 3, 1, 2, 2], &device);
        let parts = segmentation_loss(x, &t, &LossConfig::default());
        assert!((scalar(parts.ce) - 3f32.ln()).abs() < 1e-5);
        // Soft Dice of uniform 1/3 probabilities: class 1: 2*(2/3)/(4/3+2) = 0.4; class 2: 2*(1/3)/(4/3+1) = 2/7.
        let expected = 1.0 - (0.4 + 2.0 / 7.0) / 2.0;
        assert!((scalar(parts.dice) - expected).abs() < 1e-4, "{}", expected);
    }

    #[test]
    fn class_weights_scale_the_cross_entropy_per_voxel() {
        let device = Device::flex();
        let labels = vec![0u8, 1];
        let t = make_targets(&labels, [1, 1, 1, 2], 2, 255, &device).unwrap();
        // Voxel 0 (class 0) predicted p=0.5, voxel 1 (class 1) predicted p=sigmoid(2).
        let x = Tensor::<5>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 0.0, 2.0], [1, 2, 1, 1, 2]),
            &device,
        );
        let cfg = LossConfig {
            class_weights: Some(vec![1.0, 3.0]),
            ..LossConfig::default()
        };
        let ce = scalar(segmentation_loss(x, &t, &cfg).ce);
        let l0 = 2f32.ln();
        let l1 = (1.0 + (-2f32).exp()).ln();
        assert!((ce - (l0 + 3.0 * l1) / 4.0).abs() < 1e-5);
    }

    #[test]
    fn labels_downsample_to_block_centres() {
        // [1, 2, 4, 4] with value = z·16 + y·4 + x; factor [1, 2, 2] keeps y, x ∈ {1, 3}.
        let labels: Vec<u8> = (0..32).collect();
        let out = downsample_labels(&labels, [1, 2, 4, 4], [1, 2, 2]);
        assert_eq!(out, vec![5, 7, 13, 15, 21, 23, 29, 31]);
        let out = downsample_labels(&labels, [2, 1, 4, 4], [1, 4, 4]);
        assert_eq!(out, vec![10, 26], "batch samples stay apart");
    }

    #[test]
    fn deep_supervision_weights_halve_and_sum_to_one() {
        let w = deep_supervision_weights(3);
        assert!((w[0] - 4.0 / 7.0).abs() < 1e-12 && (w[2] - 1.0 / 7.0).abs() < 1e-12);
        assert_eq!(deep_supervision_weights(1), vec![1.0]);
    }

    #[test]
    fn deep_supervision_loss_weights_each_level_against_its_labels() {
        let device = Device::flex();
        let cfg = LossConfig::default();
        let mut rng = crate::util::rng::Rng::new(3);
        let shape = [2, 2, 4, 4];
        let labels: Vec<u8> = (0..64).map(|_| rng.below(3) as u8).collect();
        let logits = |dims: [usize; 5], rng: &mut crate::util::rng::Rng| {
            let n = dims.iter().product();
            let v: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
            Tensor::<5>::from_data(TensorData::new(v, dims), &device)
        };
        let full = logits([2, 3, 2, 4, 4], &mut rng);
        let half = logits([2, 3, 2, 2, 2], &mut rng);
        let kernels = [[1, 2, 2]];
        let deep = deep_supervision_loss(vec![full.clone(), half.clone()], &labels, &kernels, &cfg)
            .unwrap();
        let t_full = make_targets(&labels, shape, 3, 255, &device).unwrap();
        let small = downsample_labels(&labels, shape, [1, 2, 2]);
        let t_half = make_targets(&small, [2, 2, 2, 2], 3, 255, &device).unwrap();
        let plain = scalar(segmentation_loss(full.clone(), &t_full, &cfg).total);
        let expected =
            plain * 2.0 / 3.0 + scalar(segmentation_loss(half, &t_half, &cfg).total) / 3.0;
        assert!((scalar(deep.total) - expected).abs() < 1e-5);
        // One output (a model without auxiliary heads) is the plain loss.
        let single = deep_supervision_loss(vec![full], &labels, &kernels, &cfg).unwrap();
        assert!((scalar(single.total) - plain).abs() < 1e-6);
    }

    #[test]
    fn unknown_label_value_is_an_error() {
        let err = make_targets(&[0, 7], [1, 1, 1, 2], 3, 255, &Device::flex())
            .err()
            .unwrap();
        assert!(err.to_string().contains("label value 7"));
    }
}
