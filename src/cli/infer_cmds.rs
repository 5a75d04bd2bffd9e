//! Inference commands: `predict` (one scan → a label map on its grid) and `evaluate` (a split → metrics).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::device::DeviceArgs;
use crate::backend::Backend;
use crate::data::dataset::{Dataset, Split};
use crate::data::io::npy::write_npy_f32;
use crate::data::io::{check_output, files_read, read_image_series, write_labels};
use crate::infer::Ensemble;
use crate::infer::postprocess::PostprocessChoice;
use crate::infer::predict::PredictOptions;
use crate::metrics::evaluate::evaluate;

/// Which models, post-processing and test-time augmentation: shared by predict and evaluate.
#[derive(Debug, Clone, Args)]
pub struct PredictFlags {
    /// A run folder (its final checkpoint, `checkpoints/last`), a checkpoint inside one
    /// (`RUN/checkpoints/best`), a cross-validation folder (its folds, ensembled), or an nnU-Net
    /// v2 trained-model folder (`…/nnUNetTrainer__nnUNetPlans__3d_fullres`) or its import.
    /// Repeat it to ensemble several: their probabilities are averaged.
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    /// With a cross-validation or nnU-Net folder: the folds to ensemble (default: every trained
    /// fold).
    #[arg(long, num_args = 1..)]
    pub folds: Option<Vec<usize>>,
    /// Average the prediction with that of the left-right mirrored input (when training mirrored).
    #[arg(long)]
    pub tta: bool,
    /// nnU-Net models: no test-time mirroring (by default they mirror over the axes their
    /// checkpoint allows, as nnUNetv2_predict does).
    #[arg(long)]
    pub disable_tta: bool,
    /// auto: the post-processing decided from validation and recorded with the model (none
    /// recorded: every component kept); none: keep every component; largest: keep only the
    /// largest connected component of every class.
    #[arg(long, value_enum, default_value = "auto")]
    pub postprocess: PostprocessChoice,
    /// The same as `--postprocess none`.
    #[arg(long)]
    pub all_components: bool,
}

impl PredictFlags {
    pub fn options(&self) -> PredictOptions {
        PredictOptions {
            mirror_tta: self.tta,
            disable_nnunet_tta: self.disable_tta,
            postprocess: if self.all_components {
                PostprocessChoice::None
            } else {
                self.postprocess
            },
        }
    }

    /// Loads the model(s) and says what will be run.
    pub fn load(&self, backend: &Backend) -> Result<Ensemble> {
        let models = Ensemble::load(&self.model, self.folds.as_deref(), backend)?;
        println!(
            "model: {} ({} model{})",
            models.description,
            models.members.len(),
            if models.members.len() == 1 {
                ""
            } else {
                "s, probabilities averaged"
            }
        );
        println!(
            "{}",
            models
                .postprocessing(&self.options())
                .describe(models.label_names())
        );
        Ok(models)
    }
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Scan: NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr) or a DICOM series folder; one per input
    /// channel for multi-channel models (nnU-Net naming: `CASE_0000.nii.gz` alone also reads
    /// `CASE_0001.nii.gz`, … beside it).
    #[arg(long, num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
    /// Output label map (.nii.gz, .nii, .nrrd or .nhdr), on exactly the input grid.
    #[arg(long)]
    pub output: PathBuf,
    /// Also write the (mean) probabilities as a float32 .npy array of shape
    /// (classes, z, y, x), nnU-Net's layout (`--save_probabilities`).
    #[arg(long, value_name = "FILE.npy")]
    pub probabilities: Option<PathBuf>,
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
    // Before any work: the outputs are writable and never one of the files the inputs are read
    // from (a detached NRRD's data file and DICOM slices included).
    check_outputs(&a, &a.input)?;
    let backend = a.device.select()?;
    let clock = std::time::Instant::now();
    let models = a.flags.load(&backend)?;
    let load_s = clock.elapsed().as_secs_f64();
    let inputs = channel_files(&a.input, models.in_channels())?;
    check_outputs(&a, &inputs)?;
    let clock = std::time::Instant::now();
    let images = inputs
        .iter()
        .map(|p| read_image_series(p, a.series.as_deref()))
        .collect::<crate::Result<Vec<_>>>()?;
    let read_s = clock.elapsed().as_secs_f64();
    let (labels, probs, t) = models
        .predict_channels(&images, &a.flags.options())
        .with_context(|| format!("predicting {}", a.input[0].display()))?;
    if let Some(path) = &a.probabilities {
        let [nx, ny, nz] = labels.dims;
        let flat: Vec<f32> = probs.concat();
        write_npy_f32(path, &[probs.len(), nz, ny, nx], &flat)
            .with_context(|| format!("writing {}", path.display()))?;
        println!(
            "wrote {} (probabilities, {} channels)",
            path.display(),
            probs.len()
        );
    }
    let clock = std::time::Instant::now();
    write_labels(&a.output, &labels).with_context(|| format!("writing {}", a.output.display()))?;
    let write_s = clock.elapsed().as_secs_f64();
    println!("timing: load {load_s:.2} s, read {read_s:.2} s, write {write_s:.2} s");
    for (m, (model, mt)) in models.members.iter().zip(&t.per_model).enumerate() {
        println!(
            "  model {m} ({}): preprocess {:.2} s, network {:.2} s, restore {:.2} s",
            model.source().display(),
            mt.preprocess_s,
            mt.network_s,
            mt.restore_s
        );
    }
    println!(
        "  averaging {:.2} s, post-process {:.2} s",
        t.combine_s, t.postprocess_s
    );
    for c in 1..models.classes() as u8 {
        let n = labels.data.iter().filter(|&&v| v == c).count();
        let name = models
            .label_names()
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

/// The outputs checked against every file `inputs` read.
fn check_outputs(a: &PredictArgs, inputs: &[PathBuf]) -> Result<()> {
    let mut read = Vec::new();
    for input in inputs {
        read.extend(files_read(input)?);
    }
    check_output(&a.output, &read)?;
    if let Some(p) = &a.probabilities {
        crate::util::fsio::refuse_overwrite(&[p.clone(), a.output.clone()], &read)?;
        if crate::util::fsio::resolve(p) == crate::util::fsio::resolve(&a.output) {
            anyhow::bail!(
                "{}: --probabilities and --output name the same file",
                p.display()
            );
        }
        crate::util::fsio::check_writable_folder(p)?;
    }
    Ok(())
}

/// One file per input channel: as given, or for a single `CASE_0000.ext` the nnU-Net siblings
/// `CASE_0001.ext`, … up to `channels`.
fn channel_files(given: &[PathBuf], channels: usize) -> Result<Vec<PathBuf>> {
    if given.len() == channels {
        return Ok(given.to_vec());
    }
    let name = given[0]
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let sibling = |k: usize| -> Option<PathBuf> {
        let name = name.as_deref()?;
        let at = name.find("_0000.")?;
        Some(given[0].with_file_name(format!("{}_{k:04}{}", &name[..at], &name[at + 5..])))
    };
    if given.len() == 1 && channels > 1 && sibling(0).is_some() {
        let files: Vec<PathBuf> = (0..channels).filter_map(sibling).collect();
        if let Some(missing) = files.iter().find(|f| !f.exists()) {
            anyhow::bail!(
                "the model takes {channels} input channels; {} is missing",
                missing.display()
            );
        }
        return Ok(files);
    }
    anyhow::bail!(
        "the model takes {channels} input channel(s), {} --input given",
        given.len()
    )
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
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
    let models = a.flags.load(&backend)?;
    println!("evaluating on the {:?} split", a.split);
    let eval = evaluate(
        &models,
        &ds,
        a.split,
        &a.out,
        &a.flags.options(),
        &backend.describe(),
    )?;
    println!("{}", eval.summary.to_markdown());
    for (m, t) in eval.mean_timings_per_model.iter().enumerate() {
        println!("model {m}: {:.2} s per case", t.total());
    }
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
    /// A cross-validation folder (from `unet3d cv`); repeat for several. A semi-automated 3-fold
    /// one fills the paper's Table 1 fold columns, a leave-one-out one its Table 3 row.
    #[arg(long)]
    pub cv: Vec<PathBuf>,
    /// Output folder for report.md and report.html.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn report_cmd(a: ReportArgs) -> Result<()> {
    let cvs: Vec<&std::path::Path> = a.cv.iter().map(PathBuf::as_path).collect();
    let paths = crate::report::run_report::write_report_with(
        &a.run,
        a.eval.as_deref(),
        a.explore.as_deref(),
        &cvs,
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
