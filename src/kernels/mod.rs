//! Hand-written WGSL conv3d kernels for the wgpu backend: a tiled forward convolution with a
//! fused bias / scale / shift / activation epilogue, and its backward (input gradient, weight
//! gradient, per-channel sums), plugged into burn as a backend extension with autodiff. On flex
//! the same function runs our CPU conv, forward and backward (`flex_conv`, `cpu_conv_forward`,
//! `cpu_weight_grad`, `cpu_unfold`: unfolded row bands + GEMM), and InstanceNorm + activation
//! run as one op (`flex_norm_act`, `cpu_instance_norm`); elsewhere burn's own ops.
//!
//! Entry points: [`conv3d_fused`], [`conv3d_fused_reference`], [`fold_batchnorm`] and
//! [`KernelChoice`]; `unet3d bench` ([`crate::bench`]) times them against burn's conv3d.
//!
//! The model's [`ConvBlock`](crate::model::ConvBlock) calls [`conv3d_fused_with`] on wgpu devices
//! when its config says `kernels = "wgsl"` (the default): in training conv + bias fused, then the
//! norm; at inference BatchNorm folded by [`fold_batchnorm`] into the epilogue, so conv + bias +
//! norm + activation is one dispatch.
//!
//! Layout: `direct_*` (forward and input-gradient kernel), `weight_grad_kernel` (weight
//! gradient, slice sums, channel sums), `launch*` (dispatch on `CubeBackend`), `extension` +
//! `autodiff` (burn integration), `api` (checks and fallback), `plan` (sizes and grids).

pub mod activation;
pub mod api;
pub mod autodiff;
pub mod cpu_conv_forward;
pub mod cpu_instance_norm;
pub mod cpu_unfold;
pub mod cpu_weight_grad;
pub mod direct_kernel;
pub mod direct_tiling;
pub mod extension;
pub mod flex_conv;
pub mod flex_norm_act;
pub mod launch;
pub mod launch_grads;
pub mod plan;
pub mod reference;
pub mod weight_grad_kernel;

#[cfg(test)]
pub(crate) mod tests;

pub use activation::Activation;
pub use api::{
    KernelChoice, conv3d_fused, conv3d_fused_with, own_kernels_available, wgsl_available,
};
pub use flex_conv::{conv3d_flex, flex_conv_supported};
pub use flex_norm_act::{instance_norm_act_flex, instance_norm_act_supported};
pub use reference::{conv3d_fused_reference, fold_batchnorm};
