//! The sliding-window settings of a run (`config.json`'s `inference`), used by validation and
//! `predict`; the sliding window itself is `crate::infer::sliding_window`.

use serde::{Deserialize, Serialize};

/// Sliding-window inference settings (saved with every run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlidingWindowConfig {
    /// Window size `[D, H, W]` (the training patch).
    pub patch: [usize; 3],
    /// Step between windows as a fraction of the patch (0.5 = half-overlapping).
    pub step: f64,
    /// Gaussian σ as a fraction of the patch size.
    pub sigma_scale: f64,
    /// Windows per forward pass.
    pub batch: usize,
    /// Tensor axes to mirror for test-time augmentation (2 = D, 3 = H, 4 = W); every combination is averaged.
    pub mirror_axes: Vec<usize>,
}

impl Default for SlidingWindowConfig {
    fn default() -> Self {
        SlidingWindowConfig {
            patch: [16, 64, 64],
            step: 0.5,
            sigma_scale: 0.125,
            batch: 2,
            mirror_axes: vec![],
        }
    }
}
