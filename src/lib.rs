//! unet3d: a 3D U-Net for volumetric medical image segmentation on burn (wgpu + flex).

pub mod backend;
pub mod cli;
pub mod data;
pub mod error;
pub mod infer;
/// Hand-written WGSL conv3d kernels (work in progress, not yet wired into the model): compiled and
/// tested only with `--features wgsl-kernels`.
#[cfg(feature = "wgsl-kernels")]
pub mod kernels;
pub mod metrics;
pub mod model;
pub mod report;
pub mod train;
pub mod util;

pub use error::{Error, Result};
