//! Validation during training: the sliding window of `predict` on each preprocessed validation
//! case, then Dice per foreground class (ignore-labelled voxels excluded), averaged over cases.
//! The raw prediction is scored, without post-processing: whether to post-process is decided
//! from these cases once training ends (`decide`), and nnU-Net's trainer validates raw too.

use burn::tensor::Device;

use crate::data::labels::{Counts, argmax};
use crate::data::prep::preprocess::Preprocessed;
use crate::error::Result;
use crate::infer::predict_probabilities;
use crate::model::UNet3d;
use crate::run::TrainConfig;

/// Mean validation Dice per foreground class.
pub fn validate(
    model: &UNet3d,
    cases: &[Preprocessed],
    cfg: &TrainConfig,
    classes: usize,
    device: &Device,
) -> Result<Vec<f64>> {
    let mut sums = vec![0.0; classes - 1];
    for case in cases {
        let [nx, ny, nz] = case.dims;
        let probs = predict_probabilities(
            model,
            &case.image,
            [nz, ny, nx],
            classes,
            &cfg.inference,
            device,
        )?;
        let pred = argmax(&probs);
        for (c, s) in sums.iter_mut().enumerate() {
            *s += Counts::of(&pred, &case.label, c as u8 + 1, Some(cfg.loss.ignore_label)).dice();
        }
    }
    Ok(sums.iter().map(|s| s / cases.len().max(1) as f64).collect())
}
