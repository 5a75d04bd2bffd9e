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

/// One fold of the semi-automated protocol: every `slices`-th slice per orientation annotated,
/// the annotated slices dealt to `folds` folds, this run holding out fold `fold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparseFold {
    pub slices: usize,
    pub folds: usize,
    pub fold: usize,
}

/// The version of the run-folder format this build writes (`format_version` in `config.json` and
/// `run.json`). Files without one are version 0 (written before it was recorded) and load; a
/// newer version is refused by name.
pub const FORMAT_VERSION: u32 = 1;

/// Errors when `found` is newer than this build reads.
pub fn check_format_version(path: &Path, found: u32) -> Result<()> {
    if found > FORMAT_VERSION {
        return Err(Error::invalid(
            path,
            format!(
                "was written by a newer unet3d (format version {found}); this build reads up to \
                 version {FORMAT_VERSION}: update unet3d"
            ),
        ));
    }
    Ok(())
}

/// Everything a training run depends on. Every field with a sensible default has one (the
/// behaviour from before the field existed), so a `config.json` from an earlier version loads;
/// only `model` (channels and classes) and `iterations` are required.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "TrainConfigFile")]
pub struct TrainConfig {
    /// The run-folder format this config was written in ([`FORMAT_VERSION`] when saved).
    pub format_version: u32,
    /// Name of the preset this config started from (informational; "custom" when none).
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
    /// The paper's semi-automated protocol: train on the annotated slices of the other folds
    /// only (set by `unet3d cv --protocol semi`; see `train::sparse::semi_fold_masks`).
    pub sparse_fold: Option<SparseFold>,
    /// Choose the model's pooling kernels from the target spacing at the start of training (nnU-Net's
    /// rule: thick slices are not pooled until the voxels are roughly isotropic). Switched off once
    /// applied, so the saved config holds the plan that was used.
    pub plan_pooling: bool,
}

/// `TrainConfig` as a file may hold it: everything but the model and the iteration budget is
/// optional.
#[derive(Deserialize)]
struct TrainConfigFile {
    format_version: Option<u32>,
    preset: Option<String>,
    model: UNet3dConfig,
    #[serde(default)]
    preprocess: PreprocessConfig,
    #[serde(default)]
    sampler: SamplerConfig,
    #[serde(default)]
    augment: AugmentConfig,
    #[serde(default)]
    loss: LossConfig,
    #[serde(default)]
    optim: OptimConfig,
    inference: Option<SlidingWindowConfig>,
    iterations: usize,
    val_every: Option<usize>,
    val_cases: Option<usize>,
    seed: Option<u64>,
    workers: Option<usize>,
    sparse_slices: Option<usize>,
    sparse_fold: Option<SparseFold>,
    #[serde(default)]
    plan_pooling: bool,
}

impl From<TrainConfigFile> for TrainConfig {
    fn from(f: TrainConfigFile) -> Self {
        let inference = f.inference.unwrap_or_else(|| SlidingWindowConfig {
            patch: f.sampler.patch,
            ..SlidingWindowConfig::default()
        });
        TrainConfig {
            format_version: f.format_version.unwrap_or(0),
            preset: f.preset.unwrap_or_else(|| "custom".into()),
            model: f.model,
            preprocess: f.preprocess,
            sampler: f.sampler,
            augment: f.augment,
            loss: f.loss,
            optim: f.optim,
            inference,
            iterations: f.iterations,
            val_every: f.val_every.unwrap_or((f.iterations / 5).max(1)),
            val_cases: f.val_cases,
            seed: f.seed.unwrap_or(42),
            workers: f.workers.unwrap_or(2),
            sparse_slices: f.sparse_slices,
            sparse_fold: f.sparse_fold,
            plan_pooling: f.plan_pooling,
        }
    }
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
        let mut cfg: TrainConfig = toml::from_str(text)
            .map_err(|e| Error::config(format!("assets/presets/{name}.toml: {e}")))?;
        cfg.format_version = FORMAT_VERSION;
        Ok(cfg)
    }

    /// Reads a full config from TOML or JSON (by extension).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        };
        let mut cfg: TrainConfig =
            parsed.map_err(|e| Error::invalid(path, format!("not a training config: {e}")))?;
        check_format_version(path, cfg.format_version)?;
        cfg.format_version = FORMAT_VERSION;
        cfg.validate_for_planning()?;
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

    /// [`TrainConfig::validate`], or without the patch check while the pooling plan is still to
    /// be computed from the data.
    pub fn validate_for_planning(&self) -> Result<()> {
        if self.plan_pooling {
            self.validate_settings()
        } else {
            self.validate()
        }
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises to TOML")
    }

    /// Every check: [`TrainConfig::validate_settings`] and that the patches fit the pooling plan.
    pub fn validate(&self) -> Result<()> {
        self.validate_settings()?;
        crate::model::check_divisible(self.sampler.patch, &self.model.pool_kernels)?;
        crate::model::check_divisible(self.inference.patch, &self.model.pool_kernels)?;
        Ok(())
    }

    /// Every check except the patch against the pooling plan: while `plan_pooling` is set, the
    /// plan that counts is computed from the data when training starts
    /// ([`TrainConfig::apply_pooling_plan`] checks the patch against it then).
    pub fn validate_settings(&self) -> Result<()> {
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
        if let Some(f) = self.sparse_fold
            && (f.slices == 0 || f.folds < 2 || f.fold >= f.folds)
        {
            return Err(Error::config(format!(
                "sparse_fold needs slices >= 1, folds >= 2 and fold < folds, got {f:?}"
            )));
        }
        self.sampler.validate()?;
        self.model.validate()?;
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

    #[test]
    fn the_patch_is_checked_against_the_plan_computed_from_the_data() {
        let mut c = TrainConfig::preset("tiny").unwrap();
        c.sampler.patch = [6, 32, 32];
        c.inference.patch = [6, 32, 32];
        // The preset's 2×2×2 plan cannot take 6 slices, but that plan is not the one that counts.
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("[[2, 2, 2], [2, 2, 2]]"), "{err}");
        c.validate_for_planning().unwrap();
        // 3 mm slices are not pooled: the computed plan takes the patch.
        c.apply_pooling_plan([0.5, 0.5, 3.0]).unwrap();
        assert_eq!(c.model.pool_kernels, [[1, 2, 2], [1, 2, 2]]);
    }
}
