//! The training loop: preprocess (cached) → patch loader on worker threads → forward, Dice + CE,
//! backward, optimiser step → periodic sliding-window validation → best/last checkpoints, metrics log,
//! curves. The same code runs on every backend; only the `Device` differs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, TrainState};
use super::config::TrainConfig;
use super::history::{History, Record};
use super::loss::batch_loss;
use super::sparse::sparsify;
use crate::backend::Backend;
use crate::data::dataset::Dataset;
use crate::data::loader::Loader;
use crate::data::preprocess::{self, Preprocessed};
use crate::data::preprocess_cache;
use crate::error::{Error, Result};
use crate::infer::postprocess::keep_largest_component;
use crate::infer::predict_probabilities;
use crate::metrics::{Counts, argmax};
use crate::model::UNet3d;
use crate::util::fsio;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Facts about a run that inference needs besides the config: written once as `RUN/run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub dataset: PathBuf,
    /// Label names by value (index = label value).
    pub label_names: Vec<String>,
    /// The spacing (mm, i/j/k) volumes are resampled to before the network.
    pub target_spacing: [f64; 3],
    pub backend: String,
    pub parameters: usize,
    pub train_cases: usize,
    pub validation_cases: usize,
}

#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Continue from `RUN/checkpoints/last`.
    pub resume: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// Total iterations, overriding the config (also when resuming, to train longer).
    pub iterations: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct TrainOutcome {
    pub state: TrainState,
    /// Validation Dice per foreground class at the best step.
    pub best_val_dice: Option<Vec<f64>>,
    pub interrupted: bool,
    /// Wall seconds of this invocation (not counting earlier resumed parts).
    pub seconds: f64,
}

pub fn checkpoints_dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

/// Trains `cfg` on `dataset` into the run folder `run`.
pub fn train(
    dataset: &Dataset,
    run: &Path,
    cfg: TrainConfig,
    backend: &Backend,
    opts: &TrainOptions,
) -> Result<TrainOutcome> {
    let started = Instant::now();
    install_ctrlc();
    let last_dir = checkpoints_dir(run).join("last");
    let cfg = prepare_run_folder(run, cfg, opts, &last_dir, backend)?;
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

    // Preprocess once (cached on disk under the run), then sparsify if asked.
    let target_spacing = match cfg.preprocess.target_spacing {
        Some(s) => s,
        None => preprocess::plan_target_spacing(&case_spacings(dataset, &train_ids)?),
    };
    let mut cfg = cfg;
    if cfg.plan_pooling {
        cfg.apply_pooling_plan(target_spacing)?;
        let json = serde_json::to_string_pretty(&cfg).expect("config serialises");
        fsio::write_atomic(&run.join("config.json"), json.as_bytes())?;
    }
    let cache = run.join("cache");
    let mut train_cases = preprocess_cache::load_or_preprocess(
        dataset,
        &train_ids,
        &cfg.preprocess,
        target_spacing,
        &cache,
    )?;
    let val_cases = preprocess_cache::load_or_preprocess(
        dataset,
        &val_ids,
        &cfg.preprocess,
        target_spacing,
        &cache,
    )?;
    check_patch_fits(&train_cases, cfg.sampler.patch)?;
    if let Some(k) = cfg.sparse_slices {
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

    // Model and optimiser, fresh or resumed.
    let device = backend.device.clone().autodiff();
    device.seed(cfg.seed);
    let mut model = cfg.model.init(&device)?;
    println!("{}", crate::model::summary(&cfg.model));
    let mut optim = cfg.optim.init();
    let mut state = TrainState::default();
    if opts.resume {
        model = checkpoint::load_model(&last_dir, model)?;
        optim = checkpoint::load_optimizer(&last_dir, optim)?;
        state = checkpoint::load_state(&last_dir)?;
        println!("resuming {} at step {}", run.display(), state.step);
    }
    write_run_info(
        run,
        dataset,
        target_spacing,
        backend,
        &model,
        train_cases.len(),
        val_cases.len(),
    )?;

    let mut history = History::open(run, state.step)?;
    let class_names: Vec<String> = (1..classes as u8)
        .map(|v| dataset.spec.label_name(v))
        .collect();
    let train_cases = Arc::new(train_cases);
    let mut loader = Loader::new(
        train_cases.clone(),
        cfg.sampler.clone(),
        cfg.augment.clone(),
        cfg.seed,
        state.step as u64,
        cfg.workers.max(1),
    )?;
    let bar = progress_bar(opts.progress, cfg.iterations, state.step);
    let mut best_val = None;
    let mut interrupted = false;
    let session_start = state.step;
    let loop_start = Instant::now();
    let elapsed_before = state.elapsed_s;

    while state.step < cfg.iterations {
        if INTERRUPTED.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        let t0 = Instant::now();
        let wait_before = loader.wait_seconds();
        let batch = loader.next();
        let data_wait_s = loader.wait_seconds() - wait_before;
        let lr = cfg.optim.lr_at(state.step, cfg.iterations);
        let (m, losses) = guarded(cfg.sampler.patch, cfg.sampler.batch_size, || {
            let x =
                Tensor::<5>::from_data(TensorData::new(batch.image.clone(), batch.shape), &device);
            let parts = batch_loss(&model, x, &batch.label, &cfg.loss)?;
            let grads = parts.total.backward();
            let grads = GradientsParams::from_grads(grads, &model);
            let values = [scalar(&parts.total), scalar(&parts.ce), scalar(&parts.dice)];
            Ok((optim.step(lr, model.clone(), grads), values))
        })?;
        model = m;
        if losses.iter().any(|v| !v.is_finite()) {
            return Err(Error::Backend(format!(
                "loss became {:?} at step {}; lower the learning rate",
                losses,
                state.step + 1
            )));
        }
        state.step += 1;
        let mut record = Record {
            step: state.step,
            lr,
            loss: losses[0],
            ce: losses[1],
            dice_loss: losses[2],
            data_wait_s,
            step_s: t0.elapsed().as_secs_f64(),
            val_dice: None,
        };
        let validate_now = state.step % cfg.val_every == 0 || state.step == cfg.iterations;
        if validate_now && !val_cases.is_empty() {
            let dice = validate(&model.valid(), &val_cases, &cfg, classes, &backend.device)?;
            let mean = dice.iter().sum::<f64>() / dice.len().max(1) as f64;
            if state.best_dice.is_none_or(|b| mean > b) {
                state.best_dice = Some(mean);
                state.best_step = Some(state.step);
                best_val = Some(dice.clone());
                checkpoint::save(
                    &checkpoints_dir(run).join("best"),
                    &model.valid(),
                    None,
                    &state,
                )?;
            }
            log::info!(
                "step {}: validation Dice {}",
                state.step,
                fmt_dice(&class_names, &dice)
            );
            record.val_dice = Some(dice);
        }
        history.append(record)?;
        if validate_now {
            state.elapsed_s = elapsed_before + loop_start.elapsed().as_secs_f64();
            checkpoint::save(&last_dir, &model.valid(), Some(&optim), &state)?;
            history.plot(&run.join("curves.png"), &class_names)?;
        }
        bar.set_position(state.step as u64);
        bar.set_message(status_line(
            &history,
            &class_names,
            state.step - session_start,
            loop_start,
        ));
        if !opts.progress && (state.step % 10 == 0 || state.step == cfg.iterations) {
            println!(
                "step {}/{}: {}",
                state.step,
                cfg.iterations,
                status_line(
                    &history,
                    &class_names,
                    state.step - session_start,
                    loop_start
                )
            );
        }
    }
    bar.finish_and_clear();
    state.elapsed_s = elapsed_before + loop_start.elapsed().as_secs_f64();
    checkpoint::save(&last_dir, &model.valid(), Some(&optim), &state)?;
    if val_cases.is_empty() {
        // No validation split: the last model is also the best one we know.
        checkpoint::save(
            &checkpoints_dir(run).join("best"),
            &model.valid(),
            None,
            &state,
        )?;
    }
    history.plot(&run.join("curves.png"), &class_names)?;
    if best_val.is_none() {
        best_val = history.records.iter().rev().find_map(|r| {
            (Some(r.step) == state.best_step)
                .then(|| r.val_dice.clone())
                .flatten()
        });
    }
    if interrupted {
        println!(
            "interrupted: checkpoint written at step {} ({})",
            state.step,
            last_dir.display()
        );
    }
    Ok(TrainOutcome {
        state,
        best_val_dice: best_val,
        interrupted,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Validation: sliding-window prediction on each preprocessed validation case, cleaned up like
/// `predict`'s default (largest connected component per class), then Dice per foreground class
/// (ignore-labelled voxels excluded), averaged over cases. The clean-up makes the curve and the best
/// checkpoint track what evaluation reports.
pub fn validate(
    model: &UNet3d,
    cases: &[Preprocessed],
    cfg: &TrainConfig,
    classes: usize,
    device: &Device,
) -> Result<Vec<f64>> {
    let mut sums = vec![0.0; classes - 1];
    for case in cases {
        let [nx, ny, nz] = case.dims;
        let probs = predict_probabilities(
            model,
            &case.image,
            [nz, ny, nx],
            classes,
            &cfg.inference,
            device,
        )?;
        let mut pred = argmax(&probs);
        let foreground: Vec<u8> = (1..classes as u8).collect();
        keep_largest_component(&mut pred, case.dims, &foreground);
        for (c, s) in sums.iter_mut().enumerate() {
            *s += Counts::of(&pred, &case.label, c as u8 + 1, Some(cfg.loss.ignore_label)).dice();
        }
    }
    Ok(sums.iter().map(|s| s / cases.len().max(1) as f64).collect())
}

/// Checks a fresh run does not clobber an old one, and a resumed run uses its saved config.
fn prepare_run_folder(
    run: &Path,
    cfg: TrainConfig,
    opts: &TrainOptions,
    last: &Path,
    backend: &Backend,
) -> Result<TrainConfig> {
    let config_path = run.join("config.json");
    if opts.resume {
        if !last.join(checkpoint::STATE_FILE).exists() {
            return Err(Error::invalid(last, "no checkpoint to resume from"));
        }
        // Everything but the iteration budget comes from the saved run, so the resumed run is the same run.
        let mut saved = TrainConfig::load(&config_path)?;
        if let Some(n) = opts.iterations {
            saved.iterations = n;
        }
        // The kernel choice changes speed, not results, so `--kernels` may differ on resume.
        saved.model.kernels = backend.kernels_for(saved.model.kernels);
        let json = serde_json::to_string_pretty(&saved).expect("config serialises");
        fsio::write_atomic(&config_path, json.as_bytes())?;
        return Ok(saved);
    }
    if last.exists() {
        return Err(Error::invalid(
            run,
            "already holds a training run; pass --resume to continue it or choose a new --out",
        ));
    }
    let mut cfg = cfg;
    if let Some(n) = opts.iterations {
        cfg.iterations = n;
    }
    cfg.model.kernels = backend.kernels_for(cfg.model.kernels);
    cfg.validate()?;
    fsio::create_dir(run)?;
    let json = serde_json::to_string_pretty(&cfg).expect("config serialises");
    fsio::write_atomic(&config_path, json.as_bytes())?;
    Ok(cfg)
}

fn write_run_info(
    run: &Path,
    ds: &Dataset,
    spacing: [f64; 3],
    backend: &Backend,
    model: &UNet3d,
    n_train: usize,
    n_val: usize,
) -> Result<()> {
    let classes = ds.spec.num_classes();
    let info = RunInfo {
        dataset: ds.root.clone(),
        label_names: (0..classes as u8).map(|v| ds.spec.label_name(v)).collect(),
        target_spacing: spacing,
        backend: backend.describe(),
        parameters: model.num_params(),
        train_cases: n_train,
        validation_cases: n_val,
    };
    let json = serde_json::to_string_pretty(&info).expect("run info serialises");
    fsio::write_atomic(&run.join("run.json"), json.as_bytes())
}

pub fn load_run_info(run: &Path) -> Result<RunInfo> {
    let path = run.join("run.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::invalid(&path, format!("not a run description: {e}")))
}

fn case_spacings(ds: &Dataset, ids: &[String]) -> Result<Vec<[f64; 3]>> {
    ids.iter()
        .map(|id| crate::data::io::read_image(&ds.image_path(id)).map(|v| v.spacing))
        .collect()
}

/// A patch larger than every training volume (on some axis) cannot be sampled meaningfully.
fn check_patch_fits(cases: &[Preprocessed], patch: [usize; 3]) -> Result<()> {
    let fits =
        |c: &Preprocessed| c.dims[2] >= patch[0] && c.dims[1] >= patch[1] && c.dims[0] >= patch[2];
    if cases.iter().any(fits) {
        return Ok(());
    }
    let largest = cases
        .iter()
        .map(|c| [c.dims[2], c.dims[1], c.dims[0]])
        .max_by_key(|d| d.iter().product::<usize>());
    Err(Error::config(format!(
        "patch {patch:?} (D, H, W) is larger than every preprocessed training volume (largest {:?}); lower the patch size",
        largest.unwrap_or_default()
    )))
}

/// Runs one training step; turns a backend panic into an error, with advice for out-of-memory.
fn guarded<T>(patch: [usize; 3], batch: usize, step: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(step)) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            let lower = msg.to_lowercase();
            if lower.contains("memory") || lower.contains("allocat") {
                Err(Error::Backend(format!(
                    "device out of memory with patch {patch:?} and batch {batch}: lower the patch or batch size ({msg})"
                )))
            } else {
                Err(Error::Backend(format!("training step failed: {msg}")))
            }
        }
    }
}

fn scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_scalar::<f32>() as f64
}

fn install_ctrlc() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // A second Ctrl-C while the checkpoint is written still waits for it: the flag is only read.
        let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    });
}

fn progress_bar(show: bool, total: usize, start: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(start as u64);
    bar
}

fn status_line(h: &History, names: &[String], steps_this_session: usize, since: Instant) -> String {
    let its = steps_this_session as f64 / since.elapsed().as_secs_f64().max(1e-9);
    let last_val = h.records.iter().rev().find_map(|r| r.val_dice.clone());
    format!(
        "loss {:.4} | val Dice {} | {:.2} it/s | data wait {:.0} %",
        h.smoothed_loss(10).unwrap_or(f64::NAN),
        last_val
            .map(|d| fmt_dice(names, &d))
            .unwrap_or_else(|| "-".into()),
        its,
        h.data_wait_share(20) * 100.0
    )
}

pub fn fmt_dice(names: &[String], dice: &[f64]) -> String {
    names
        .iter()
        .zip(dice)
        .map(|(n, d)| format!("{n} {d:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}
