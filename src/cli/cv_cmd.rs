//! `unet3d cv`: cross-validation over a dataset's train + validation cases.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::device::DeviceArgs;
use crate::cv::{CvOptions, Protocol, run_cv};
use crate::data::dataset::Dataset;
use crate::run::TrainConfig;

#[derive(Debug, Args)]
pub struct CvArgs {
    /// Dataset folder (with dataset.json); its train and validation cases are cross-validated.
    #[arg(long)]
    pub data: PathBuf,
    /// Cross-validation folder: splits.json, fold_K/ run folders, cv_summary.json, cv.md.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of folds (as many as cases: leave-one-out).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Train (or resume) only this fold, 0-based: to spread folds over machines or GPUs.
    #[arg(long)]
    pub fold: Option<usize>,
    /// cases: folds over cases (nnU-Net); semi: the paper's semi-automated protocol, folds over
    /// the annotated slices of the same volumes (with --sparse-slices).
    #[arg(long, value_enum, default_value = "cases")]
    pub protocol: Protocol,
    /// With --protocol semi: every K-th slice per orientation is annotated.
    #[arg(long)]
    pub sparse_slices: Option<usize>,
    /// Named preset: paper, small, demo, tiny (default: small).
    #[arg(long)]
    pub preset: Option<String>,
    /// Full training config (TOML or JSON); overrides the preset.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Training iterations per fold.
    #[arg(long)]
    pub iterations: Option<usize>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn cv_cmd(a: CvArgs) -> Result<()> {
    let mut cfg = match &a.config {
        Some(path) => TrainConfig::load(path)?,
        None => TrainConfig::preset(a.preset.as_deref().unwrap_or("small"))?,
    };
    if let Some(n) = a.iterations {
        cfg.iterations = n;
        cfg.val_every = cfg.val_every.min(n);
    }
    let ds = Dataset::open(&a.data)?;
    let backend = a.device.select()?;
    let opts = CvOptions {
        folds: a.folds,
        fold: a.fold,
        protocol: a.protocol,
        sparse_slices: a.sparse_slices,
        progress: std::io::stderr().is_terminal(),
    };
    let outcome = run_cv(&ds, &a.out, cfg, &backend, &opts)
        .with_context(|| format!("cross-validating into {}", a.out.display()))?;
    if outcome.interrupted {
        return Err(super::exit::Interrupted(
            "cross-validation interrupted; run the same command again to continue".into(),
        )
        .into());
    }
    if let Some(summary) = outcome.summary {
        print!("{}", summary.to_markdown());
        println!(
            "wrote {}",
            crate::run::CvDir::new(&a.out).summary().display()
        );
    }
    Ok(())
}
