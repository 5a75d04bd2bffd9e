//! The 3D U-Net (Çiçek et al. 2016) on burn: configuration and presets, building blocks, the
//! network, max pooling, the matmul up-convolution, the spacing-aware pooling plan, and size/cost
//! statistics.

pub mod blocks;
pub mod config;
pub mod plan;
pub mod pool;
pub mod stats;
pub mod unet;
pub mod upsample;

#[cfg(test)]
mod gradcheck;
#[cfg(test)]
mod wgsl_equivalence;

pub use blocks::{ConvBlock, ConvBlockConfig, DoubleConv, NormLayer, UpBlock};
pub use config::{Activation, MAX_DEPTH, Norm, PRESETS, UNet3dConfig, UpConvWidth};
pub use plan::{MIN_POOLED_SIZE, check_divisible, pooling_plan, required_divisor};
pub use pool::max_pool3d;
pub use stats::{ModelStats, model_stats, summary};
pub use unet::UNet3d;
pub use upsample::up_conv3d;
