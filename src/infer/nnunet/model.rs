//! An nnU-Net v2 model ready to segment: its plan and one network per fold, loaded from
//! nnU-Net's own model folder (parsing the checkpoints) or from a run folder that `unet3d import
//! nnunet` wrote (burnpack weights). Both give the same networks, hence the same segmentation.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;

use super::array::Array3;
use super::export::{labels_from_regions, probabilities_on_input_grid};
use super::plans::{NnunetPlan, PLAN_FORMAT_VERSION, plan_from, read_json};
use super::preprocess::preprocess;
use super::sliding::predict_logits;
use super::weights::{load_network, read_meta};
use crate::backend::Backend;
use crate::data::Image;
use crate::data::labels::argmax;
use crate::error::{Error, Result};
use crate::infer::predict::Timings;
use crate::model::{UNet3d, UNet3dConfig};
use crate::util::{fsio, limits};

/// The checkpoint nnU-Net predicts with by default (`-chk`).
pub const CHECKPOINT: &str = "checkpoint_final.pth";
/// The plan inside an imported run folder.
pub const PLAN_FILE: &str = "nnunet.json";

/// An nnU-Net model: the plan and its folds' networks (their logits are averaged).
pub struct NnunetModel {
    pub plan: NnunetPlan,
    /// Fold name (`"0"`, `"all"`, …) and network.
    pub folds: Vec<(String, UNet3d)>,
    /// The folder given.
    pub source: PathBuf,
    /// Where each fold's weights came from.
    pub weights: Vec<PathBuf>,
    device: Device,
}

/// Whether `path` is an nnU-Net trained-model folder (`plans.json`, `dataset.json`, `fold_*`).
pub fn is_nnunet_folder(path: &Path) -> bool {
    path.join("plans.json").is_file()
        && path.join("dataset.json").is_file()
        && !fold_dirs(path).is_empty()
}

/// Whether `path` is a run folder written by `unet3d import nnunet`.
pub fn is_imported_run(path: &Path) -> bool {
    path.join(PLAN_FILE).is_file()
}

/// `fold_*` subfolders (name after `fold_`, path), numeric folds first in order, then others.
fn fold_dirs(path: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(path) else {
        return Vec::new();
    };
    let mut folds: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("fold_")
                .map(|f| (f.to_string(), e.path()))
        })
        .collect();
    folds.sort_by_key(|(f, _)| (f.parse::<usize>().unwrap_or(usize::MAX), f.clone()));
    folds
}

/// The folds to use: those asked for, else every numbered fold with weights (as
/// `nnUNetv2_predict` auto-detects them), else `fold_all`.
fn choose_folds(
    source: &Path,
    available: Vec<(String, PathBuf)>,
    wanted: Option<&[usize]>,
) -> Result<Vec<(String, PathBuf)>> {
    let names: Vec<String> = available.iter().map(|(f, _)| f.clone()).collect();
    let chosen: Vec<(String, PathBuf)> = match wanted {
        Some(w) => w
            .iter()
            .map(|k| {
                available
                    .iter()
                    .find(|(f, _)| *f == k.to_string())
                    .cloned()
                    .ok_or_else(|| {
                        Error::invalid(
                            source,
                            format!("has no fold {k} with weights (it has {names:?})"),
                        )
                    })
            })
            .collect::<Result<_>>()?,
        None => {
            let numbered: Vec<_> = available
                .iter()
                .filter(|(f, _)| f.parse::<usize>().is_ok())
                .cloned()
                .collect();
            if numbered.is_empty() {
                available
            } else {
                numbered
            }
        }
    };
    if chosen.is_empty() {
        return Err(Error::invalid(
            source,
            format!("has no fold_*/{CHECKPOINT}"),
        ));
    }
    Ok(chosen)
}

impl NnunetModel {
    /// Loads an nnU-Net model folder or an imported run (`folds`: a subset of their folds).
    pub fn load(path: &Path, folds: Option<&[usize]>, backend: &Backend) -> Result<Self> {
        if is_imported_run(path) {
            Self::load_imported(path, folds, backend)
        } else {
            Self::load_nnunet(path, folds, backend)
        }
    }

    /// nnU-Net's model folder: plans and checkpoints parsed.
    pub fn load_nnunet(path: &Path, folds: Option<&[usize]>, backend: &Backend) -> Result<Self> {
        let available: Vec<(String, PathBuf)> = fold_dirs(path)
            .into_iter()
            .map(|(f, dir)| (f, dir.join(CHECKPOINT)))
            .filter(|(_, ckpt)| ckpt.is_file())
            .collect();
        let chosen = choose_folds(path, available, folds)?;
        let plan = read_plan(path, &chosen[0].1)?;
        Self::assemble(plan, path, chosen, backend, load_network)
    }

    /// A run folder from `unet3d import nnunet`: `nnunet.json` and burnpack weights per fold.
    pub fn load_imported(path: &Path, folds: Option<&[usize]>, backend: &Backend) -> Result<Self> {
        let plan_path = path.join(PLAN_FILE);
        let bytes = fsio::read_at_most(&plan_path, 64 << 20)?;
        let plan: NnunetPlan = serde_json::from_slice(&bytes).map_err(|e| {
            Error::invalid(&plan_path, format!("not an imported nnU-Net plan: {e}"))
        })?;
        if plan.format_version > PLAN_FORMAT_VERSION {
            return Err(Error::invalid(
                &plan_path,
                format!(
                    "format_version {} is newer than this unet3d reads ({PLAN_FORMAT_VERSION}): update unet3d",
                    plan.format_version
                ),
            ));
        }
        let available: Vec<(String, PathBuf)> = fold_dirs(&path.join("checkpoints"))
            .into_iter()
            .map(|(f, dir)| (f, dir.join(crate::run::checkpoint::MODEL_FILE)))
            .filter(|(_, w)| w.is_file())
            .collect();
        let chosen = choose_folds(path, available, folds)?;
        Self::assemble(plan, path, chosen, backend, |weights, config, device| {
            UNet3d::load(config, weights, device)
        })
    }

    /// The model of `plan` with each chosen fold's network read by `load` (weights file, network
    /// config with the backend's kernel choice, device).
    fn assemble(
        plan: NnunetPlan,
        source: &Path,
        chosen: Vec<(String, PathBuf)>,
        backend: &Backend,
        load: impl Fn(&Path, &UNet3dConfig, &Device) -> Result<UNet3d>,
    ) -> Result<Self> {
        let mut config = plan.model.clone();
        config.kernels = backend.kernels_for(config.kernels);
        let mut nets = Vec::new();
        for (fold, weights) in &chosen {
            nets.push((fold.clone(), load(weights, &config, &backend.device)?));
        }
        Ok(NnunetModel {
            plan,
            folds: nets,
            source: source.to_path_buf(),
            weights: chosen.into_iter().map(|(_, p)| p).collect(),
            device: backend.device.clone(),
        })
    }

    /// Label values of the segmentation, background included.
    pub fn label_values(&self) -> usize {
        self.plan.labels.label_values()
    }

    /// Probabilities per output channel on the scan's grid (softmax over classes, or a sigmoid
    /// per region), from `channels` (one image per input channel, `_0000`, `_0001`, …).
    /// `mirror`: test-time mirroring over the checkpoint's axes (nnU-Net's default).
    pub fn probabilities(
        &self,
        channels: &[Image],
        mirror: bool,
    ) -> Result<(Vec<Vec<f32>>, Timings)> {
        let want = self.plan.channel_names.len();
        if channels.len() != want {
            return Err(Error::config(format!(
                "the model takes {want} input channels ({:?}), {} given",
                self.plan.channel_names,
                channels.len()
            )));
        }
        let first = &channels[0];
        if let Some(c) = channels.iter().position(|c| c.dims != first.dims) {
            return Err(Error::config(format!(
                "input channel {c} has {:?} voxels, channel 0 has {:?}: they must match",
                channels[c].dims, first.dims
            )));
        }
        let mut t = Timings::default();
        let clock = Instant::now();
        let [nx, ny, nz] = first.dims;
        let arrays: Vec<Array3<f32>> = channels
            .iter()
            .map(|c| Array3::from_vec([nz, ny, nx], c.data.clone()))
            .collect();
        let spacing = [first.spacing[2], first.spacing[1], first.spacing[0]];
        let pre = preprocess(&self.plan, &arrays, spacing, limits::max_voxels() as usize)?;
        t.preprocess_s = clock.elapsed().as_secs_f64();

        let clock = Instant::now();
        let nets: Vec<&UNet3d> = self.folds.iter().map(|(_, n)| n).collect();
        let axes = if mirror {
            self.plan.mirror_axes.as_deref()
        } else {
            None
        };
        let logits = predict_logits(&nets, &pre.data, self.plan.patch_size, axes, &self.device)?;
        t.network_s = clock.elapsed().as_secs_f64();

        let clock = Instant::now();
        let probs = probabilities_on_input_grid(&self.plan, &logits, &pre.geometry);
        t.restore_s = clock.elapsed().as_secs_f64();
        Ok((probs.into_iter().map(|p| p.data).collect(), t))
    }

    /// The segmentation of probabilities from [`probabilities`](Self::probabilities).
    pub fn labels(&self, probs: &[Vec<f32>]) -> Vec<u8> {
        match &self.plan.labels.regions_class_order {
            Some(order) => labels_from_regions(probs, order),
            None => argmax(probs),
        }
    }
}

/// The plan of a model folder, the configuration and mirroring taken from `checkpoint`.
pub fn read_plan(dir: &Path, checkpoint: &Path) -> Result<NnunetPlan> {
    let meta = read_meta(checkpoint)?;
    // The configuration: the checkpoint's init_args, else the folder name
    // (`Trainer__Plans__configuration`).
    let configuration = meta
        .configuration
        .clone()
        .or_else(|| {
            dir.file_name()
                .and_then(|n| n.to_str())
                .filter(|n| n.contains("__"))
                .and_then(|n| n.rsplit("__").next())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "3d_fullres".into());
    let plans_path = dir.join("plans.json");
    let plans = read_json(&plans_path)?;
    let dataset_path = dir.join("dataset.json");
    let dataset = fsio::read_at_most(&dataset_path, 64 << 20)?;
    plan_from(
        &plans_path,
        &plans,
        &dataset_path,
        &dataset,
        &configuration,
        &meta.trainer,
        meta.mirror_axes,
    )
}
