//! The project's own conv3d kernels, one implementation per backend, behind one entry point:
//!
//! - [`wgsl`]: hand-written WGSL shaders for the wgpu backend (a tiled forward convolution with a
//!   fused bias / scale / shift / activation epilogue, and its backward: input gradient, weight
//!   gradient, per-channel sums), plugged into burn as a backend extension with autodiff;
//! - [`cpu`]: the CPU conv for flex (row bands unfolded for the z and y taps + one GEMM per x tap,
//!   forward and backward) and InstanceNorm + activation as one op with a closed-form backward;
//! - at the root: [`api`] (checks, the choice of implementation and the fallback to burn's ops),
//!   [`reference`] (the same computation in burn's ops: what every kernel is tested against),
//!   [`activation`] (the epilogue's activations), [`reduce`] (multi-axis sums that stay exact on
//!   wgpu, where burn's long single-axis reductions drop elements).
//!
//! Entry points: [`conv3d_fused`], [`conv3d_fused_reference`], [`fold_batchnorm`],
//! [`KernelChoice`] and [`ConvImpl`]; `unet3d bench` ([`crate::bench`]) times them against burn's
//! conv3d. The model's [`ConvBlock`](crate::model::ConvBlock) decides its [`ConvImpl`] once, at
//! init, from its config's `kernels` and the device.

pub mod activation;
pub mod api;
pub mod cpu;
pub mod reduce;
pub mod reference;
pub mod selfcheck;
pub mod wgsl;

#[cfg(test)]
pub(crate) mod tests;

pub use activation::Activation;
pub use api::{
    ConvImpl, KernelChoice, conv3d_fused, conv3d_fused_as, conv3d_fused_with,
    own_kernels_available, wgsl_available,
};
pub use cpu::flex_concat::concat_channels;
pub use cpu::flex_conv::{conv3d_flex, flex_conv_supported};
pub use cpu::flex_max_pool::{max_pool_flex_supported, max_pool3d_flex};
pub use cpu::flex_norm_act::{instance_norm_act_flex, instance_norm_act_supported};
pub use cpu::flex_softmax::softmax_channels;
pub use cpu::flex_up_conv::{up_conv_flex_supported, up_conv3d_flex};
pub use reference::{conv3d_fused_reference, fold_batchnorm};
