//! Hand-written WGSL conv3d kernels for the wgpu backend: a tiled forward convolution with a
//! fused bias / scale / shift / activation epilogue, and its backward (input gradient, weight
//! gradient, per-channel sums), plugged into burn as a backend extension with autodiff. On
//! other devices (flex) the same function runs burn's own ops.
//!
//! Entry points: [`conv3d_fused`], [`conv3d_fused_reference`], [`fold_batchnorm`],
//! [`KernelChoice`], and [`bench::bench_conv3d`].
//!
//! A model's conv block calls, with `choice` from its config:
//! ```ignore
//! // training (a batch-statistics norm follows, so only bias [+ activation] is fused):
//! let y = conv3d_fused_with(choice, x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()),
//!                           None, None, Activation::Identity)?;
//! // inference with BatchNorm folded into the epilogue:
//! let (s, t) = fold_batchnorm(bn.gamma.val(), bn.beta.val(), bn.running_mean.value(),
//!                             bn.running_var.value(), bn.epsilon);
//! let y = conv3d_fused_with(choice, x, w, b, Some(s), Some(t), Activation::Relu)?;
//! ```
//!
//! Layout: `direct_*` (forward and input-gradient kernel), `weight_grad_kernel` (weight
//! gradient, slice sums, channel sums), `launch*` (dispatch on `CubeBackend`), `extension` +
//! `autodiff` (burn integration), `api` (checks and fallback), `plan` (sizes and grids).

pub mod activation;
pub mod api;
pub mod autodiff;
pub mod bench;
pub mod direct_kernel;
pub mod direct_tiling;
pub mod extension;
pub mod launch;
pub mod launch_grads;
pub mod plan;
pub mod reference;
pub mod weight_grad_kernel;

#[cfg(test)]
mod tests;

pub use activation::Activation;
pub use api::{KernelChoice, conv3d_fused, conv3d_fused_with, wgsl_available};
pub use reference::{conv3d_fused_reference, fold_batchnorm};
