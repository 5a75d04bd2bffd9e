//! nnU-Net's export (`convert_predicted_logits_to_segmentation_with_correct_shape`): the
//! float16 logits resampled back to the cropped shape (linear; the coarse axis separately when
//! anisotropic), turned into probabilities (softmax, or a sigmoid per region), the crop undone
//! (background outside it) and `transpose_backward` applied: probabilities on the scan's grid.

use half::f16;

use super::array::Array3;
use super::plans::NnunetPlan;
use super::preprocess::CaseGeometry;
use super::resample::resample_channel;

/// Probabilities per output channel on the original grid (`[z, y, x]` as read).
pub fn probabilities_on_input_grid(
    plan: &NnunetPlan,
    logits: &[Array3<f32>],
    geometry: &CaseGeometry,
) -> Vec<Array3<f32>> {
    let target = geometry.shape_after_crop;
    let resampled: Vec<Array3<f32>> = logits
        .iter()
        .map(|l| {
            if l.shape == target {
                return l.clone();
            }
            resample_channel(
                &l.map(f64::from),
                target,
                plan.spacing,
                geometry.spacing,
                &plan.probabilities_resampling,
            )
            .map(|v| f16::from_f64(v).to_f32())
        })
        .collect();
    let regions = plan.labels.regions.is_some();
    let probs = if regions {
        resampled
            .iter()
            .map(|l| l.map(|v| 1.0 / (1.0 + (-v).exp())))
            .collect()
    } else {
        softmax(&resampled)
    };
    let lo = geometry.bbox.map(|[lo, _]| lo);
    probs
        .iter()
        .enumerate()
        .map(|(c, p)| {
            // Outside the crop: certainly background (channel 0 of a softmax), no region.
            let fill = if c == 0 && !regions { 1.0 } else { 0.0 };
            p.embed(geometry.shape_before_crop, lo, fill)
                .transpose(plan.transpose_backward)
        })
        .collect()
}

/// Softmax over channels per voxel, in float32 as torch computes it.
fn softmax(logits: &[Array3<f32>]) -> Vec<Array3<f32>> {
    let mut out: Vec<Array3<f32>> = logits.to_vec();
    let n = logits[0].len();
    let mut row = vec![0.0f32; logits.len()];
    for i in 0..n {
        let max = logits
            .iter()
            .map(|l| l.data[i])
            .fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for (c, l) in logits.iter().enumerate() {
            row[c] = (l.data[i] - max).exp();
            sum += row[c];
        }
        for (c, o) in out.iter_mut().enumerate() {
            o.data[i] = row[c] / sum;
        }
    }
    out
}

/// Labels from region probabilities: `seg[p[i] > 0.5] = regions_class_order[i]`, later regions
/// overwriting earlier ones.
pub fn labels_from_regions(probs: &[Vec<f32>], order: &[u8]) -> Vec<u8> {
    let n = probs.first().map_or(0, Vec::len);
    let mut seg = vec![0u8; n];
    for (p, &label) in probs.iter().zip(order) {
        for (s, &v) in seg.iter_mut().zip(p) {
            if v > 0.5 {
                *s = label;
            }
        }
    }
    seg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_regions_overwrite_earlier_ones() {
        let probs = vec![vec![0.9, 0.9, 0.1], vec![0.2, 0.7, 0.6]];
        assert_eq!(labels_from_regions(&probs, &[1, 2]), vec![1, 2, 2]);
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let a = Array3::from_vec([1, 1, 2], vec![0.0f32, 5.0]);
        let b = Array3::from_vec([1, 1, 2], vec![1.0f32, 5.0]);
        let p = softmax(&[a, b]);
        assert!((p[0].data[0] + p[1].data[0] - 1.0).abs() < 1e-7);
        assert_eq!(p[0].data[1], 0.5);
    }
}
