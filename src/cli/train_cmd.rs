//! `unet3d train`: config from a preset or a TOML file, command-line overrides, then the training loop.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use super::device::DeviceArgs;
use crate::data::dataset::Dataset;
use crate::run::TrainConfig;
use crate::train::{self, TrainOptions};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Dataset folder (with dataset.json).
    #[arg(long)]
    pub data: PathBuf,
    /// Run folder: config, checkpoints, metrics log, curves.
    #[arg(long)]
    pub out: PathBuf,
    /// Full training config (TOML or JSON); overrides the preset.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Named preset: paper, small, demo, tiny (default: small).
    #[arg(long)]
    pub preset: Option<String>,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Total training iterations.
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Patch size D H W (multiples of the pooling factors).
    #[arg(long, num_args = 3, value_names = ["D", "H", "W"])]
    pub patch: Option<Vec<usize>>,
    /// Patches per batch.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Label only every K-th slice per orientation (the paper's sparse annotation); the rest is ignored.
    #[arg(long)]
    pub sparse_slices: Option<usize>,
    /// Seed for weights, sampling and augmentation.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Validate every N iterations.
    #[arg(long)]
    pub val_every: Option<usize>,
    /// Data-loading threads.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Print the resolved config as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
}

impl TrainArgs {
    /// The preset or file, with every given flag applied on top.
    pub fn resolve(&self) -> Result<TrainConfig> {
        if self.resume {
            self.refuse_overrides_on_resume()?;
        }
        let mut cfg = match &self.config {
            Some(path) => TrainConfig::load(path)?,
            None => TrainConfig::preset(self.preset.as_deref().unwrap_or("small"))?,
        };
        if let Some(p) = &self.patch {
            cfg.sampler.patch = [p[0], p[1], p[2]];
            cfg.inference.patch = cfg.sampler.patch;
        }
        if let Some(b) = self.batch {
            cfg.sampler.batch_size = b;
        }
        if let Some(k) = self.sparse_slices {
            cfg.sparse_slices = Some(k);
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        if let Some(v) = self.val_every {
            cfg.val_every = v;
        }
        if let Some(w) = self.workers {
            cfg.workers = w;
        }
        if let Some(n) = self.iterations {
            cfg.iterations = n;
        }
        cfg.validate_for_planning()?;
        Ok(cfg)
    }
}

impl TrainArgs {
    /// `--resume` continues the saved run with its own config.json: a flag that would change it
    /// (anything but `--iterations` and `--kernels`) is an error, not silently ignored.
    fn refuse_overrides_on_resume(&self) -> Result<()> {
        let given: Vec<&str> = [
            ("--config", self.config.is_some()),
            ("--preset", self.preset.is_some()),
            ("--patch", self.patch.is_some()),
            ("--batch", self.batch.is_some()),
            ("--sparse-slices", self.sparse_slices.is_some()),
            ("--seed", self.seed.is_some()),
            ("--val-every", self.val_every.is_some()),
            ("--workers", self.workers.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, set)| set.then_some(flag))
        .collect();
        if !given.is_empty() {
            bail!(
                "--resume continues the run in {} with its saved config.json; {} would change it \
                 (only --iterations and --kernels may be given with --resume; start a new --out \
                 to train with other settings)",
                self.out.display(),
                given.join(", ")
            );
        }
        Ok(())
    }
}

pub fn train_cmd(a: TrainArgs) -> Result<()> {
    let cfg = a.resolve()?;
    if a.print_config {
        print!("{}", cfg.to_toml());
        return Ok(());
    }
    let ds = Dataset::open(&a.data)?;
    let backend = a.device.select()?;
    let opts = TrainOptions {
        resume: a.resume,
        progress: std::io::stderr().is_terminal(),
        iterations: a.iterations,
        ..TrainOptions::default()
    };
    let outcome = train::train(&ds, &a.out, cfg, &backend, &opts)
        .with_context(|| format!("training into {}", a.out.display()))?;
    let names: Vec<String> = (1..ds.spec.num_classes() as u8)
        .map(|v| ds.spec.label_name(v))
        .collect();
    println!(
        "trained {} iterations in {:.0} s{}",
        outcome.state.step,
        outcome.seconds,
        if outcome.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    if let (Some(d), Some(step)) = (&outcome.best_val_dice, outcome.state.best_step) {
        println!(
            "best validation Dice at step {step}: {}",
            train::progress::fmt_dice(&names, d)
        );
    }
    println!("run folder: {}", a.out.display());
    if outcome.interrupted {
        return Err(super::exit::Interrupted(format!(
            "training interrupted at step {}; `--resume` continues it",
            outcome.state.step
        ))
        .into());
    }
    Ok(())
}
