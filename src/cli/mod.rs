//! Command-line interface: argument parsing only; each command calls one library function.

mod bench_cmd;
mod cv_cmd;
mod data_cmds;
mod demo_cmd;
mod device;
mod exit;
mod infer_cmds;
mod train_cmd;

use anyhow::Result;
use clap::{Parser, Subcommand};

use bench_cmd::BenchArgs;
use cv_cmd::CvArgs;
use data_cmds::{ExploreArgs, ImportCommand, SynthArgs};
use demo_cmd::DemoArgs;
pub use device::DeviceArgs;
pub use exit::{Interrupted, exit_code};
use infer_cmds::{EvaluateArgs, PredictArgs, ReportArgs};
use train_cmd::TrainArgs;

#[derive(Debug, Parser)]
#[command(
    name = "unet3d",
    version,
    about = "3D U-Net for volumetric medical image segmentation (burn: wgpu + flex)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Largest volume (in voxels) an input file, its header or a resampled grid may have
    /// (default 2^29, or UNET3D_MAX_VOXELS): bigger ones are refused before memory is reserved.
    #[arg(long, global = true)]
    pub max_voxels: Option<u64>,
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
    /// Train a 3D U-Net on a dataset (flex or wgpu); `--resume` continues a run exactly.
    Train(TrainArgs),
    /// Cross-validate: folds over the cases (nnU-Net's practice; leave-one-out with as many folds
    /// as cases) or over annotated slices (the paper's semi-automated protocol).
    Cv(CvArgs),
    /// Segment one scan (NIfTI, NRRD or DICOM folder) with a trained run, or an ensemble of runs
    /// or cross-validation folds; output on the input grid.
    Predict(PredictArgs),
    /// Predict every case of a split and score it at native resolution (Dice, IoU, HD95, ASSD).
    Evaluate(EvaluateArgs),
    /// Write report.md and a standalone report.html for a run (with its evaluation and exploration).
    Report(ReportArgs),
    /// The whole pipeline on synthetic phantoms: data, explore, train, evaluate on held-out cases.
    Demo(DemoArgs),
    /// Time conv layers, the U-Net, a training step and sliding-window inference on every backend
    /// (flex, each wgpu adapter with built-in and WGSL kernels): table, bench.json, chart.
    Bench(BenchArgs),
}

pub fn run(cli: Cli) -> Result<()> {
    if let Some(n) = cli.max_voxels {
        crate::util::limits::set_max_voxels(n);
    }
    match cli.command {
        Command::Devices => data_cmds::devices(),
        Command::Synth(a) => data_cmds::synth_cmd(a),
        Command::Import(ImportCommand::NciIsbi(a)) => data_cmds::import_cmd(a),
        Command::Import(ImportCommand::Nnunet(a)) => data_cmds::import_nnunet_cmd(a),
        Command::Explore(a) => data_cmds::explore_cmd(a),
        Command::Train(a) => train_cmd::train_cmd(a),
        Command::Cv(a) => cv_cmd::cv_cmd(a),
        Command::Predict(a) => infer_cmds::predict_cmd(a),
        Command::Evaluate(a) => infer_cmds::evaluate_cmd(a),
        Command::Report(a) => infer_cmds::report_cmd(a),
        Command::Demo(a) => demo_cmd::demo_cmd(a),
        Command::Bench(a) => bench_cmd::bench_cmd(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use data_cmds::parse_mapping;

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
