//! Several trained models as one: the members' class probabilities (each after its own
//! test-time mirroring) averaged on the scan's native grid, then the arg-max and the recorded
//! post-processing, as `nnUNetv2_predict` ensembles folds. A cross-validation folder means its
//! folds (all, or `--folds`), a run folder one model, an nnU-Net model folder (or its import)
//! one member whose folds average their logits as nnU-Net does, several paths all of them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::nnunet::{NnunetModel, is_imported_run, is_nnunet_folder};
use super::postprocess::Postprocessing;
use super::predict::{PredictOptions, Predictor, Timings, resolve_postprocessing};
use crate::backend::Backend;
use crate::data::labels::argmax;
use crate::data::{Image, LabelMap};
use crate::error::{Error, Result};
use crate::run::CvDir;

/// One model of an ensemble.
pub enum Member {
    /// A unet3d run.
    Run(Predictor),
    /// An nnU-Net model (its folds inside).
    Nnunet(NnunetModel),
}

impl Member {
    /// Output channels (probabilities per voxel).
    pub fn heads(&self) -> usize {
        match self {
            Member::Run(p) => p.classes(),
            Member::Nnunet(m) => m.plan.labels.heads(),
        }
    }

    /// Label values of the segmentation, background included.
    pub fn classes(&self) -> usize {
        match self {
            Member::Run(p) => p.classes(),
            Member::Nnunet(m) => m.label_values(),
        }
    }

    pub fn label_names(&self) -> &[String] {
        match self {
            Member::Run(p) => &p.info.label_names,
            Member::Nnunet(m) => &m.plan.labels.names,
        }
    }

    /// The label value that marks unannotated voxels (255 when there is none).
    pub fn ignore_label(&self) -> u8 {
        match self {
            Member::Run(p) => p.config.loss.ignore_label,
            Member::Nnunet(m) => m.plan.labels.ignore_label.unwrap_or(255),
        }
    }

    /// The folder the model was loaded from.
    pub fn source(&self) -> &Path {
        match self {
            Member::Run(p) => &p.run,
            Member::Nnunet(m) => &m.source,
        }
    }

    /// The weights files or folders, one per network.
    pub fn weights(&self) -> Vec<PathBuf> {
        match self {
            Member::Run(p) => vec![p.weights.clone()],
            Member::Nnunet(m) => m.weights.clone(),
        }
    }

    /// Region-based labels: the label of each output channel's region, in writing order.
    fn regions(&self) -> Option<&[u8]> {
        match self {
            Member::Run(_) => None,
            Member::Nnunet(m) => m.plan.labels.regions_class_order.as_deref(),
        }
    }

    fn recorded_postprocessing(&self) -> Result<Option<Postprocessing>> {
        match self {
            Member::Run(p) => p.recorded_postprocessing(),
            // nnUNetv2_predict applies none (its post-processing is a separate command).
            Member::Nnunet(_) => Ok(None),
        }
    }

    /// Probabilities on the scan's grid from one image per input channel.
    pub fn probabilities(
        &self,
        channels: &[Image],
        opts: &PredictOptions,
    ) -> Result<(Vec<Vec<f32>>, Timings)> {
        match self {
            Member::Run(p) => match channels {
                [image] => p.probabilities(image, opts.mirror_tta),
                _ => Err(Error::config(format!(
                    "{} takes one input image, {} given",
                    p.run.display(),
                    channels.len()
                ))),
            },
            Member::Nnunet(m) => m.probabilities(channels, !opts.disable_nnunet_tta),
        }
    }

    /// Input channels the model takes.
    pub fn in_channels(&self) -> usize {
        match self {
            Member::Run(p) => p.config.model.in_channels,
            Member::Nnunet(m) => m.plan.channel_names.len(),
        }
    }
}

/// Models whose probabilities are averaged.
pub struct Ensemble {
    pub members: Vec<Member>,
    /// The decision recorded for the ensemble as a whole (a cross-validation folder's pooled
    /// one), else for its single member; `None` when there is none.
    pub recorded: Option<Postprocessing>,
    /// What was loaded, for logs and reports (a folder and the folds taken).
    pub description: String,
}

/// Seconds per stage of one scan: every member's own, then the averaging and post-processing.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EnsembleTimings {
    pub per_model: Vec<Timings>,
    pub combine_s: f64,
    pub postprocess_s: f64,
}

impl EnsembleTimings {
    pub fn total(&self) -> f64 {
        self.per_model.iter().map(Timings::total).sum::<f64>() + self.combine_s + self.postprocess_s
    }
}

impl Ensemble {
    /// Loads `paths`: a cross-validation folder (its trained folds, or `folds` of them), run
    /// folders or checkpoints. The members must predict the same classes.
    pub fn load(paths: &[PathBuf], folds: Option<&[usize]>, backend: &Backend) -> Result<Self> {
        let mut members = Vec::new();
        let mut recorded = None;
        let mut parts = Vec::new();
        for path in paths {
            if CvDir::is_cv(path) {
                let cv = CvDir::new(path);
                let trained = cv.trained_folds();
                let chosen: Vec<usize> = match folds {
                    Some(f) => {
                        if let Some(&k) = f.iter().find(|k| !trained.contains(k)) {
                            return Err(Error::invalid(
                                path,
                                format!("fold {k} has no trained model (trained: {trained:?})"),
                            ));
                        }
                        f.to_vec()
                    }
                    None => trained.clone(),
                };
                if chosen.is_empty() {
                    return Err(Error::invalid(path, "no fold has a trained model yet"));
                }
                for &k in &chosen {
                    members.push(Member::Run(Predictor::load(&cv.fold(k).root, backend)?));
                }
                recorded = Postprocessing::load(path)?;
                parts.push(format!("{} folds {chosen:?}", path.display()));
            } else if is_imported_run(path) || is_nnunet_folder(path) {
                let m = NnunetModel::load(path, folds, backend)?;
                let names: Vec<&str> = m.folds.iter().map(|(f, _)| f.as_str()).collect();
                parts.push(format!(
                    "{} (nnU-Net {}, folds {names:?})",
                    path.display(),
                    m.plan.configuration
                ));
                members.push(Member::Nnunet(m));
            } else {
                members.push(Member::Run(Predictor::load(path, backend)?));
                parts.push(path.display().to_string());
            }
        }
        let Some(first) = members.first() else {
            return Err(Error::config("no model given"));
        };
        if let Some(m) = members
            .iter()
            .find(|m| m.heads() != first.heads() || m.regions() != first.regions())
        {
            return Err(Error::invalid(
                m.source(),
                format!(
                    "predicts {} classes{}, {} predicts {}{}: models of one ensemble must agree",
                    m.heads(),
                    if m.regions().is_some() {
                        " (regions)"
                    } else {
                        ""
                    },
                    first.source().display(),
                    first.heads(),
                    if first.regions().is_some() {
                        " (regions)"
                    } else {
                        ""
                    },
                ),
            ));
        }
        if recorded.is_none() && members.len() == 1 {
            recorded = members[0].recorded_postprocessing()?;
        }
        Ok(Ensemble {
            members,
            recorded,
            description: parts.join(" + "),
        })
    }

    /// One model.
    pub fn single(model: Predictor) -> Result<Self> {
        let recorded = model.recorded_postprocessing()?;
        let description = model.run.display().to_string();
        Ok(Ensemble {
            members: vec![Member::Run(model)],
            recorded,
            description,
        })
    }

    pub fn classes(&self) -> usize {
        self.members[0].classes()
    }

    /// Label names by value, from the first member.
    pub fn label_names(&self) -> &[String] {
        self.members[0].label_names()
    }

    /// The first member (for what an ensemble shares: label names, ignore label).
    pub fn first(&self) -> &Member {
        &self.members[0]
    }

    /// The members' weights, in order.
    pub fn weights(&self) -> Vec<PathBuf> {
        self.members.iter().flat_map(Member::weights).collect()
    }

    /// Input channels every member takes.
    pub fn in_channels(&self) -> usize {
        self.members[0].in_channels()
    }

    /// The post-processing `opts` asks for, resolved against the recorded decision.
    pub fn postprocessing(&self, opts: &PredictOptions) -> Postprocessing {
        resolve_postprocessing(opts.postprocess, self.recorded.clone(), self.classes())
    }

    /// Mean class probabilities of the members on the scan's native grid, from one image per
    /// input channel.
    pub fn probabilities(
        &self,
        channels: &[Image],
        opts: &PredictOptions,
    ) -> Result<(Vec<Vec<f32>>, EnsembleTimings)> {
        let mut timings = EnsembleTimings::default();
        let mut sum: Option<Vec<Vec<f32>>> = None;
        for m in &self.members {
            let (p, t) = m.probabilities(channels, opts)?;
            timings.per_model.push(t);
            let clock = Instant::now();
            match &mut sum {
                None => sum = Some(p),
                Some(s) => {
                    for (acc, add) in s.iter_mut().zip(&p) {
                        acc.iter_mut().zip(add).for_each(|(a, b)| *a += b);
                    }
                }
            }
            timings.combine_s += clock.elapsed().as_secs_f64();
        }
        let clock = Instant::now();
        let n = self.members.len() as f32;
        let mut mean = sum.unwrap_or_default();
        if n > 1.0 {
            mean.iter_mut().flatten().for_each(|v| *v /= n);
        }
        timings.combine_s += clock.elapsed().as_secs_f64();
        Ok((mean, timings))
    }

    /// Segments one scan: mean probabilities, arg-max, the post-processing `opts` resolve to.
    pub fn predict(
        &self,
        image: &Image,
        opts: &PredictOptions,
    ) -> Result<(LabelMap, EnsembleTimings)> {
        let (labels, _, timings) = self.predict_channels(std::slice::from_ref(image), opts)?;
        Ok((labels, timings))
    }

    /// [`predict`](Self::predict) from one image per input channel, also returning the mean
    /// probabilities (before post-processing).
    pub fn predict_channels(
        &self,
        channels: &[Image],
        opts: &PredictOptions,
    ) -> Result<(LabelMap, Vec<Vec<f32>>, EnsembleTimings)> {
        let (probs, mut timings) = self.probabilities(channels, opts)?;
        let clock = Instant::now();
        let mut out: LabelMap = channels[0].same_grid();
        out.data = match self.members[0].regions() {
            Some(order) => super::nnunet::export::labels_from_regions(&probs, order),
            None => argmax(&probs),
        };
        self.postprocessing(opts).apply(&mut out.data, out.dims);
        timings.postprocess_s = clock.elapsed().as_secs_f64();
        Ok((out, probs, timings))
    }
}
