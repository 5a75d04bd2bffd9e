//! Data commands: `devices`, `synth`, `import nci-isbi`, `explore`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::backend::{self, Backend, DeviceChoice};
use crate::data::dataset::Dataset;
use crate::data::import::nci_isbi::{self, ImportOptions};
use crate::data::synth::phantom::PhantomConfig;
use crate::data::synth::{self, tcia as synth_tcia};
use crate::report::explore;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SynthFormat {
    /// The project's dataset layout (NIfTI + dataset.json).
    Dataset,
    /// The TCIA download layout of NCI-ISBI 2013 (DICOM series + NRRD labels, with its quirks).
    NciIsbi,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of cases (split about 60/20/20 into train/validation/test).
    #[arg(long, default_value_t = 20)]
    pub cases: usize,
    /// Random seed: the same seed gives the same phantoms.
    #[arg(long, default_value_t = 2013)]
    pub seed: u64,
    /// In-plane matrix size (voxels per side).
    #[arg(long)]
    pub matrix: Option<usize>,
    #[arg(long, value_enum, default_value = "dataset")]
    pub format: SynthFormat,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImportCommand {
    /// NCI-ISBI 2013 prostate: TCIA DICOM folders + NRRD label folders (training, leaderboard, test).
    NciIsbi(ImportNciIsbiArgs),
    /// An nnU-Net v2 trained-model folder, converted once into a unet3d run folder (burnpack
    /// weights, the plan as unet3d config) that `predict --model` takes.
    Nnunet(ImportNnunetArgs),
}

#[derive(Debug, Args)]
pub struct ImportNnunetArgs {
    /// nnU-Net's folder: `nnUNet_results/DatasetXXX_Name/<Trainer>__<Plans>__<configuration>`.
    pub model: PathBuf,
    /// The run folder to create (must not exist, or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// The folds to import (default: every fold with checkpoint_final.pth).
    #[arg(long, num_args = 1..)]
    pub folds: Option<Vec<usize>>,
}

pub fn import_nnunet_cmd(a: ImportNnunetArgs) -> Result<()> {
    let summary = crate::infer::nnunet::import_nnunet(&a.model, &a.out, a.folds.as_deref())?;
    println!("{summary}");
    Ok(())
}

#[derive(Debug, Args)]
pub struct ImportNciIsbiArgs {
    /// Folder holding one DICOM folder tree per case (Prostate3T-01-xxxx, ProstateDx-01-xxxx).
    #[arg(long)]
    pub images: PathBuf,
    /// Label folders in the order training, leaderboard, test (or named so).
    #[arg(long, num_args = 1.., required = true)]
    pub labels: Vec<PathBuf>,
    /// Output dataset folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Label value mapping SRC=DST, e.g. `1=1 2=2` (default: 1 = peripheral zone, 2 = central gland).
    #[arg(long = "map", num_args = 1.., value_parser = parse_mapping)]
    pub mapping: Vec<(u8, u8)>,
}

pub(crate) fn parse_mapping(s: &str) -> Result<(u8, u8), String> {
    let (a, b) = s
        .split_once('=')
        .ok_or_else(|| format!("expected SRC=DST, got {s:?}"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<u8>()
            .map_err(|_| format!("not a label value 0..255: {v:?}"))
    };
    Ok((p(a)?, p(b)?))
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Dataset folder (with dataset.json).
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder for explore.md, explore.json and PNGs.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn devices() -> Result<()> {
    println!(
        "flex: CPU ({} threads)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let adapters = backend::list_adapters();
    if adapters.is_empty() {
        println!("wgpu: no adapter found");
    }
    for a in adapters {
        println!("wgpu: {a} driver {}", a.driver);
    }
    let auto = Backend::select(DeviceChoice::Auto)?;
    println!("--device auto selects: {}", auto.describe());
    Ok(())
}

pub fn synth_cmd(a: SynthArgs) -> Result<()> {
    let mut cfg = PhantomConfig::default();
    if let Some(m) = a.matrix {
        cfg.matrix = m;
    }
    match a.format {
        SynthFormat::Dataset => {
            let ds = synth::synth_dataset(&a.out, a.cases, a.seed, &cfg)?;
            let s = &ds.spec.splits;
            println!(
                "wrote {} phantoms to {} (train {}, validation {}, test {})",
                a.cases,
                a.out.display(),
                s.train.len(),
                s.validation.len(),
                s.test.len()
            );
        }
        SynthFormat::NciIsbi => {
            let layout = synth_tcia::write_tcia_layout(&a.out, a.cases, a.seed, &cfg)?;
            println!(
                "wrote {} phantoms in the TCIA layout: images {}",
                a.cases,
                layout.images.display()
            );
            for d in &layout.label_dirs {
                println!("  labels {}", d.display());
            }
        }
    }
    Ok(())
}

pub fn import_cmd(a: ImportNciIsbiArgs) -> Result<()> {
    let mut opts = ImportOptions::new(a.images, a.labels, a.out);
    if !a.mapping.is_empty() {
        opts.label_mapping = a.mapping;
    }
    let summary = nci_isbi::import(&opts)?;
    println!("{summary}");
    Ok(())
}

pub fn explore_cmd(a: ExploreArgs) -> Result<()> {
    let ds = Dataset::open(&a.data)?;
    let summary =
        explore::explore(&ds, &a.out).with_context(|| format!("exploring {}", a.data.display()))?;
    println!("{}", summary.label_mapping);
    println!("wrote {}", a.out.join("explore.md").display());
    Ok(())
}
