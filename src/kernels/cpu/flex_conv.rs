//! The 3×3×3 convolution on flex (burn's CPU backend), forward and backward, on the project's
//! CPU kernels.
//!
//! flex's own conv3d and burn's generic backward are slow at the U-Net's narrow layers: the
//! forward spends more time building its im2col columns than multiplying (2–9× slower than
//! [`conv3d_forward`] at 1–16 input channels), and the backward costs 3–5× the forward. Here
//! the forward is [`conv3d_forward`] (row bands unfolded for the z and y taps, one GEMM per x
//! tap), the input gradient is the same convolution of `dy` with the weight flipped in space and
//! its channel axes swapped, and the weight gradient is [`conv3d_weight_grad`] (the same unfold,
//! one GEMM per x tap).
//!
//! Used by the model's conv blocks on flex devices, with and without autodiff; checked against
//! burn's `conv3d` and its gradients in the tests below.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::flex::FlexTensor;
use burn::backend::{
    Backend, Dispatch, DispatchDevice, Flex, TensorMetadata, backend_extension,
    ops::FloatTensorOps, tensor::FloatTensor,
};
use burn::tensor::{DType, Device, Shape, Tensor, TensorData};

use super::direct_conv::conv3d_direct;
use super::direct_weight_grad::conv3d_weight_grad_direct;

/// Whether `device` (looking through autodiff) is a flex device.
pub fn is_flex(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::Flex(_)
    )
}

/// `conv3d(x, weight) + bias`, stride 1, same padding, k×k×k with odd k, on flex.
///
/// # Shapes
/// - x: `[batch, ci, d, h, w]`, weight: `[co, ci, k, k, k]`, bias: `[co]` → `[batch, co, d, h, w]`
///
/// # Panics
/// On a device that is not flex (check with [`is_flex`]).
pub fn conv3d_flex(x: Tensor<5>, weight: Tensor<5>, bias: Tensor<1>) -> Tensor<5> {
    Tensor::from_dispatch(<Dispatch as Conv3dFlexOps>::conv3d_flex(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// The convolution as a backend operation (flex, and autodiff over flex).
#[backend_extension(Flex, Autodiff)]
pub trait Conv3dFlexOps: Backend {
    /// `conv3d(x, weight) + bias`, stride 1, same padding.
    fn conv3d_flex(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// `t` as a contiguous tensor, so its buffer can be read as one slice.
pub(super) fn contiguous(t: &FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t.clone()
    } else {
        t.to_contiguous()
    }
}

/// `t`'s f32 values in row-major order (`t` contiguous).
pub(super) fn f32_values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().unwrap_or_else(|| {
        panic!(
            "the flex CPU kernels need contiguous f32 tensors, got {:?}",
            t.dtype()
        )
    })
}

fn dims5(t: &FlexTensor) -> [usize; 5] {
    let s = t.shape();
    [s[0], s[1], s[2], s[3], s[4]]
}

/// `conv3d(x, weight) + bias` (zero bias when `None`) via [`conv3d_direct`].
fn forward(x: &FlexTensor, weight: &FlexTensor, bias: Option<&FlexTensor>) -> FlexTensor {
    let (x, weight) = (contiguous(x), contiguous(weight));
    let [n, _, d, h, w] = dims5(&x);
    let [co, _, k, ..] = dims5(&weight);
    let bias = match bias {
        Some(b) => f32_values(&contiguous(b)).to_vec(),
        None => vec![0.0; co],
    };
    let y = conv3d_direct(f32_values(&x), f32_values(&weight), &bias, dims5(&x), k);
    FlexTensor::from_data(TensorData::new(y, [n, co, d, h, w]))
}

impl Conv3dFlexOps for Flex {
    fn conv3d_flex(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        forward(&x, &weight, Some(&bias))
    }
}

/// The input gradient: a same-padded correlation of `dy` with the weight flipped in space and
/// transposed in channels (`[ci, co, k, k, k]`).
fn input_grad(dy: FlexTensor, weight: FlexTensor) -> FlexTensor {
    let flipped = Flex::float_flip(Flex::float_swap_dims(weight, 0, 1), &[2, 3, 4]);
    forward(&dy, &flipped, None)
}

/// The weight gradient via [`conv3d_weight_grad_direct`] on contiguous f32 buffers.
fn weight_grad(dy: &FlexTensor, x: &FlexTensor, weight_shape: Shape) -> FlexTensor {
    let (dy, x) = (contiguous(dy), contiguous(x));
    let (co, k) = (weight_shape[0], weight_shape[2]);
    let dw = conv3d_weight_grad_direct(f32_values(&x), f32_values(&dy), dims5(&x), co, k);
    FlexTensor::from_data(TensorData::new(dw, weight_shape))
}

/// The bias gradient: `dy` summed over batch and space.
fn bias_grad(dy: FlexTensor) -> FlexTensor {
    let s = dy.shape();
    let co = s[1];
    let flat = Flex::float_reshape(dy, Shape::from([s[0], co, s[2] * s[3] * s[4]]));
    let summed = Flex::float_sum_dim(Flex::float_sum_dim(flat, 2), 0);
    Flex::float_reshape(summed, Shape::from([co]))
}

#[derive(Debug)]
struct Conv3dFlexBackward;

impl Backward<Flex, 3> for Conv3dFlexBackward {
    /// The input and the weight (the bias is not needed).
    type State = (FlexTensor, FlexTensor);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, w) = ops.state;
        if let Some(node) = node_w {
            grads.register::<Flex>(node.id, weight_grad(&dy, &x, w.shape()));
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, bias_grad(dy.clone()));
        }
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, input_grad(dy, w));
        }
    }
}

impl<C: CheckpointStrategy> Conv3dFlexOps for Autodiff<Flex, C> {
    fn conv3d_flex(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match Conv3dFlexBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let [x, w, b] = [x, weight, bias].map(|t| t.into_primitive());
                let y = Flex::conv3d_flex(x.clone(), w.clone(), b);
                prep.finish((x, w), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv3d_flex(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
        }
    }
}

/// Whether the flex path can take these tensors (f32, odd cubic kernel).
pub fn flex_conv_supported(x: &Tensor<5>, weight: &Tensor<5>) -> bool {
    let [_, _, k0, k1, k2] = weight.dims();
    x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && k0 == k1
        && k1 == k2
        && k0 % 2 == 1
        && is_flex(&x.device())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use burn::tensor::module::conv3d;
    use burn::tensor::ops::ConvOptions;

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn forward_and_gradients_match_burns_conv3d() {
        let dev = Device::flex().autodiff();
        for (dims, co, k) in [
            ([2, 3, 5, 6, 7], 4, 3),
            ([1, 5, 4, 4, 3], 2, 3),
            ([1, 2, 3, 3, 3], 3, 1),
        ] {
            let [_, ci, ..] = dims;
            let x = Tensor::<5>::random(dims, Distribution::Normal(0.0, 1.0), &dev).require_grad();
            let w = Tensor::<5>::random([co, ci, k, k, k], Distribution::Normal(0.0, 0.3), &dev)
                .require_grad();
            let b = Tensor::<1>::random([co], Distribution::Normal(0.0, 0.3), &dev).require_grad();
            // A non-uniform upstream gradient, so every output voxel's weight matters.
            let probe = Tensor::<5>::random(
                [dims[0], co, dims[2], dims[3], dims[4]],
                Distribution::Normal(0.0, 1.0),
                &dev,
            );
            assert!(flex_conv_supported(&x, &w));
            let ours = conv3d_flex(x.clone(), w.clone(), b.clone());
            let p = k / 2;
            let opts = ConvOptions::new([1; 3], [p; 3], [1; 3], 1);
            let reference = conv3d(x.clone(), w.clone(), Some(b.clone()), opts);
            assert!(max_diff(ours.clone(), reference.clone()) < 1e-4);
            let g1 = (ours * probe.clone()).sum().backward();
            let g2 = (reference * probe).sum().backward();
            for (name, a, r) in [
                ("x", x.grad(&g1).unwrap(), x.grad(&g2).unwrap()),
                ("weight", w.grad(&g1).unwrap(), w.grad(&g2).unwrap()),
            ] {
                let scale = r.clone().abs().max().into_scalar::<f32>().max(1.0);
                let d = max_diff(a, r);
                assert!(d < 1e-4 * scale, "{dims:?} k{k} {name}: max diff {d}");
            }
            let d = max_diff(b.grad(&g1).unwrap(), b.grad(&g2).unwrap());
            assert!(d < 1e-3, "bias: {d}");
        }
    }

    #[test]
    fn only_flex_devices_take_the_path() {
        let dev = Device::flex();
        let x = Tensor::<5>::zeros([1, 1, 2, 2, 2], &dev);
        assert!(flex_conv_supported(
            &x,
            &Tensor::<5>::zeros([1, 1, 3, 3, 3], &dev)
        ));
        assert!(!flex_conv_supported(
            &x,
            &Tensor::<5>::zeros([1, 1, 2, 2, 2], &dev)
        ));
        assert!(is_flex(&dev.clone().autodiff()));
    }
}
