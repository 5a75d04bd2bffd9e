//! Checkpoints: model weights, optimiser state and the training state (step, best score), written as
//! one folder that appears atomically (written beside, then renamed into place). The data RNG needs no
//! state of its own: batch `n` is always drawn from `Rng::new(seed).fork(n)`, so the step is enough to
//! continue exactly.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::UNet3d;
use crate::util::fsio;

pub const MODEL_FILE: &str = "model.bpk";
pub const OPTIM_FILE: &str = "optimizer.bpk";
pub const STATE_FILE: &str = "state.json";

/// Where training stands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainState {
    /// Iterations completed.
    pub step: usize,
    /// Best mean foreground validation Dice so far and the step it was reached at.
    pub best_dice: Option<f64>,
    pub best_step: Option<usize>,
    /// Seconds spent training before this checkpoint (summed over resumes).
    pub elapsed_s: f64,
}

/// Writes `dir` (e.g. `RUN/checkpoints/last`) atomically: a sibling temp folder, then renamed. Pass the
/// model through `valid()` first: that folds pending BatchNorm running-statistics updates in.
pub fn save(
    dir: &Path,
    model: &UNet3d,
    optim: Option<&ModuleOptimizer>,
    state: &TrainState,
) -> Result<()> {
    let tmp = sibling(dir, "tmp");
    let old = sibling(dir, "old");
    let _ = fs::remove_dir_all(&tmp);
    fsio::create_dir(&tmp)?;
    let model_bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| Error::Backend(format!("serialising the model: {e}")))?;
    fsio::write_atomic(&tmp.join(MODEL_FILE), &model_bytes)?;
    if let Some(optim) = optim {
        let bytes = optim
            .into_bytes()
            .map_err(|e| Error::Backend(format!("serialising the optimiser: {e}")))?;
        fsio::write_atomic(&tmp.join(OPTIM_FILE), &bytes)?;
    }
    let json = serde_json::to_string_pretty(state).expect("state serialises");
    fsio::write_atomic(&tmp.join(STATE_FILE), json.as_bytes())?;
    let _ = fs::remove_dir_all(&old);
    if dir.exists() {
        fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
    }
    fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// Loads the weights of a checkpoint folder (or a `.bpk` file) into `model`.
pub fn load_model(path: &Path, model: UNet3d) -> Result<UNet3d> {
    let file = if path.is_dir() {
        path.join(MODEL_FILE)
    } else {
        path.to_path_buf()
    };
    let bytes = fsio::read(&file)?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| Error::invalid(&file, format!("not a model checkpoint: {e}")))?;
    model
        .try_load_record(record)
        .map_err(|e| Error::invalid(&file, format!("weights do not fit the model config: {e}")))
}

/// Loads the optimiser state saved in a checkpoint folder.
pub fn load_optimizer(dir: &Path, optim: ModuleOptimizer) -> Result<ModuleOptimizer> {
    let file = dir.join(OPTIM_FILE);
    let bytes = fsio::read(&file)?;
    optim
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| Error::invalid(&file, format!("not an optimiser state: {e}")))
}

pub fn load_state(dir: &Path) -> Result<TrainState> {
    let file = dir.join(STATE_FILE);
    let text = fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::invalid(&file, format!("not a training state: {e}")))
}

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!(".{name}.{tag}"))
}
