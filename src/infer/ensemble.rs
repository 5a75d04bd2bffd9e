//! Several trained models as one: the members' class probabilities (each after its own
//! test-time mirroring) averaged on the scan's native grid, then the arg-max and the recorded
//! post-processing, as `nnUNetv2_predict` ensembles folds. A cross-validation folder means its
//! folds (all, or `--folds`), a run folder one model, several paths all of them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::postprocess::Postprocessing;
use super::predict::{PredictOptions, Predictor, Timings, resolve_postprocessing};
use crate::backend::Backend;
use crate::data::labels::argmax;
use crate::data::{Image, LabelMap};
use crate::error::{Error, Result};
use crate::run::CvDir;

/// Models whose probabilities are averaged.
pub struct Ensemble {
    pub members: Vec<Predictor>,
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
                    members.push(Predictor::load(&cv.fold(k).root, backend)?);
                }
                recorded = Postprocessing::load(path)?;
                parts.push(format!("{} folds {chosen:?}", path.display()));
            } else {
                members.push(Predictor::load(path, backend)?);
                parts.push(path.display().to_string());
            }
        }
        let Some(first) = members.first() else {
            return Err(Error::config("no model given"));
        };
        if let Some(m) = members.iter().find(|m| m.classes() != first.classes()) {
            return Err(Error::invalid(
                &m.run,
                format!(
                    "predicts {} classes, {} predicts {}: models of one ensemble must agree",
                    m.classes(),
                    first.run.display(),
                    first.classes()
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
            members: vec![model],
            recorded,
            description,
        })
    }

    pub fn classes(&self) -> usize {
        self.members[0].classes()
    }

    /// Label names by value, from the first member's run.
    pub fn label_names(&self) -> &[String] {
        &self.members[0].info.label_names
    }

    /// The first member (for what an ensemble shares: config, ignore label).
    pub fn first(&self) -> &Predictor {
        &self.members[0]
    }

    /// The members' weights, in order.
    pub fn weights(&self) -> Vec<PathBuf> {
        self.members.iter().map(|m| m.weights.clone()).collect()
    }

    /// The post-processing `opts` asks for, resolved against the recorded decision.
    pub fn postprocessing(&self, opts: &PredictOptions) -> Postprocessing {
        resolve_postprocessing(opts.postprocess, self.recorded.clone(), self.classes())
    }

    /// Mean class probabilities of the members on the scan's native grid.
    pub fn probabilities(
        &self,
        image: &Image,
        mirror_tta: bool,
    ) -> Result<(Vec<Vec<f32>>, EnsembleTimings)> {
        let mut timings = EnsembleTimings::default();
        let mut sum: Option<Vec<Vec<f32>>> = None;
        for m in &self.members {
            let (p, t) = m.probabilities(image, mirror_tta)?;
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
        let (probs, mut timings) = self.probabilities(image, opts.mirror_tta)?;
        let clock = Instant::now();
        let mut out: LabelMap = image.same_grid();
        out.data = argmax(&probs);
        self.postprocessing(opts).apply(&mut out.data, out.dims);
        timings.postprocess_s = clock.elapsed().as_secs_f64();
        Ok((out, timings))
    }
}

/// Whether `path` names something [`Ensemble::load`] takes as several models.
pub fn is_ensemble_path(path: &Path) -> bool {
    CvDir::is_cv(path)
}
