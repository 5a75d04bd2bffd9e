//! A cross-validation folder: the split (written once, nnU-Net's `splits_final.json` layout),
//! one ordinary run folder per fold, the summary, and the post-processing decision pooled over
//! the folds.
//!
//! ```text
//! CVDIR/splits.json          [{"train": [ids], "val": [ids]}, …] — never rewritten
//! CVDIR/cv.json              what was run: protocol, folds, config (for --resume)
//! CVDIR/fold_K/              a run folder whose validation cases are fold K's held-out cases
//! CVDIR/fold_K/eval/         that fold's held-out cases evaluated
//! CVDIR/cv_summary.json      per fold and pooled results;  CVDIR/cv.md the same for people
//! CVDIR/postprocessing.json  the post-processing decision from all folds' held-out cases
//! ```

use std::path::{Path, PathBuf};

use super::layout::RunDir;

/// A cross-validation folder and the paths inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CvDir {
    pub root: PathBuf,
}

impl CvDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        CvDir { root: root.into() }
    }

    pub fn splits(&self) -> PathBuf {
        self.root.join("splits.json")
    }

    pub fn plan(&self) -> PathBuf {
        self.root.join("cv.json")
    }

    pub fn fold(&self, k: usize) -> RunDir {
        RunDir::new(self.root.join(format!("fold_{k}")))
    }

    pub fn fold_eval(&self, k: usize) -> PathBuf {
        self.fold(k).root.join("eval")
    }

    pub fn summary(&self) -> PathBuf {
        self.root.join("cv_summary.json")
    }

    pub fn markdown(&self) -> PathBuf {
        self.root.join("cv.md")
    }

    /// Whether `path` is a cross-validation folder (it holds `splits.json`).
    pub fn is_cv(path: &Path) -> bool {
        CvDir::new(path).splits().is_file()
    }

    /// The folds that have a trained model (a final or best checkpoint), in order.
    pub fn trained_folds(&self) -> Vec<usize> {
        let mut folds: Vec<usize> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("fold_")?.parse().ok())
            .filter(|&k| {
                let f = self.fold(k);
                f.last().join("model.bpk").is_file() || f.best().join("model.bpk").is_file()
            })
            .collect();
        folds.sort_unstable();
        folds
    }
}
