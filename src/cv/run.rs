//! `unet3d cv`: the folds trained one after another (each an ordinary run folder, resumable),
//! every fold's held-out cases evaluated, then the summary and the post-processing decision
//! pooled over the folds.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::semi::score_fold;
use super::splits::{FoldSplit, load_splits, make_splits, save_splits};
use super::summary::{CaseScore, CvSummary, FoldScores, case_scores, class_scores};
use crate::backend::Backend;
use crate::data::dataset::{Dataset, Split, Splits};
use crate::data::prep::preprocess::plan_target_spacing;
use crate::error::{Error, Result};
use crate::infer::Ensemble;
use crate::infer::postprocess::{PostprocessChoice, Postprocessing};
use crate::infer::predict::{PredictOptions, Predictor};
use crate::metrics::evaluate::evaluate;
use crate::run::config::SparseFold;
use crate::run::{CvDir, TrainConfig, checkpoint};
use crate::train::{TrainOptions, train};
use crate::util::fsio;

/// The paper's protocols besides nnU-Net's k-fold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Folds over cases: each fold trains on the others and is scored on its held-out cases
    /// (with as many folds as cases: leave-one-out, the paper's fully automated Table 3).
    Cases,
    /// The paper's semi-automated Table 1: folds over the annotated slices of the same volumes
    /// (`--sparse-slices K`): each fold trains on the others' slices, scored on its own.
    Semi,
}

#[derive(Clone, Debug)]
pub struct CvOptions {
    pub folds: usize,
    /// Train or resume only this fold (to spread folds over machines).
    pub fold: Option<usize>,
    pub protocol: Protocol,
    /// The semi-automated protocol's annotation: every K-th slice per orientation.
    pub sparse_slices: Option<usize>,
    pub progress: bool,
}

/// `cv.json`: what the folder was started with; a later run continues it or is refused.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct CvPlan {
    protocol: Protocol,
    folds: usize,
    sparse_slices: Option<usize>,
    /// The training config every fold uses (its target spacing planned once for all folds).
    config: TrainConfig,
}

/// What `run_cv` did.
pub struct CvOutcome {
    /// Present once every fold is trained and evaluated.
    pub summary: Option<CvSummary>,
    pub interrupted: bool,
}

/// Runs (or continues) the cross-validation of `dataset`'s train + validation cases in `out`.
pub fn run_cv(
    dataset: &Dataset,
    out: &Path,
    cfg: TrainConfig,
    backend: &Backend,
    opts: &CvOptions,
) -> Result<CvOutcome> {
    let cv = CvDir::new(out);
    let cases: Vec<String> = dataset
        .spec
        .splits
        .train
        .iter()
        .chain(&dataset.spec.splits.validation)
        .cloned()
        .collect();
    let plan = load_or_make_plan(&cv, dataset, &cases, cfg, opts)?;
    let splits = load_or_make_splits(&cv, &cases, &plan)?;
    let todo: Vec<usize> = match opts.fold {
        Some(k) if k >= plan.folds => {
            return Err(Error::config(format!(
                "--fold {k}: this cross-validation has folds 0..{}",
                plan.folds
            )));
        }
        Some(k) => vec![k],
        None => (0..plan.folds).collect(),
    };
    for &k in &todo {
        let split = &splits[k];
        println!(
            "=== fold {} of {} ({}): {} training cases, {} held out ===",
            k + 1,
            plan.folds,
            cv.fold(k).root.display(),
            split.train.len(),
            split.val.len()
        );
        let fold_ds = fold_dataset(dataset, split, plan.protocol);
        if !train_fold(&cv, k, &fold_ds, &plan, backend, opts)? {
            return Ok(CvOutcome {
                summary: None,
                interrupted: true,
            });
        }
        evaluate_fold(&cv, k, &fold_ds, &plan, backend)?;
    }
    let all_done = (0..plan.folds).all(|k| fold_scores_path(&cv, k).exists());
    if !all_done {
        println!("folds still to train: run `unet3d cv` again (or with --fold K) to continue");
        return Ok(CvOutcome {
            summary: None,
            interrupted: false,
        });
    }
    let summary = summarise(&cv, dataset, &splits, &plan)?;
    Ok(CvOutcome {
        summary: Some(summary),
        interrupted: false,
    })
}

fn load_or_make_plan(
    cv: &CvDir,
    dataset: &Dataset,
    cases: &[String],
    cfg: TrainConfig,
    opts: &CvOptions,
) -> Result<CvPlan> {
    if opts.protocol == Protocol::Semi && opts.sparse_slices.is_none() {
        return Err(Error::config("--protocol semi needs --sparse-slices K"));
    }
    if cv.plan().exists() {
        let text = std::fs::read_to_string(cv.plan()).map_err(|e| Error::io(cv.plan(), e))?;
        let plan: CvPlan = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(cv.plan(), format!("not a cross-validation plan: {e}")))?;
        if (plan.protocol, plan.folds, plan.sparse_slices)
            != (opts.protocol, opts.folds, opts.sparse_slices)
        {
            return Err(Error::invalid(
                &cv.root,
                format!(
                    "holds a cross-validation started as {:?} with {} folds (sparse slices {:?}); \
                     continue it with the same settings or choose a new --out",
                    plan.protocol, plan.folds, plan.sparse_slices
                ),
            ));
        }
        return Ok(plan);
    }
    let mut config = cfg;
    if config.preprocess.target_spacing.is_none() {
        // One plan for every fold, from every case, so the folds share their preprocessing.
        let spacings = cases
            .iter()
            .map(|id| crate::data::io::read_image(&dataset.image_path(id)).map(|v| v.spacing))
            .collect::<Result<Vec<_>>>()?;
        config.preprocess.target_spacing = Some(plan_target_spacing(&spacings));
    }
    if opts.protocol == Protocol::Semi {
        config.sparse_slices = None;
    }
    config.validate_for_planning()?;
    let plan = CvPlan {
        protocol: opts.protocol,
        folds: opts.folds,
        sparse_slices: opts.sparse_slices,
        config,
    };
    fsio::create_dir(&cv.root)?;
    let json = serde_json::to_string_pretty(&plan).expect("plan serialises");
    fsio::write_atomic(&cv.plan(), json.as_bytes())?;
    Ok(plan)
}

/// The split, written once: a later run reads it back (and refuses a dataset that lost cases).
fn load_or_make_splits(cv: &CvDir, cases: &[String], plan: &CvPlan) -> Result<Vec<FoldSplit>> {
    if cv.splits().exists() {
        let splits = load_splits(&cv.splits())?;
        if splits.len() != plan.folds {
            return Err(Error::invalid(
                cv.splits(),
                format!("has {} folds, cv.json says {}", splits.len(), plan.folds),
            ));
        }
        if let Some(missing) = splits
            .iter()
            .flat_map(|f| f.train.iter().chain(&f.val))
            .find(|id| !cases.contains(id))
        {
            return Err(Error::invalid(
                cv.splits(),
                format!(
                    "names case {missing}, which the dataset's train and validation splits do not hold"
                ),
            ));
        }
        return Ok(splits);
    }
    let splits = match plan.protocol {
        Protocol::Cases => make_splits(cases, plan.folds, plan.config.seed)?,
        // Every fold trains and is scored on every volume; the folds are over slices.
        Protocol::Semi => (0..plan.folds)
            .map(|_| FoldSplit {
                train: cases.to_vec(),
                val: cases.to_vec(),
            })
            .collect(),
    };
    save_splits(&cv.splits(), &splits)?;
    Ok(splits)
}

/// The dataset as one fold sees it: its training cases, its held-out cases as validation (none
/// for the semi-automated protocol, whose held-out data are slices), the same test cases.
fn fold_dataset(dataset: &Dataset, split: &FoldSplit, protocol: Protocol) -> Dataset {
    let mut spec = dataset.spec.clone();
    spec.splits = Splits {
        train: split.train.clone(),
        validation: match protocol {
            Protocol::Cases => split.val.clone(),
            Protocol::Semi => Vec::new(),
        },
        test: dataset.spec.splits.test.clone(),
    };
    Dataset {
        root: dataset.root.clone(),
        spec,
    }
}

/// Trains (or resumes, or skips when finished) fold `k`; false when interrupted.
fn train_fold(
    cv: &CvDir,
    k: usize,
    fold_ds: &Dataset,
    plan: &CvPlan,
    backend: &Backend,
    opts: &CvOptions,
) -> Result<bool> {
    let run = cv.fold(k);
    let mut cfg = plan.config.clone();
    if let Some(slices) = plan.sparse_slices {
        cfg.sparse_fold = Some(SparseFold {
            slices,
            folds: plan.folds,
            fold: k,
        });
    }
    let state = run.last().join(checkpoint::STATE_FILE);
    let step = state
        .exists()
        .then(|| checkpoint::load_state(&run.last()).map(|s| s.step))
        .transpose()?;
    let decided = run
        .root
        .join(crate::infer::postprocess::POSTPROCESSING_FILE)
        .exists();
    if step.is_some_and(|s| s >= cfg.iterations) && decided {
        println!("fold {k}: already trained ({} iterations)", cfg.iterations);
        return Ok(true);
    }
    let outcome = train(
        fold_ds,
        &run.root,
        cfg,
        backend,
        &TrainOptions {
            resume: step.is_some(),
            progress: opts.progress,
            iterations: None,
            label: format!("fold {} of {}", k + 1, plan.folds),
        },
    )?;
    Ok(!outcome.interrupted)
}

fn fold_scores_path(cv: &CvDir, k: usize) -> std::path::PathBuf {
    cv.fold_eval(k).join("scores.json")
}

/// Scores fold `k`'s held-out data (once): whole held-out cases at native resolution without
/// post-processing (the decision is made from these), or the held-out slices (semi).
fn evaluate_fold(
    cv: &CvDir,
    k: usize,
    fold_ds: &Dataset,
    plan: &CvPlan,
    backend: &Backend,
) -> Result<()> {
    let path = fold_scores_path(cv, k);
    if path.exists() {
        return Ok(());
    }
    let run = cv.fold(k);
    let scores: Vec<CaseScore> = match plan.protocol {
        Protocol::Cases => {
            let models = Ensemble::single(Predictor::load(&run.root, backend)?)?;
            let opts = PredictOptions {
                mirror_tta: false,
                disable_nnunet_tta: false,
                postprocess: PostprocessChoice::None,
            };
            let eval = evaluate(
                &models,
                fold_ds,
                Split::Validation,
                &cv.fold_eval(k),
                &opts,
                &backend.describe(),
            )?;
            eval.per_case
                .iter()
                .flat_map(|c| case_scores(&c.id, &c.metrics))
                .collect()
        }
        Protocol::Semi => score_fold(fold_ds, &run, backend)?,
    };
    let json = serde_json::to_string_pretty(&scores).expect("scores serialise");
    fsio::write_atomic(&path, json.as_bytes())
}

fn load_scores(cv: &CvDir, k: usize) -> Result<Vec<CaseScore>> {
    let path = fold_scores_path(cv, k);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::invalid(&path, format!("not fold scores: {e}")))
}

/// `cv_summary.json`, `cv.md` and (k-fold) the pooled post-processing decision.
fn summarise(
    cv: &CvDir,
    dataset: &Dataset,
    splits: &[FoldSplit],
    plan: &CvPlan,
) -> Result<CvSummary> {
    let names: Vec<String> = (0..dataset.spec.num_classes() as u8)
        .map(|v| dataset.spec.label_name(v))
        .collect();
    let mut all = Vec::new();
    let mut per_fold = Vec::new();
    for (k, split) in splits.iter().enumerate() {
        let scores = load_scores(cv, k)?;
        per_fold.push(FoldScores {
            fold: k,
            held_out: split.val.clone(),
            classes: class_scores(&scores, &names),
        });
        all.extend(scores);
    }
    let postprocessing = match plan.protocol {
        Protocol::Cases => {
            let parts = (0..plan.folds)
                .filter_map(|k| Postprocessing::load(&cv.fold(k).root).transpose())
                .collect::<Result<Vec<_>>>()?;
            let n: usize = splits.iter().map(|s| s.val.len()).sum();
            let pooled = Postprocessing::pool(
                &parts,
                &format!("{n} held-out cases of {} folds", plan.folds),
            );
            pooled.save(&cv.root)?;
            let line = pooled.describe(&names);
            println!("{line}");
            Some(line)
        }
        Protocol::Semi => None,
    };
    let n_cases: usize = splits.iter().map(|s| s.val.len()).sum::<usize>();
    let summary = CvSummary {
        protocol: match plan.protocol {
            Protocol::Semi => "semi-automated".into(),
            Protocol::Cases if plan.folds == n_cases => "leave-one-out".into(),
            Protocol::Cases => "k-fold".into(),
        },
        folds: plan.folds,
        sparse_slices: plan.sparse_slices,
        dataset: dataset.root.clone(),
        per_fold,
        pooled: class_scores(&all, &names),
        postprocessing,
    };
    let json = serde_json::to_string_pretty(&summary).expect("summary serialises");
    fsio::write_atomic(&cv.summary(), json.as_bytes())?;
    fsio::write_atomic(&cv.markdown(), summary.to_markdown().as_bytes())?;
    Ok(summary)
}

/// Reads `CVDIR/cv_summary.json`.
pub fn load_summary(dir: &Path) -> Result<CvSummary> {
    let path = CvDir::new(dir).summary();
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::invalid(&path, format!("not a cross-validation summary: {e}")))
}
