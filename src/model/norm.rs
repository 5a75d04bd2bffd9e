//! InstanceNorm and BatchNorm forward passes with their statistics reduced one axis at a time
//! ([`kernels::reduce`]): burn's own modules flatten the volume into one axis, which burn's wgpu
//! reductions cannot sum past ~65 535 lines. The parameters stay burn's modules (same record
//! names, same checkpoints); only the arithmetic of the forward is ours. BatchNorm outside
//! training is elementwise (running statistics) and stays burn's.

use burn::nn::{BatchNorm, InstanceNorm};
use burn::prelude::*;

use crate::kernels::reduce::mean_axes;

/// Per-channel `[1, c, 1, 1, 1]` view of a `[c]` parameter.
fn per_channel(p: Tensor<1>) -> Tensor<5> {
    let [c] = p.dims();
    p.reshape([1, c, 1, 1, 1])
}

/// `(x − mean) / sqrt(var + eps)` with biased variance over `axes`, and the statistics.
fn standardize(x: Tensor<5>, axes: &[usize], eps: f64) -> (Tensor<5>, Tensor<5>, Tensor<5>) {
    let mean = mean_axes(x.clone(), axes);
    let centered = x - mean.clone();
    let var = mean_axes(centered.clone().powi_scalar(2), axes);
    let y = centered / var.clone().add_scalar(eps).sqrt();
    (y, mean, var)
}

/// burn's `InstanceNorm::forward` on `[b, c, z, y, x]`, statistics per sample and channel.
pub fn instance_norm(norm: &InstanceNorm, x: Tensor<5>) -> Tensor<5> {
    let (mut y, _, _) = standardize(x, &[2, 3, 4], norm.epsilon);
    if let Some(gamma) = &norm.gamma {
        y = y * per_channel(gamma.val());
    }
    if let Some(beta) = &norm.beta {
        y = y + per_channel(beta.val());
    }
    y
}

/// burn's `BatchNorm::forward`: batch statistics (and the running statistics updated with the
/// module's momentum, as burn does) when training on an autodiff device with the layer not
/// frozen; the running statistics otherwise.
pub fn batch_norm(norm: &BatchNorm, x: Tensor<5>) -> Tensor<5> {
    if !(x.device().is_autodiff() && norm.training.is_enabled()) {
        return norm.forward(x);
    }
    let (y, mean, var) = standardize(x, &[0, 2, 3, 4], norm.epsilon);
    let device = y.device();
    let [c] = norm.gamma.val().dims();
    let batch_mean = mean.detach().reshape([c]);
    let batch_var = var.detach().reshape([c]);
    let m = norm.momentum;
    let running_mean = norm.running_mean.value_sync().to_device(&device);
    let running_var = norm.running_var.value_sync().to_device(&device);
    norm.running_mean.update(
        running_mean
            .mul_scalar(1.0 - m)
            .add(batch_mean.mul_scalar(m))
            .detach(),
    );
    norm.running_var.update(
        running_var
            .mul_scalar(1.0 - m)
            .add(batch_var.mul_scalar(m))
            .detach(),
    );
    y * per_channel(norm.gamma.val()) + per_channel(norm.beta.val())
}
