//! Scoring one fold of the paper's semi-automated protocol: the fold's model on every case,
//! compared with the reference on the held-out annotated slices only (the voxels the fold never
//! trained on), on the preprocessed grid the annotation was made on; IoU and Dice per class.

use crate::backend::Backend;
use crate::data::dataset::Dataset;
use crate::data::labels::{Counts, argmax};
use crate::data::prep::cache;
use crate::error::{Error, Result};
use crate::infer::predict_probabilities;
use crate::run::{LoadedRun, RunDir};
use crate::train::sparse::semi_fold_masks;

use super::summary::CaseScore;

/// Scores of every case of `dataset`'s training split for the fold run in `run`.
pub fn score_fold(dataset: &Dataset, run: &RunDir, backend: &Backend) -> Result<Vec<CaseScore>> {
    let loaded = LoadedRun::open(&run.root, backend)?;
    let cfg = &loaded.config;
    let fold = cfg
        .sparse_fold
        .ok_or_else(|| Error::invalid(&run.root, "is not a fold of the semi-automated protocol"))?;
    let ids = dataset.spec.splits.train.clone();
    let cases = cache::load_or_preprocess(
        dataset,
        &ids,
        &cfg.preprocess,
        loaded.info.target_spacing,
        &run.cache(),
    )?;
    let classes = cfg.model.num_classes;
    let ignore = cfg.loss.ignore_label;
    let mut scores = Vec::new();
    for case in &cases {
        let [nx, ny, nz] = case.dims;
        let probs = predict_probabilities(
            &loaded.model,
            &case.image,
            [nz, ny, nx],
            classes,
            &cfg.inference,
            &backend.device,
        )?;
        let pred = argmax(&probs);
        let (_, test) = semi_fold_masks(case.dims, &fold);
        let reference: Vec<u8> = case
            .label
            .iter()
            .zip(&test)
            .map(|(&l, &t)| if t { l } else { ignore })
            .collect();
        for class in 1..classes as u8 {
            let c = Counts::of(&pred, &reference, class, Some(ignore));
            scores.push((case.id.clone(), class, c.dice(), c.iou(), None, None));
        }
    }
    Ok(scores)
}
