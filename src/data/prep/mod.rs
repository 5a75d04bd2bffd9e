//! Training-time preparation: nnU-Net-style preprocessing (crop, resample, z-score) and its on-disk
//! cache, resampling, foreground-aware patch sampling, augmentation, and the loader that runs the
//! last two on worker threads.

pub mod augment;
pub mod cache;
mod crop;
pub mod intensity;
pub mod loader;
pub mod preprocess;
pub mod resample;
pub mod sampler;
