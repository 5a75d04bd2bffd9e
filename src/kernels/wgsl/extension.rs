//! The burn backend extension exposing the WGSL kernels (Cube + Fusion, plus Autodiff for the
//! fused forward op).
//!
//! `Conv3dWgslOps::conv3d_wgsl` is the differentiable entry point; `Conv3dWgslGrads` holds the
//! backward kernels that the autodiff implementation (autodiff.rs) calls on the inner backend.

use burn::backend::{Backend, backend_extension, tensor::FloatTensor};
use burn::tensor::Shape;
use burn_cubecl::CubeBackend;

use super::{launch, launch_grads};
use crate::kernels::activation::Activation;

/// `[n, co, d, h, w]` from `x: [n, ci, d, h, w]` and `weight: [co, ci, k, k, k]`.
pub(crate) fn conv_out_shape(x: &Shape, weight: &Shape) -> Shape {
    Shape::from([x[0], weight[0], x[2], x[3], x[4]])
}

/// `[n, ci, d, h, w]` from `dy: [n, co, d, h, w]` and `weight: [co, ci, k, k, k]`.
pub(crate) fn input_grad_shape(dy: &Shape, weight: &Shape) -> Shape {
    Shape::from([dy[0], weight[1], dy[2], dy[3], dy[4]])
}

/// `[co, ci, k, k, k]` from `dy: [n, co, ..]` and `x: [n, ci, ..]`.
pub(crate) fn weight_shape(dy: &Shape, x: &Shape, k: &usize) -> Shape {
    Shape::from([dy[1], x[1], *k, *k, *k])
}

/// `[2 * co]` from `dy: [n, co, ..]`.
pub(crate) fn sums_shape(dy: &Shape) -> Shape {
    Shape::from([2 * dy[1]])
}

/// The fused convolution as a backend operation.
#[backend_extension(Cube, Fusion, Autodiff)]
pub trait Conv3dWgslOps: Backend {
    /// `act((conv3d(x, weight) + bias) * scale + shift)`, stride 1, same padding.
    #[fusion(dtype = x, shape = conv_out_shape(x, weight))]
    fn conv3d_wgsl(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        act: Activation,
    ) -> FloatTensor<Self>;
}

/// Backward kernels of the fused convolution (not differentiable themselves).
#[backend_extension(Cube, Fusion)]
pub trait Conv3dWgslGrads: Backend {
    /// `conv_transpose(dy * act'(y) * scale, weight)`: the gradient w.r.t. `x`.
    #[fusion(dtype = dy, shape = input_grad_shape(dy, weight))]
    fn conv3d_wgsl_input_grad(
        dy: FloatTensor<Self>,
        y: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        act: Activation,
    ) -> FloatTensor<Self>;

    /// `sum over voxels of (dy * act'(y) * scale) x shifted x`: the gradient w.r.t. the weight.
    #[fusion(dtype = dy, shape = weight_shape(dy, x, k))]
    fn conv3d_wgsl_weight_grad(
        dy: FloatTensor<Self>,
        y: FloatTensor<Self>,
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        act: Activation,
        k: usize,
    ) -> FloatTensor<Self>;

    /// `[2 * co]`: per channel `sum(dy * act'(y))`, then `sum(dy * act'(y) * u)` when `has_u`
    /// (zeros otherwise; `u` is then ignored).
    #[fusion(dtype = dy, shape = sums_shape(dy))]
    fn conv3d_wgsl_channel_sums(
        dy: FloatTensor<Self>,
        y: FloatTensor<Self>,
        u: FloatTensor<Self>,
        has_u: bool,
        act: Activation,
    ) -> FloatTensor<Self>;
}

impl Conv3dWgslOps for CubeBackend {
    fn conv3d_wgsl(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        act: Activation,
    ) -> FloatTensor<Self> {
        launch::forward(x, weight, bias, scale, shift, act)
    }
}

impl Conv3dWgslGrads for CubeBackend {
    fn conv3d_wgsl_input_grad(
        dy: FloatTensor<Self>,
        y: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        act: Activation,
    ) -> FloatTensor<Self> {
        launch::input_grad(dy, y, weight, scale, act)
    }

    fn conv3d_wgsl_weight_grad(
        dy: FloatTensor<Self>,
        y: FloatTensor<Self>,
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        act: Activation,
        k: usize,
    ) -> FloatTensor<Self> {
        launch_grads::weight_grad(dy, y, x, scale, act, k)
    }

    fn conv3d_wgsl_channel_sums(
        dy: FloatTensor<Self>,
        y: FloatTensor<Self>,
        u: FloatTensor<Self>,
        has_u: bool,
        act: Activation,
    ) -> FloatTensor<Self> {
        launch_grads::channel_sums(dy, y, has_u.then_some(u), act)
    }
}
