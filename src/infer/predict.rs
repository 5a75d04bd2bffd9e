//! Whole-scan prediction with a trained run: the run's preprocessing (crop, resample, z-score) →
//! sliding-window network → probabilities back onto the native grid → arg-max → optional
//! largest-component clean-up. The output lies on exactly the input grid.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;

use super::postprocess::{PostprocessChoice, Postprocessing};
use super::sliding_window::predict_probabilities;
use crate::backend::Backend;
use crate::data::labels::argmax;
use crate::data::prep::preprocess;
use crate::data::{Image, LabelMap};
use crate::error::Result;
use crate::model::UNet3d;
use crate::run::{LoadedRun, RunInfo, TrainConfig};

#[derive(Clone, Debug, Default)]
pub struct PredictOptions {
    /// Mirror test-time augmentation: the prediction of the input averaged with those of its
    /// mirror images along the axes the training augmentation flipped (see [`tta_axes`]).
    pub mirror_tta: bool,
    /// nnU-Net models mirror over their checkpoint's axes unless this is set (nnUNetv2_predict's
    /// `--disable_tta`).
    pub disable_nnunet_tta: bool,
    /// Post-processing: the decision recorded with the model (default), none, or the largest
    /// connected component of every class.
    pub postprocess: PostprocessChoice,
}

/// Seconds spent in each stage of one prediction.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Timings {
    pub preprocess_s: f64,
    pub network_s: f64,
    pub restore_s: f64,
    pub postprocess_s: f64,
}

impl Timings {
    pub fn total(&self) -> f64 {
        self.preprocess_s + self.network_s + self.restore_s + self.postprocess_s
    }
}

/// A trained model ready to segment scans.
pub struct Predictor {
    pub model: UNet3d,
    pub config: TrainConfig,
    pub info: RunInfo,
    pub run: PathBuf,
    /// The checkpoint folder or file the weights came from.
    pub weights: PathBuf,
    device: Device,
}

impl Predictor {
    /// Loads `RUN` (its final checkpoint, `checkpoints/last`) or a checkpoint folder /
    /// `model.bpk` inside a run (e.g. `RUN/checkpoints/best`).
    pub fn load(path: &Path, backend: &Backend) -> Result<Self> {
        let LoadedRun {
            model,
            config,
            info,
            run,
            weights,
        } = LoadedRun::open(path, backend)?;
        Ok(Predictor {
            model,
            config,
            info,
            run,
            weights,
            device: backend.device.clone(),
        })
    }

    pub fn classes(&self) -> usize {
        self.config.model.num_classes
    }

    /// Class probabilities of one scan on its native grid (one buffer per class, `i` fastest),
    /// after this model's test-time mirroring when `mirror_tta`.
    pub fn probabilities(
        &self,
        image: &Image,
        mirror_tta: bool,
    ) -> Result<(Vec<Vec<f32>>, Timings)> {
        let mut t = Timings::default();
        let clock = Instant::now();
        let (data, geom) =
            preprocess::preprocess_image(image, &self.config.preprocess, self.info.target_spacing)?;
        t.preprocess_s = clock.elapsed().as_secs_f64();

        let clock = Instant::now();
        let mut sw = self.config.inference.clone();
        if mirror_tta {
            sw.mirror_axes = tta_axes(&self.config);
        }
        let [nx, ny, nz] = geom.dims;
        let probs = predict_probabilities(
            &self.model,
            &data,
            [nz, ny, nx],
            self.classes(),
            &sw,
            &self.device,
        )?;
        t.network_s = clock.elapsed().as_secs_f64();

        let clock = Instant::now();
        let native = preprocess::restore_to_original(&probs, &geom);
        t.restore_s = clock.elapsed().as_secs_f64();
        Ok((native, t))
    }

    /// The post-processing decision recorded in this model's run folder, if any.
    pub fn recorded_postprocessing(&self) -> Result<Option<Postprocessing>> {
        Postprocessing::load(&self.run)
    }

    /// Segments one scan; the result has the scan's dims and affine (and NIfTI header, if any).
    pub fn predict(&self, image: &Image, opts: &PredictOptions) -> Result<(LabelMap, Timings)> {
        let (probs, mut t) = self.probabilities(image, opts.mirror_tta)?;
        let clock = Instant::now();
        let mut out: LabelMap = image.same_grid();
        out.data = argmax(&probs);
        t.restore_s += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        let plan = resolve_postprocessing(
            opts.postprocess,
            self.recorded_postprocessing()?,
            self.classes(),
        );
        plan.apply(&mut out.data, out.dims);
        t.postprocess_s = clock.elapsed().as_secs_f64();
        Ok((out, t))
    }
}

/// The post-processing a choice means for a model with `classes` classes (background included)
/// and the decision recorded with it.
pub fn resolve_postprocessing(
    choice: PostprocessChoice,
    recorded: Option<Postprocessing>,
    classes: usize,
) -> Postprocessing {
    let foreground: Vec<u8> = (1..classes as u8).collect();
    match choice {
        PostprocessChoice::None => Postprocessing::keep_all("--postprocess none"),
        PostprocessChoice::Largest => {
            Postprocessing::largest_for(&foreground, "--postprocess largest")
        }
        PostprocessChoice::Auto => recorded
            .unwrap_or_else(|| Postprocessing::keep_all("no decision recorded with the model")),
    }
}

/// The tensor axes test-time mirroring may flip: only those the network saw flipped in training.
/// Our augmentation mirrors left-right (x, tensor axis 4) only, because the pelvis is not
/// front-back symmetric; averaging in an upside-down view the model never saw would blur it.
pub fn tta_axes(config: &TrainConfig) -> Vec<usize> {
    if config.augment.mirror_x > 0.0 {
        vec![4]
    } else {
        vec![]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tta_flips_only_what_training_flipped() {
        let mut cfg = TrainConfig::preset("demo").unwrap();
        assert_eq!(tta_axes(&cfg), vec![4], "left-right only, never front-back");
        cfg.augment.mirror_x = 0.0;
        assert!(tta_axes(&cfg).is_empty());
    }
}
