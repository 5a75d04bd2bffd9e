//! Command-line interface: argument parsing only; each command calls one library function.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::backend::{self, Backend, DeviceChoice};
use crate::data::dataset::Dataset;
use crate::data::import_nci_isbi::{self, ImportOptions};
use crate::data::phantom::PhantomConfig;
use crate::data::{synth, synth_tcia};
use crate::report::explore;

#[derive(Debug, Parser)]
#[command(
    name = "unet3d",
    version,
    about = "3D U-Net for volumetric medical image segmentation (burn: wgpu + flex)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the compute backends and wgpu adapters on this machine.
    Devices,
    /// Generate synthetic prostate-MRI phantoms (the embedded default data).
    Synth(SynthArgs),
    /// Import a public dataset into the project's dataset layout.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Describe a dataset: per-case table, summary, montages, histogram, label volumes.
    Explore(ExploreArgs),
}

/// Backend choice shared by every computing command.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    /// auto: a wgpu GPU if one exists, else flex; wgpu-cpu: wgpu on a software adapter (lavapipe).
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
}

impl DeviceArgs {
    /// Selects the backend and prints what was chosen.
    pub fn select(&self) -> Result<Backend> {
        let b = Backend::select(self.device)?;
        println!("backend: {}", b.describe());
        Ok(b)
    }
}

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

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// NCI-ISBI 2013 prostate: TCIA DICOM folders + NRRD label folders (training, leaderboard, test).
    NciIsbi(ImportNciIsbiArgs),
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

fn parse_mapping(s: &str) -> Result<(u8, u8), String> {
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

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Devices => devices(),
        Command::Synth(a) => synth_cmd(a),
        Command::Import(ImportCommand::NciIsbi(a)) => import_cmd(a),
        Command::Explore(a) => explore_cmd(a),
    }
}

fn devices() -> Result<()> {
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

fn synth_cmd(a: SynthArgs) -> Result<()> {
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

fn import_cmd(a: ImportNciIsbiArgs) -> Result<()> {
    let mut opts = ImportOptions::new(a.images, a.labels, a.out);
    if !a.mapping.is_empty() {
        opts.label_mapping = a.mapping;
    }
    let summary = import_nci_isbi::import(&opts)?;
    println!("{summary}");
    Ok(())
}

fn explore_cmd(a: ExploreArgs) -> Result<()> {
    let ds = Dataset::open(&a.data)?;
    let summary =
        explore::explore(&ds, &a.out).with_context(|| format!("exploring {}", a.data.display()))?;
    println!("{}", summary.label_mapping);
    println!("wrote {}", a.out.join("explore.md").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn label_mapping_parses() {
        assert_eq!(parse_mapping("1=2").unwrap(), (1, 2));
        assert!(parse_mapping("1").is_err());
        assert!(parse_mapping("1=300").is_err());
    }
}
