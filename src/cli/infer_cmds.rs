//! Inference commands: `predict` (one scan → a label map on its grid) and `evaluate` (a split → metrics).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::device::DeviceArgs;
use crate::data::dataset::{Dataset, Split};
use crate::data::io::{check_output, files_read, read_image_series, write_labels};
use crate::infer::predict::{PredictOptions, Predictor};
use crate::metrics::evaluate::evaluate;

/// Post-processing and test-time augmentation switches shared by predict and evaluate.
#[derive(Debug, Clone, Args)]
pub struct PredictFlags {
    /// Average the prediction with that of the left-right mirrored input (when training mirrored).
    #[arg(long)]
    pub tta: bool,
    /// Keep every connected component (default: only the largest per class).
    #[arg(long)]
    pub all_components: bool,
}

impl PredictFlags {
    pub fn options(&self) -> PredictOptions {
        PredictOptions {
            mirror_tta: self.tta,
            largest_component: !self.all_components,
        }
    }
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A run folder (its final checkpoint, `checkpoints/last`) or a checkpoint inside one
    /// (`RUN/checkpoints/best`: the best-validated model).
    #[arg(long)]
    pub model: PathBuf,
    /// Scan: NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr) or a DICOM series folder.
    #[arg(long)]
    pub input: PathBuf,
    /// Output label map (.nii.gz, .nii, .nrrd or .nhdr), on exactly the input grid.
    #[arg(long)]
    pub output: PathBuf,
    /// The DICOM series to read when the input folder holds several (its SeriesInstanceUID; the
    /// error without it lists them).
    #[arg(long)]
    pub series: Option<String>,
    #[command(flatten)]
    pub flags: PredictFlags,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn predict_cmd(a: PredictArgs) -> Result<()> {
    // Before any work: the output is writable and never one of the files the input is read from
    // (a detached NRRD's data file and DICOM slices included).
    check_output(&a.output, &files_read(&a.input)?)?;
    let backend = a.device.select()?;
    let clock = std::time::Instant::now();
    let predictor = Predictor::load(&a.model, &backend)?;
    let load_s = clock.elapsed().as_secs_f64();
    let clock = std::time::Instant::now();
    let image = read_image_series(&a.input, a.series.as_deref())?;
    let read_s = clock.elapsed().as_secs_f64();
    let (labels, t) = predictor
        .predict(&image, &a.flags.options())
        .with_context(|| format!("predicting {}", a.input.display()))?;
    let clock = std::time::Instant::now();
    write_labels(&a.output, &labels).with_context(|| format!("writing {}", a.output.display()))?;
    let write_s = clock.elapsed().as_secs_f64();
    println!(
        "timing: load model {load_s:.2} s, read {read_s:.2} s, preprocess {:.2} s, network {:.2} s, \
         restore {:.2} s, post-process {:.2} s, write {write_s:.2} s",
        t.preprocess_s, t.network_s, t.restore_s, t.postprocess_s
    );
    for c in 1..predictor.classes() as u8 {
        let n = labels.data.iter().filter(|&&v| v == c).count();
        let name = predictor
            .info
            .label_names
            .get(c as usize)
            .cloned()
            .unwrap_or_else(|| format!("label {c}"));
        println!("  {name}: {:.2} mL", n as f64 * labels.voxel_ml());
    }
    println!(
        "wrote {} ({:?} voxels, input grid)",
        a.output.display(),
        labels.dims
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// A run folder (its final checkpoint, `checkpoints/last`) or a checkpoint inside one
    /// (`RUN/checkpoints/best`: the best-validated model).
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset folder (with dataset.json).
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, value_enum, default_value = "test")]
    pub split: Split,
    /// Output folder: per_case.csv, summary.json, evaluation.md, overlays.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub flags: PredictFlags,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn evaluate_cmd(a: EvaluateArgs) -> Result<()> {
    let backend = a.device.select()?;
    let ds = Dataset::open(&a.data)?;
    let predictor = Predictor::load(&a.model, &backend)?;
    println!(
        "evaluating {} on the {:?} split",
        a.model.display(),
        a.split
    );
    let eval = evaluate(
        &predictor,
        &ds,
        a.split,
        &a.out,
        &a.flags.options(),
        &backend.describe(),
    )?;
    println!("{}", eval.summary.to_markdown());
    println!("wrote {}", a.out.join("summary.json").display());
    Ok(())
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The training run folder.
    #[arg(long)]
    pub run: PathBuf,
    /// An evaluation folder (from `evaluate`).
    #[arg(long)]
    pub eval: Option<PathBuf>,
    /// An explore folder (from `explore`).
    #[arg(long)]
    pub explore: Option<PathBuf>,
    /// Output folder for report.md and report.html.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn report_cmd(a: ReportArgs) -> Result<()> {
    let paths = crate::report::run_report::write_report(
        &a.run,
        a.eval.as_deref(),
        a.explore.as_deref(),
        &a.out,
    )?;
    if let Some(dir) = &a.eval {
        let eval = crate::metrics::evaluate::load_evaluation(dir)?;
        println!("{}", crate::report::run_report::headline(&eval));
    }
    println!(
        "wrote {} and {}",
        paths.markdown.display(),
        paths.html.display()
    );
    Ok(())
}
