//! Loading a run for inference: its config, its `run.json` and the weights of one checkpoint, on
//! the chosen backend, with the `--kernels` override applied (the kernel choice changes speed, not
//! results, so a run trained with one may predict with the other).

use std::path::{Path, PathBuf};

use super::checkpoint;
use super::config::TrainConfig;
use super::info::RunInfo;
use super::layout::RunDir;
use crate::backend::Backend;
use crate::error::Result;
use crate::model::UNet3d;

/// A trained model with everything needed to use it.
pub struct LoadedRun {
    pub model: UNet3d,
    pub config: TrainConfig,
    pub info: RunInfo,
    /// The run folder.
    pub run: PathBuf,
    /// The checkpoint folder or file the weights came from.
    pub weights: PathBuf,
}

impl LoadedRun {
    /// Loads `RUN` (its final checkpoint, see [`RunDir::locate`]) or a checkpoint folder /
    /// `model.bpk` inside a run (e.g. `RUN/checkpoints/best`) onto `backend`'s device.
    pub fn open(path: &Path, backend: &Backend) -> Result<Self> {
        let (run, weights) = RunDir::locate(path)?;
        let mut config = TrainConfig::load(&run.config())?;
        config.model.kernels = backend.kernels_for(config.model.kernels);
        let info = RunInfo::load(&run)?;
        let model = checkpoint::load_model(&weights, config.model.init(&backend.device)?)?;
        Ok(LoadedRun {
            model,
            config,
            info,
            run: run.root,
            weights,
        })
    }
}
