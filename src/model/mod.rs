//! The 3D U-Net on burn, written once for every plan: Çiçek et al. 2016's (max pooling, channels
//! doubling within a level) and nnU-Net's `PlainConvUNet` (strided convolutions, per-stage
//! channels and kernels) are two configurations of it. Configuration and presets, building blocks, the
//! network, max pooling, the matmul up-convolution, the spacing-aware pooling plan, and size/cost
//! statistics.

pub mod blocks;
pub mod config;
pub mod norm;
pub mod plan;
pub mod pool;
pub mod stats;
pub mod unet;
pub mod upsample;

#[cfg(test)]
mod gradcheck;
#[cfg(test)]
mod norm_tests;
#[cfg(test)]
mod wgsl_equivalence;

pub use blocks::{ConvBlock, ConvBlockConfig, ConvSpec, DoubleConv, NormLayer, UpBlock};
pub use config::{
    Activation, Downsample, MAX_DEPTH, MAX_KERNEL, Norm, PRESETS, UNet3dConfig, UpConvWidth,
};
pub use plan::{MIN_POOLED_SIZE, check_divisible, pooling_plan, required_divisor};
pub use pool::max_pool3d;
pub use stats::{ModelStats, model_stats, summary};
pub use unet::UNet3d;
pub use upsample::up_conv3d;
