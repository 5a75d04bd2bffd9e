//! Everything a training run depends on, in one serialisable struct: saved as `RUN/config.json`, loadable
//! from TOML (`--config FILE.toml`), with named presets for the paper, laptops, the demo and CI. The
//! settings of each stage (loss, optimiser, sliding window) are defined here so the run folder can
//! describe them without importing the stages that use them.

use std::path::Path;

use serde::{Deserialize, Serialize};

mod inference;
mod loss;
pub mod optim;

pub use inference::SlidingWindowConfig;
pub use loss::LossConfig;
pub use optim::{Decay, OptimConfig, OptimizerKind};

use crate::data::prep::augment::AugmentConfig;
use crate::data::prep::preprocess::PreprocessConfig;
use crate::data::prep::sampler::SamplerConfig;
use crate::error::{Error, Result};
use crate::model::UNet3dConfig;

pub const PRESETS: &[&str] = &["paper", "small", "demo", "tiny"];

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Name of the preset this config started from (informational).
    pub preset: String,
    pub model: UNet3dConfig,
    pub preprocess: PreprocessConfig,
    pub sampler: SamplerConfig,
    pub augment: AugmentConfig,
    pub loss: LossConfig,
    pub optim: OptimConfig,
    /// Sliding-window settings for validation (its patch follows the sampler's).
    pub inference: SlidingWindowConfig,
    /// Training iterations (optimiser steps).
    pub iterations: usize,
    /// Validate (and maybe keep a new best model) every this many iterations, and at the end.
    pub val_every: usize,
    /// Validate on at most this many validation cases (all when `None`).
    pub val_cases: Option<usize>,
    /// Seed for weights, sampling and augmentation.
    pub seed: u64,
    /// Data-loading worker threads.
    pub workers: usize,
    /// Keep labels on every K-th slice per orientation only (the paper's sparse annotation).
    pub sparse_slices: Option<usize>,
    /// Choose the model's pooling kernels from the target spacing at the start of training (nnU-Net's
    /// rule: thick slices are not pooled until the voxels are roughly isotropic). Switched off once
    /// applied, so the saved config holds the plan that was used.
    #[serde(default)]
    pub plan_pooling: bool,
}

impl TrainConfig {
    /// A named preset: `paper` (the paper's net), `small` (laptops), `demo` (the 10-minute CPU demo),
    /// `tiny` (CI smoke runs). Each is a complete, commented config in `assets/presets/` (embedded
    /// at build time), for users to read and copy.
    pub fn preset(name: &str) -> Result<Self> {
        let text = match name {
            "paper" => include_str!("../../../assets/presets/paper.toml"),
            "small" => include_str!("../../../assets/presets/small.toml"),
            "demo" => include_str!("../../../assets/presets/demo.toml"),
            "tiny" => include_str!("../../../assets/presets/tiny.toml"),
            other => {
                return Err(Error::config(format!(
                    "unknown preset {other:?}; valid presets: {}",
                    PRESETS.join(", ")
                )));
            }
        };
        toml::from_str(text).map_err(|e| Error::config(format!("assets/presets/{name}.toml: {e}")))
    }

    /// Reads a full config from TOML or JSON (by extension).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        };
        let cfg: TrainConfig =
            parsed.map_err(|e| Error::invalid(path, format!("not a training config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Applies nnU-Net's pooling rule for `target_spacing` (i, j, k = x, y, z) when `plan_pooling` is set.
    pub fn apply_pooling_plan(&mut self, target_spacing: [f64; 3]) -> Result<()> {
        if !self.plan_pooling {
            return Ok(());
        }
        let zyx = [target_spacing[2], target_spacing[1], target_spacing[0]];
        let plan = crate::model::pooling_plan(zyx, self.sampler.patch, self.model.depth);
        if plan.len() == self.model.depth {
            self.model = self.model.clone().with_plan(plan);
        } else {
            log::warn!(
                "patch {:?} allows only {} poolings at spacing {zyx:?}; keeping the configured plan",
                self.sampler.patch,
                plan.len()
            );
        }
        self.plan_pooling = false;
        self.validate()
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises to TOML")
    }

    pub fn validate(&self) -> Result<()> {
        self.optim.validate()?;
        if self.iterations == 0 || self.val_every == 0 {
            return Err(Error::config("iterations and val_every must be >= 1"));
        }
        if self.sampler.batch_size == 0 {
            return Err(Error::config("batch size must be >= 1"));
        }
        if self.sparse_slices == Some(0) {
            return Err(Error::config("sparse_slices must be >= 1"));
        }
        self.sampler.validate()?;
        self.model.validate()?;
        crate::model::check_divisible(self.sampler.patch, &self.model.pool_kernels)?;
        crate::model::check_divisible(self.inference.patch, &self.model.pool_kernels)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_round_trip_through_toml() {
        for name in PRESETS {
            let c = TrainConfig::preset(name).unwrap();
            c.validate().unwrap();
            let back: TrainConfig = toml::from_str(&c.to_toml()).unwrap();
            assert_eq!(
                serde_json::to_value(&back).unwrap(),
                serde_json::to_value(&c).unwrap()
            );
        }
        let demo = TrainConfig::preset("demo").unwrap();
        assert_eq!(
            (demo.iterations, demo.val_every, demo.val_cases),
            (1000, 250, Some(2))
        );
        assert_eq!(demo.model.base_channels, 8);
        assert_eq!(demo.model.up_conv_width, crate::model::UpConvWidth::Skip);
        assert_eq!(demo.preprocess.target_spacing, Some([1.25, 1.25, 3.0]));
        assert_eq!(demo.sampler.patch, [16, 40, 40]);
        assert_eq!(demo.sampler.foreground_fraction, 2.0 / 3.0);
        assert!(demo.model.deep_supervision && demo.plan_pooling);
        assert!(
            TrainConfig::preset("huge")
                .unwrap_err()
                .to_string()
                .contains("valid presets")
        );
    }
}
