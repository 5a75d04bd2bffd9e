//! `unet3d import nnunet DIR --out RUN`: an nnU-Net model folder converted once into a unet3d
//! run folder, so later loads read burnpack weights instead of PyTorch pickles:
//!
//! ```text
//! RUN/config.json                   the network as unet3d's config (preset "nnunet")
//! RUN/run.json                      label names, target spacing
//! RUN/nnunet.json                   the inference plan (preprocessing, tiles, mirroring, labels)
//! RUN/checkpoints/fold_K/model.bpk  each fold's weights
//! RUN/source/{plans,dataset}.json   nnU-Net's files, for reference
//! ```
//!
//! Written into a temporary sibling folder and renamed into place, so a failed import leaves
//! nothing behind.

use std::path::{Path, PathBuf};

use super::model::{NnunetModel, PLAN_FILE, is_nnunet_folder};
use super::plans::NnunetPlan;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::run::checkpoint::MODEL_FILE;
use crate::run::{RunDir, RunInfo, TrainConfig};
use crate::util::fsio;

/// What an import wrote.
pub struct ImportSummary {
    pub out: PathBuf,
    pub folds: Vec<String>,
    pub plan: NnunetPlan,
    pub parameters: usize,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.plan;
        writeln!(
            f,
            "imported {} {} ({}), folds {:?} → {}",
            p.dataset_name,
            p.configuration,
            p.trainer,
            self.folds,
            self.out.display()
        )?;
        writeln!(
            f,
            "  network: {} stages, channels {:?}, kernels {:?}, {} parameters per fold",
            p.model.depth + 1,
            p.model.stage_channels.clone().unwrap_or_default(),
            p.model.conv_kernels.clone().unwrap_or_default(),
            self.parameters
        )?;
        write!(
            f,
            "  patch {:?} at {:?} mm, labels {:?}{}, mirroring {:?}",
            p.patch_size,
            p.spacing,
            p.labels.names,
            if p.labels.regions.is_some() {
                " (regions)"
            } else {
                ""
            },
            p.mirror_axes
        )
    }
}

/// Converts the nnU-Net model folder `src` (its `folds`, default all) into the run folder `out`.
pub fn import_nnunet(src: &Path, out: &Path, folds: Option<&[usize]>) -> Result<ImportSummary> {
    if !is_nnunet_folder(src) {
        return Err(Error::invalid(
            src,
            "not an nnU-Net trained-model folder (plans.json, dataset.json and fold_*/ expected)",
        ));
    }
    if out.exists() && std::fs::read_dir(out).map_or(true, |mut d| d.next().is_some()) {
        return Err(Error::invalid(
            out,
            "exists and is not an empty folder; choose a new --out",
        ));
    }
    fsio::check_writable_folder(out)?;
    let model = NnunetModel::load_nnunet(src, folds, &Backend::flex())?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let tmp = out.with_file_name(format!(".{name}.importing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let written = write_run(&tmp, src, &model);
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if out.exists() {
        std::fs::remove_dir(out).map_err(|e| Error::io(out, e))?;
    }
    std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e))?;
    Ok(ImportSummary {
        out: out.to_path_buf(),
        folds: model.folds.iter().map(|(f, _)| f.clone()).collect(),
        parameters: crate::model::model_stats(&model.plan.model).params,
        plan: model.plan,
    })
}

fn write_run(tmp: &Path, src: &Path, model: &NnunetModel) -> Result<()> {
    let run = RunDir::new(tmp);
    fsio::create_dir(&run.checkpoints())?;
    let plan = &model.plan;
    let mut config = TrainConfig::preset("demo")?;
    config.preset = "nnunet".into();
    config.model = plan.model.clone();
    config.model.kernels = Default::default();
    config.plan_pooling = false;
    config.sampler.patch = plan.patch_size;
    config.inference.patch = plan.patch_size;
    config.validate()?;
    let json = serde_json::to_string_pretty(&config).expect("config serialises");
    fsio::write_atomic(&run.config(), json.as_bytes())?;
    // run.json's spacing is per voxel axis i, j, k (x, y, z); the plan's is per transposed
    // array axis (z, y, x before the transpose).
    let mut zyx = [0.0; 3];
    for (d, &a) in plan.transpose_forward.iter().enumerate() {
        zyx[a] = plan.spacing[d];
    }
    RunInfo {
        format_version: 0,
        dataset: src.to_path_buf(),
        label_names: plan.labels.names.clone(),
        target_spacing: [zyx[2], zyx[1], zyx[0]],
        backend: format!("nnU-Net {} ({})", plan.configuration, plan.trainer),
        parameters: crate::model::model_stats(&plan.model).params,
        train_cases: 0,
        validation_cases: 0,
    }
    .save(&run)?;
    let json = serde_json::to_string_pretty(plan).expect("plan serialises");
    fsio::write_atomic(&tmp.join(PLAN_FILE), json.as_bytes())?;
    let source = tmp.join("source");
    fsio::create_dir(&source)?;
    for file in ["plans.json", "dataset.json"] {
        let bytes = fsio::read_at_most(&src.join(file), 64 << 20)?;
        fsio::write_atomic(&source.join(file), &bytes)?;
    }
    for (fold, net) in &model.folds {
        let dir = run.checkpoints().join(format!("fold_{fold}"));
        fsio::create_dir(&dir)?;
        net.save(&dir.join(MODEL_FILE))?;
    }
    Ok(())
}
