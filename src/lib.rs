//! unet3d: a 3D U-Net for volumetric medical image segmentation on burn (wgpu + flex).

pub mod backend;
pub mod bench;
pub mod cli;
pub mod cv;
pub mod data;
pub mod error;
pub mod infer;
pub mod kernels;
pub mod metrics;
pub mod model;
pub mod plot;
pub mod report;
pub mod run;
pub mod train;
pub mod util;

pub use error::{Error, Result};
