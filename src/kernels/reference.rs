//! The fused convolution from plain burn ops: the fallback on non-wgpu devices and the
//! reference the WGSL kernels are tested against; plus BatchNorm folding for inference.

use burn::tensor::Tensor;
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::module::conv3d;
use burn::tensor::ops::ConvOptions;

use super::activation::Activation;

/// `act((conv3d(x, weight) + bias) * scale + shift)` with burn's own ops (stride 1, same
/// padding, per-channel `bias`, `scale`, `shift` of length `co`; each optional).
///
/// # Shapes
/// - x: `[batch, ci, d, h, w]`, weight: `[co, ci, k, k, k]` (k odd) -> `[batch, co, d, h, w]`
pub fn conv3d_fused_reference(
    x: Tensor<5>,
    weight: Tensor<5>,
    bias: Option<Tensor<1>>,
    scale: Option<Tensor<1>>,
    shift: Option<Tensor<1>>,
    act: Activation,
) -> Tensor<5> {
    let [_, _, k, _, _] = weight.dims();
    let z = conv3d(
        x,
        weight,
        bias,
        ConvOptions::new([1; 3], [k / 2; 3], [1; 3], 1),
    );
    epilogue(z, scale, shift, act)
}

/// `act(z * scale + shift)` per channel of `z: [batch, co, d, h, w]` (each step optional).
pub(crate) fn epilogue(
    mut z: Tensor<5>,
    scale: Option<Tensor<1>>,
    shift: Option<Tensor<1>>,
    act: Activation,
) -> Tensor<5> {
    let co = z.dims()[1];
    let channel = |t: Tensor<1>| t.reshape([1, co as i32, 1, 1, 1]);
    if let Some(s) = scale {
        z = z * channel(s);
    }
    if let Some(t) = shift {
        z = z + channel(t);
    }
    match act {
        Activation::Identity => z,
        Activation::Relu => relu(z),
        Activation::LeakyRelu(slope) => leaky_relu(z, slope as f64),
    }
}

/// Folds inference-mode BatchNorm into a per-channel `(scale, shift)` for the fused epilogue:
/// `bn(v) = gamma * (v - mean) / sqrt(var + eps) + beta = v * scale + shift`.
pub fn fold_batchnorm(
    gamma: Tensor<1>,
    beta: Tensor<1>,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    eps: f64,
) -> (Tensor<1>, Tensor<1>) {
    let scale = gamma / (running_var + eps).sqrt();
    let shift = beta - running_mean * scale.clone();
    (scale, shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn folded_batchnorm_matches_the_formula() {
        let dev = Device::flex();
        let t = |v: [f32; 2]| Tensor::<1>::from_floats(v, &dev);
        let (s, sh) = fold_batchnorm(
            t([2.0, 0.5]),
            t([1.0, -1.0]),
            t([3.0, 0.0]),
            t([3.0, 0.0]),
            1.0,
        );
        // channel 0: scale 2/2 = 1, shift 1 - 3 = -2; channel 1: scale 0.5, shift -1.
        s.into_data()
            .assert_approx_eq::<f32>(&TensorData::from([1.0f32, 0.5]), Default::default());
        sh.into_data()
            .assert_approx_eq::<f32>(&TensorData::from([-2.0f32, -1.0]), Default::default());
    }

    #[test]
    fn reference_applies_bias_scale_shift_and_relu_in_order() {
        let dev = Device::flex();
        // 1x1x1 kernel with weight 2 on a single voxel: z = ((2x + b) * s + t).
        let x = Tensor::<5>::from_data(TensorData::new(vec![1.5f32], [1, 1, 1, 1, 1]), &dev);
        let w = Tensor::<5>::from_data(TensorData::new(vec![2.0f32], [1, 1, 1, 1, 1]), &dev);
        let one = |v: f32| Some(Tensor::<1>::from_floats([v], &dev));
        let y = conv3d_fused_reference(
            x.clone(),
            w.clone(),
            one(1.0),
            one(-2.0),
            one(3.0),
            Activation::Identity,
        );
        assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![-5.0]);
        let y = conv3d_fused_reference(
            x.clone(),
            w.clone(),
            one(1.0),
            one(-2.0),
            one(3.0),
            Activation::Relu,
        );
        assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![0.0]);
        let y = conv3d_fused_reference(
            x,
            w,
            one(1.0),
            one(-2.0),
            one(3.0),
            Activation::LeakyRelu(0.5),
        );
        assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![-2.5]);
    }
}
