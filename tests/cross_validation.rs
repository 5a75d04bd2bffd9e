//! `unet3d cv` on tiny shapes: folds trained and scored, a half-finished run continued without
//! re-splitting, the folds ensembled by averaging their probabilities, and the paper's
//! semi-automated protocol.

use std::path::Path;

use unet3d::backend::Backend;
use unet3d::cv::{CvOptions, Protocol, run_cv};
use unet3d::data::dataset::Dataset;
use unet3d::data::synth::phantom::PhantomConfig;
use unet3d::data::synth::synth_dataset;
use unet3d::infer::Ensemble;
use unet3d::infer::predict::Predictor;
use unet3d::run::{CvDir, TrainConfig};

/// Five small phantoms: 3 train and 1 validation (the cross-validated cases), 1 test.
fn dataset(dir: &Path) -> Dataset {
    let cfg = PhantomConfig::small();
    synth_dataset(&dir.join("data"), 5, 21, &cfg).unwrap()
}

fn config() -> TrainConfig {
    let mut cfg = TrainConfig::preset("tiny").unwrap();
    cfg.iterations = 2;
    cfg.val_every = 2;
    cfg
}

fn options(folds: usize, fold: Option<usize>) -> CvOptions {
    CvOptions {
        folds,
        fold,
        protocol: Protocol::Cases,
        sparse_slices: None,
        progress: false,
    }
}

#[test]
fn folds_resume_without_resplitting_and_ensemble_by_averaging() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let out = tmp.path().join("cv");
    let flex = Backend::flex();
    // Only fold 0: no summary yet.
    let first = run_cv(&ds, &out, config(), &flex, &options(2, Some(0))).unwrap();
    assert!(first.summary.is_none() && !first.interrupted);
    let cv = CvDir::new(&out);
    let splits = std::fs::read(cv.splits()).unwrap();
    let fold0 = std::fs::metadata(cv.fold(0).last().join("model.bpk"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(cv.trained_folds(), [0]);
    // Another fold count is refused rather than re-split.
    let err = run_cv(&ds, &out, config(), &flex, &options(3, None))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("2 folds"), "{err}");
    // Continue: fold 1 is trained, fold 0 left alone, the split kept.
    let done = run_cv(&ds, &out, config(), &flex, &options(2, None)).unwrap();
    let summary = done.summary.expect("both folds done");
    assert_eq!(
        std::fs::read(cv.splits()).unwrap(),
        splits,
        "splits.json never rewritten"
    );
    let again = std::fs::metadata(cv.fold(0).last().join("model.bpk"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(again, fold0, "the finished fold is not retrained");
    assert_eq!(summary.per_fold.len(), 2);
    let held: usize = summary.per_fold.iter().map(|f| f.held_out.len()).sum();
    assert_eq!(held, 4, "every cross-validated case held out once");
    assert!(
        summary
            .pooled
            .iter()
            .all(|c| c.dice.is_some() && c.iou.is_some())
    );
    assert!(cv.markdown().exists() && cv.root.join("postprocessing.json").exists());

    // The ensemble of the folds averages their probabilities.
    let ensemble = Ensemble::load(&[out.clone()], None, &flex).unwrap();
    assert_eq!(ensemble.members.len(), 2);
    let case = ds.load_case(&ds.spec.splits.test[0]).unwrap();
    let opts = unet3d::infer::predict::PredictOptions::default();
    let (mean, timings) = ensemble
        .probabilities(std::slice::from_ref(&case.image), &opts)
        .unwrap();
    assert_eq!(timings.per_model.len(), 2);
    let (p0, _) = Predictor::load(&cv.fold(0).root, &flex)
        .unwrap()
        .probabilities(&case.image, false)
        .unwrap();
    let (p1, _) = Predictor::load(&cv.fold(1).root, &flex)
        .unwrap()
        .probabilities(&case.image, false)
        .unwrap();
    for c in 0..mean.len() {
        for (i, m) in mean[c].iter().enumerate() {
            assert!((m - (p0[c][i] + p1[c][i]) / 2.0).abs() < 1e-6);
        }
    }
    // --folds picks a subset; a fold that was never trained is an error.
    assert_eq!(
        Ensemble::load(&[out.clone()], Some(&[1]), &flex)
            .unwrap()
            .members
            .len(),
        1
    );
    assert!(Ensemble::load(&[out.clone()], Some(&[5]), &flex).is_err());
}

#[test]
fn the_semi_automated_protocol_scores_every_fold_on_its_held_out_slices() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let out = tmp.path().join("semi");
    let opts = CvOptions {
        folds: 3,
        fold: None,
        protocol: Protocol::Semi,
        sparse_slices: Some(3),
        progress: false,
    };
    let summary = run_cv(&ds, &out, config(), &Backend::flex(), &opts)
        .unwrap()
        .summary
        .unwrap();
    assert_eq!(summary.protocol, "semi-automated");
    assert_eq!(summary.mean_iou_per_fold().len(), 3);
    // Every fold trains and is scored on all 4 volumes.
    assert!(summary.per_fold.iter().all(|f| f.held_out.len() == 4));
    let cfg = TrainConfig::load(&CvDir::new(&out).fold(2).config()).unwrap();
    assert_eq!(cfg.sparse_fold.unwrap().fold, 2);
}
