//! Preparing a run before its first step: the run folder (a fresh one never clobbers an old run, a
//! resumed one takes its saved config), the config (iteration override, kernel choice, nnU-Net's
//! pooling plan from the target spacing), and the preprocessed cases (cached under `RUN/cache`),
//! sparsified when the config asks for the paper's sparse annotation.

use super::memory;
use super::sparse::{semi_fold_masks, sparsify};
use crate::backend::{Backend, BackendKind};
use crate::data::dataset::Dataset;
use crate::data::prep::cache;
use crate::data::prep::preprocess::{self, Preprocessed};
use crate::error::{Error, Result};
use crate::run::{RunDir, TrainConfig, checkpoint};
use crate::util::fsio;

/// A run ready for its training loop.
pub(super) struct Prepared {
    pub cfg: TrainConfig,
    pub target_spacing: [f64; 3],
    pub train_cases: Vec<Preprocessed>,
    pub val_cases: Vec<Preprocessed>,
    /// Classes including background.
    pub classes: usize,
}

pub(super) fn prepare(
    dataset: &Dataset,
    run: &RunDir,
    cfg: TrainConfig,
    backend: &Backend,
    resume: bool,
    iterations: Option<usize>,
) -> Result<Prepared> {
    let mut cfg = prepare_run_folder(run, cfg, resume, iterations, backend)?;
    let classes = dataset.spec.num_classes();
    if cfg.model.num_classes != classes {
        return Err(Error::config(format!(
            "the model predicts {} classes but {} declares {classes}",
            cfg.model.num_classes,
            dataset.root.join("dataset.json").display()
        )));
    }
    let train_ids = dataset.spec.splits.train.clone();
    if train_ids.is_empty() {
        return Err(Error::invalid(
            dataset.root.join("dataset.json"),
            "the dataset has no training cases",
        ));
    }
    let mut val_ids = dataset.spec.splits.validation.clone();
    if let Some(n) = cfg.val_cases {
        val_ids.truncate(n);
    }

    let target_spacing = match cfg.preprocess.target_spacing {
        Some(s) => s,
        None => preprocess::plan_target_spacing(&case_spacings(dataset, &train_ids)?),
    };
    if cfg.plan_pooling {
        cfg.apply_pooling_plan(target_spacing)?;
        save_config(run, &cfg)?;
    }
    let load = |ids: &[String]| {
        cache::load_or_preprocess(dataset, ids, &cfg.preprocess, target_spacing, &run.cache())
    };
    let mut train_cases = load(&train_ids)?;
    let val_cases = load(&val_ids)?;
    pad_to_patch(
        &mut train_cases,
        cfg.sampler.patch,
        cfg.preprocess.max_class_locations,
    );
    if let Some(fold) = cfg.sparse_fold {
        for c in &mut train_cases {
            let (keep, _) = semi_fold_masks(c.dims, &fold);
            for (l, &k) in c.label.iter_mut().zip(&keep) {
                if !k {
                    *l = cfg.loss.ignore_label;
                }
            }
            c.refresh_class_locations(cfg.preprocess.max_class_locations);
            let kept = keep.iter().filter(|&&k| k).count() as f64 / keep.len().max(1) as f64;
            log::info!(
                "{}: semi-automated fold {} of {} keeps {:.1} % of voxels labelled",
                c.id,
                fold.fold,
                fold.folds,
                kept * 100.0
            );
        }
    } else if let Some(k) = cfg.sparse_slices {
        for c in &mut train_cases {
            let kept = sparsify(&mut c.label, c.dims, k, cfg.loss.ignore_label);
            c.refresh_class_locations(cfg.preprocess.max_class_locations);
            log::info!(
                "{}: sparse annotation keeps {:.1} % of voxels labelled",
                c.id,
                kept * 100.0
            );
        }
    }
    Ok(Prepared {
        cfg,
        target_spacing,
        train_cases,
        val_cases,
        classes,
    })
}

/// Checks a fresh run does not clobber an old one, and a resumed run uses its saved config.
fn prepare_run_folder(
    run: &RunDir,
    cfg: TrainConfig,
    resume: bool,
    iterations: Option<usize>,
    backend: &Backend,
) -> Result<TrainConfig> {
    let last = run.last();
    if resume {
        if !last.join(checkpoint::STATE_FILE).exists() {
            return Err(Error::invalid(last, "no checkpoint to resume from"));
        }
        // Everything but the iteration budget comes from the saved run, so the resumed run is the same run.
        let before = TrainConfig::load(&run.config())?;
        let mut saved = before.clone();
        if let Some(n) = iterations {
            saved.iterations = n;
        }
        // The kernel choice changes speed, not results, so `--kernels` may differ on resume.
        saved.model.kernels = backend.kernels_for(saved.model.kernels);
        // Nothing is written unless the changed config is valid, and only when it changed.
        saved.validate_for_planning()?;
        if serde_json::to_value(&saved).ok() != serde_json::to_value(&before).ok() {
            save_config(run, &saved)?;
        }
        return Ok(saved);
    }
    if last.exists() {
        return Err(Error::invalid(
            &run.root,
            "already holds a training run; pass --resume to continue it or choose a new --out",
        ));
    }
    let mut cfg = cfg;
    if let Some(n) = iterations {
        cfg.iterations = n;
    }
    cfg.model.kernels = backend.kernels_for(cfg.model.kernels);
    cfg.validate_for_planning()?;
    // Before anything is written or preprocessed: a batch that cannot fit is an error now.
    match backend.kind {
        BackendKind::Flex => memory::check_fits(&cfg, memory::available_ram(), "available RAM")?,
        BackendKind::Wgpu => memory::check_fits(&cfg, None, "")?,
    }
    fsio::create_dir(&run.root)?;
    save_config(run, &cfg)?;
    Ok(cfg)
}

fn save_config(run: &RunDir, cfg: &TrainConfig) -> Result<()> {
    let json = serde_json::to_string_pretty(cfg).expect("config serialises");
    fsio::write_atomic(&run.config(), json.as_bytes())
}

fn case_spacings(ds: &Dataset, ids: &[String]) -> Result<Vec<[f64; 3]>> {
    ids.iter()
        .map(|id| crate::data::io::read_image(&ds.image_path(id)).map(|v| v.spacing))
        .collect()
}

/// Pads every training case smaller than the patch on some axis up to it (centred, background),
/// as nnU-Net does, and says so.
fn pad_to_patch(cases: &mut [Preprocessed], patch: [usize; 3], max_class_locations: usize) {
    let [d, h, w] = patch;
    for c in cases {
        let before = c.dims;
        if c.pad_to([w, h, d], max_class_locations) {
            log::info!(
                "{}: preprocessed volume {before:?} (i, j, k) is smaller than the patch {patch:?} \
                 (D, H, W); padded to {:?} with background",
                c.id,
                c.dims
            );
        }
    }
}
