//! Every path inside a run folder, in one place, and how a path given by a user (a run folder, a
//! checkpoint folder, a `model.bpk`) resolves to a run and its weights.

use std::path::{Path, PathBuf};

use super::checkpoint::MODEL_FILE;
use crate::error::{Error, Result};

/// A run folder and the paths inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }

    /// `config.json`: the run's [`TrainConfig`](super::TrainConfig).
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }

    /// `run.json`: the run's [`RunInfo`](super::RunInfo).
    pub fn info(&self) -> PathBuf {
        self.root.join("run.json")
    }

    /// `metrics.jsonl`: the training log.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    /// `curves.png`: the training curves.
    pub fn curves(&self) -> PathBuf {
        self.root.join("curves.png")
    }

    /// `cache/`: preprocessed cases.
    pub fn cache(&self) -> PathBuf {
        self.root.join("cache")
    }

    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// The final (most recent) checkpoint, with the optimiser state for `--resume`.
    pub fn last(&self) -> PathBuf {
        self.checkpoints().join("last")
    }

    /// The best-validated checkpoint.
    pub fn best(&self) -> PathBuf {
        self.checkpoints().join("best")
    }

    /// Whether `path` is a run folder (it holds `config.json`).
    pub fn is_run(path: &Path) -> bool {
        RunDir::new(path).config().is_file()
    }

    /// Resolves a run folder or a checkpoint path to (run, weights). A run folder means its final
    /// model (`checkpoints/last`, else `checkpoints/best`), as nnU-Net predicts with
    /// `checkpoint_final`: with the learning rate decayed to zero it is the converged one, while the
    /// best-validated checkpoint is picked by a Dice on a few validation cases that moves ±0.02
    /// between evaluations. `RUN/checkpoints/<name>[/model.bpk]` means that checkpoint.
    pub fn locate(path: &Path) -> Result<(RunDir, PathBuf)> {
        if RunDir::is_run(path) {
            let run = RunDir::new(path);
            let last = run.last();
            let weights = if last.join(MODEL_FILE).exists() {
                last
            } else {
                run.best()
            };
            return Ok((run, weights));
        }
        let ckpt = if path.is_file() {
            path.parent().unwrap_or(path)
        } else {
            path
        };
        if let Some(run) = ckpt
            .parent()
            .and_then(Path::parent)
            .filter(|r| RunDir::is_run(r))
        {
            return Ok((RunDir::new(run), path.to_path_buf()));
        }
        Err(Error::invalid(
            path,
            "not a training run folder (no config.json) nor a checkpoint inside one",
        ))
    }
}
