//! The loss settings of a run (`config.json`'s `loss`); the loss itself is `crate::train::loss`.

use serde::{Deserialize, Serialize};

/// Loss settings (saved with every run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LossConfig {
    /// Weight of the cross-entropy term.
    pub ce_weight: f64,
    /// Weight of the soft-Dice term.
    pub dice_weight: f64,
    /// Per-class cross-entropy weights (length = classes); `None` = all 1.
    pub class_weights: Option<Vec<f32>>,
    /// Dice over the whole batch (nnU-Net's batch Dice) instead of per sample.
    pub batch_dice: bool,
    /// Include background in the Dice term.
    pub dice_include_background: bool,
    /// Label value whose voxels are ignored by the loss and the metrics.
    pub ignore_label: u8,
    /// Smoothing added to Dice numerator and denominator.
    pub smooth: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            ce_weight: 1.0,
            dice_weight: 1.0,
            class_weights: None,
            batch_dice: true,
            dice_include_background: false,
            ignore_label: 255,
            smooth: 1e-5,
        }
    }
}
