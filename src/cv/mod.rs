//! Cross-validation, as nnU-Net and the paper report results: folds over the cases (stratified
//! by scanner style, nnU-Net's `splits_final.json` layout, resumable per fold, leave-one-out as
//! the paper's Table 3), or over the annotated slices of the same volumes (the paper's
//! semi-automated Table 1); each fold an ordinary run folder, its held-out data scored, then
//! per-fold and pooled statistics and the post-processing decision pooled over the folds.
//! `predict` and `evaluate` ensemble the folds of a cross-validation folder
//! (`crate::infer::Ensemble`).

pub mod run;
pub mod semi;
pub mod splits;
pub mod summary;

pub use run::{CvOptions, CvOutcome, Protocol, load_summary, run_cv};
pub use summary::CvSummary;
