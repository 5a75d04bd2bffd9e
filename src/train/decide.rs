//! After training: the post-processing decision (see `crate::infer::postprocess`), made with the
//! final model on the cases that have labels it was not trained on — the validation cases at
//! native resolution, as `predict` will see scans. Without a validation split it is made on the
//! labelled voxels that exist: the training cases (with sparse annotation, only their annotated
//! slices). With no labels at all, every component is kept, and the log says so.

use crate::backend::Backend;
use crate::data::dataset::Dataset;
use crate::data::labels::argmax;
use crate::error::Result;
use crate::infer::postprocess::Postprocessing;
use crate::infer::predict::Predictor;
use crate::run::{RunDir, TrainConfig};

use super::sparse::sparsify;

/// Decides, records `RUN/postprocessing.json` and returns the decision.
pub fn decide_postprocessing(
    dataset: &Dataset,
    run: &RunDir,
    cfg: &TrainConfig,
    backend: &Backend,
) -> Result<Postprocessing> {
    let mut val = dataset.spec.splits.validation.clone();
    if let Some(n) = cfg.val_cases {
        val.truncate(n);
    }
    let (ids, on_training) = if val.is_empty() {
        (dataset.spec.splits.train.clone(), true)
    } else {
        (val, false)
    };
    let ignore = cfg.loss.ignore_label;
    let classes: Vec<u8> = (1..cfg.model.num_classes as u8).collect();
    if cfg.sparse_fold.is_some() {
        // The held-out annotated slices are the test data of this protocol: nothing may be
        // decided on them, and the paper scores without post-processing.
        let decision =
            Postprocessing::keep_all("semi-automated protocol: scored without post-processing");
        decision.save(&run.root)?;
        return Ok(decision);
    }
    let predictor = Predictor::load(&run.root, backend)?;
    let mut cases = Vec::new();
    for id in &ids {
        let case = dataset.load_case(id)?;
        let (probs, _) = predictor.probabilities(&case.image, false)?;
        let pred = argmax(&probs);
        let mut reference = case.label.data.clone();
        if let (true, Some(k)) = (on_training, cfg.sparse_slices) {
            sparsify(&mut reference, case.label.dims, k, ignore);
        }
        cases.push((pred, reference, case.label.dims));
    }
    let labelled = cases
        .iter()
        .any(|(_, r, _)| r.iter().any(|&v| v != 0 && v != ignore));
    let decision = if !labelled {
        Postprocessing::keep_all("no labels to decide on: every component kept")
    } else {
        let what = if on_training {
            format!(
                "{} training cases{} (no validation split)",
                cases.len(),
                if cfg.sparse_slices.is_some() {
                    ", annotated slices only"
                } else {
                    ""
                }
            )
        } else {
            format!("{} validation cases", cases.len())
        };
        let views: Vec<(&[u8], &[u8], [usize; 3])> = cases
            .iter()
            .map(|(p, r, d)| (p.as_slice(), r.as_slice(), *d))
            .collect();
        Postprocessing::decide(&views, &classes, Some(ignore), &what)
    };
    decision.save(&run.root)?;
    println!("{}", decision.describe(&predictor.info.label_names));
    Ok(decision)
}
