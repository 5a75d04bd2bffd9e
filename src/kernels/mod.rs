//! Hand-written WGSL conv3d kernels for the wgpu backend: a tiled forward convolution with a
//! fused bias / scale / shift / activation epilogue, and its backward (input gradient, weight
//! gradient, per-channel sums), plugged into burn as a backend extension with autodiff. On
//! other devices (flex) the same function runs burn's own ops.
//!
//! Entry points: [`conv3d_fused`], [`conv3d_fused_reference`], [`fold_batchnorm`],
//! [`KernelChoice`], and [`bench::bench_conv3d`].

pub mod activation;
pub mod api;
pub mod autodiff;
pub mod bench;
pub mod direct_kernel;
pub mod direct_tiling;
pub mod extension;
pub mod launch;
pub mod plan;
pub mod reference;
pub mod weight_grad_kernel;

#[cfg(test)]
mod tests;

pub use activation::Activation;
pub use api::{KernelChoice, conv3d_fused, conv3d_fused_with, wgsl_available};
pub use reference::{conv3d_fused_reference, fold_batchnorm};
