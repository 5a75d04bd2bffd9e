//! The training loop: prepare the run (see `prepare`) → patch loader on worker threads → forward,
//! Dice + CE, backward, optimiser step → periodic sliding-window validation → best/last
//! checkpoints, metrics log, curves. The same code runs on every backend; only the `Device` differs.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};

use super::curves;
use super::decide::decide_postprocessing;
use super::loss::batch_loss;
use super::prepare::{Prepared, prepare};
use super::progress::{fmt_dice, install_ctrlc, interrupted, progress_bar, status_line};
use super::validate::validate;
use crate::backend::{Backend, guard_device};
use crate::data::dataset::Dataset;
use crate::data::prep::loader::Loader;
use crate::data::prep::preprocess::Preprocessed;
use crate::error::{Error, Result};
use crate::infer::postprocess::Postprocessing;
use crate::model::UNet3d;
use crate::run::checkpoint::{self, TrainState};
use crate::run::history::{History, Record};
use crate::run::{RunDir, RunInfo, TrainConfig};

#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Continue from `RUN/checkpoints/last`.
    pub resume: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// Total iterations, overriding the config (also when resuming, to train longer).
    pub iterations: Option<usize>,
    /// Put before every status line, e.g. "fold 2 of 5" (empty: nothing).
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct TrainOutcome {
    pub state: TrainState,
    /// Validation Dice per foreground class at the best step.
    pub best_val_dice: Option<Vec<f64>>,
    pub interrupted: bool,
    /// Wall seconds of this invocation (not counting earlier resumed parts).
    pub seconds: f64,
    /// The post-processing decided after training (none when interrupted).
    pub postprocessing: Option<Postprocessing>,
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
    let run = RunDir::new(run);
    let prepared = prepare(dataset, &run, cfg, backend, opts.resume, opts.iterations)?;
    let mut trainer = Trainer::new(dataset, run, prepared, backend, opts.resume)?;
    let bar = progress_bar(opts.progress, trainer.cfg.iterations, trainer.state.step);
    let mut was_interrupted = false;
    while trainer.state.step < trainer.cfg.iterations {
        if interrupted() {
            was_interrupted = true;
            break;
        }
        trainer.step()?;
        bar.set_position(trainer.state.step as u64);
        bar.set_message(trainer.status());
        let step = trainer.state.step;
        if !opts.progress && (step % 10 == 0 || step == trainer.cfg.iterations) {
            let label = if opts.label.is_empty() {
                String::new()
            } else {
                format!("{}: ", opts.label)
            };
            println!(
                "{label}step {step}/{}: {}",
                trainer.cfg.iterations,
                trainer.status()
            );
        }
    }
    bar.finish_and_clear();
    let run = trainer.run.clone();
    let cfg = trainer.cfg.clone();
    let mut outcome = trainer.finish(was_interrupted)?;
    if !was_interrupted {
        outcome.postprocessing = Some(decide_postprocessing(dataset, &run, &cfg, backend)?);
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}

/// A run in its training loop: the model, the optimiser and everything a step and a validation
/// need.
pub struct Trainer {
    run: RunDir,
    cfg: TrainConfig,
    model: UNet3d,
    optim: ModuleOptimizer,
    state: TrainState,
    history: History,
    loader: Loader,
    val_cases: Vec<Preprocessed>,
    classes: usize,
    class_names: Vec<String>,
    /// The autodiff device training runs on, and the plain one validation runs on.
    device: Device,
    plain_device: Device,
    best_val: Option<Vec<f64>>,
    session_start: usize,
    loop_start: Instant,
    elapsed_before: f64,
}

impl Trainer {
    /// Builds the model and optimiser (resumed from `RUN/checkpoints/last` when asked), writes
    /// `run.json`, opens the metrics log and starts the loader.
    fn new(
        dataset: &Dataset,
        run: RunDir,
        prepared: Prepared,
        backend: &Backend,
        resume: bool,
    ) -> Result<Self> {
        let Prepared {
            cfg,
            target_spacing,
            train_cases,
            val_cases,
            classes,
        } = prepared;
        let device = backend.device.clone().autodiff();
        device.seed(cfg.seed);
        let mut model = cfg.model.init(&device)?;
        println!("{}", crate::model::summary(&cfg.model));
        let mut optim = cfg.optim.init();
        let mut state = TrainState::default();
        if resume {
            let last = run.last();
            model = checkpoint::load_model(&last, model)?;
            optim = checkpoint::load_optimizer(&last, optim)?;
            state = checkpoint::load_state(&last)?;
            println!("resuming {} at step {}", run.root.display(), state.step);
        }
        RunInfo {
            format_version: crate::run::config::FORMAT_VERSION,
            dataset: dataset.root.clone(),
            label_names: (0..classes as u8)
                .map(|v| dataset.spec.label_name(v))
                .collect(),
            target_spacing,
            backend: backend.describe(),
            parameters: model.num_params(),
            train_cases: train_cases.len(),
            validation_cases: val_cases.len(),
        }
        .save(&run)?;
        let history = History::open(&run.root, state.step)?;
        let loader = Loader::new(
            Arc::new(train_cases),
            cfg.sampler.clone(),
            cfg.augment.clone(),
            cfg.seed,
            state.step as u64,
            cfg.workers.max(1),
        )?;
        Ok(Trainer {
            class_names: (1..classes as u8)
                .map(|v| dataset.spec.label_name(v))
                .collect(),
            session_start: state.step,
            elapsed_before: state.elapsed_s,
            loop_start: Instant::now(),
            run,
            cfg,
            model,
            optim,
            state,
            history,
            loader,
            val_cases,
            classes,
            device,
            plain_device: backend.device.clone(),
            best_val: None,
        })
    }

    /// One optimiser step on the next batch, logged; validation and checkpoints when due.
    pub fn step(&mut self) -> Result<()> {
        let t0 = Instant::now();
        let wait_before = self.loader.wait_seconds();
        let batch = self.loader.next();
        let data_wait_s = self.loader.wait_seconds() - wait_before;
        let lr = self.cfg.optim.lr_at(self.state.step, self.cfg.iterations);
        let (model, optim, device) = (&self.model, &mut self.optim, &self.device);
        let (patch, batch_size) = (self.cfg.sampler.patch, self.cfg.sampler.batch_size);
        let advice = format!("lower --batch (now {batch_size}) or --patch (now {patch:?})");
        let (m, losses) = guard_device("training step", &advice, || {
            let x =
                Tensor::<5>::from_data(TensorData::new(batch.image.clone(), batch.shape), device);
            let parts = batch_loss(model, x, &batch.label, &self.cfg.loss)?;
            let grads = parts.total.backward();
            let grads = GradientsParams::from_grads(grads, model);
            let values = [scalar(&parts.total), scalar(&parts.ce), scalar(&parts.dice)];
            Ok((optim.step(lr, model.clone(), grads), values))
        })?;
        self.model = m;
        if losses.iter().any(|v| !v.is_finite()) {
            return Err(Error::Backend(format!(
                "loss became {:?} at step {}; lower the learning rate",
                losses,
                self.state.step + 1
            )));
        }
        self.state.step += 1;
        let mut record = Record {
            step: self.state.step,
            lr,
            loss: losses[0],
            ce: losses[1],
            dice_loss: losses[2],
            data_wait_s,
            step_s: t0.elapsed().as_secs_f64(),
            val_dice: None,
        };
        let step = self.state.step;
        let due = step % self.cfg.val_every == 0 || step == self.cfg.iterations;
        if due && !self.val_cases.is_empty() {
            record.val_dice = Some(self.validate()?);
        }
        self.history.append(record)?;
        if due {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Validates the current model; keeps it as `checkpoints/best` when its mean Dice is the best
    /// so far.
    fn validate(&mut self) -> Result<Vec<f64>> {
        let dice = validate(
            &self.model.valid(),
            &self.val_cases,
            &self.cfg,
            self.classes,
            &self.plain_device,
        )?;
        let mean = dice.iter().sum::<f64>() / dice.len().max(1) as f64;
        if self.state.best_dice.is_none_or(|b| mean > b) {
            self.state.best_dice = Some(mean);
            self.state.best_step = Some(self.state.step);
            self.best_val = Some(dice.clone());
            self.save_best()?;
        }
        log::info!(
            "step {}: validation Dice {}",
            self.state.step,
            fmt_dice(&self.class_names, &dice)
        );
        Ok(dice)
    }

    /// Writes `checkpoints/last` (with the optimiser) and redraws the curves.
    fn checkpoint(&mut self) -> Result<()> {
        self.state.elapsed_s = self.elapsed_before + self.loop_start.elapsed().as_secs_f64();
        checkpoint::save(
            &self.run.last(),
            &self.model.valid(),
            Some(&self.optim),
            &self.state,
        )?;
        curves::plot(&self.history.records, &self.run.curves(), &self.class_names)
    }

    fn save_best(&self) -> Result<()> {
        checkpoint::save(&self.run.best(), &self.model.valid(), None, &self.state)
    }

    fn status(&self) -> String {
        status_line(
            &self.history,
            &self.class_names,
            self.state.step - self.session_start,
            self.cfg.iterations.saturating_sub(self.state.step),
            self.loop_start,
        )
    }

    /// The final checkpoint (also the best one when there is no validation split), the curves,
    /// and the outcome.
    fn finish(mut self, interrupted: bool) -> Result<TrainOutcome> {
        self.checkpoint()?;
        if self.val_cases.is_empty() {
            // No validation split: the last model is also the best one we know.
            self.save_best()?;
        }
        let best_val = self.best_val.clone().or_else(|| {
            self.history.records.iter().rev().find_map(|r| {
                (Some(r.step) == self.state.best_step)
                    .then(|| r.val_dice.clone())
                    .flatten()
            })
        });
        if interrupted {
            println!(
                "interrupted: checkpoint written at step {} ({})",
                self.state.step,
                self.run.last().display()
            );
        }
        Ok(TrainOutcome {
            state: self.state,
            best_val_dice: best_val,
            interrupted,
            seconds: 0.0,
            postprocessing: None,
        })
    }
}

fn scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_scalar::<f32>() as f64
}
