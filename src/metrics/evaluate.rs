//! Holdout evaluation: predict every case of a split at native resolution (one model or an
//! ensemble), score it per class (Dice, IoU, HD95, ASSD, volumes), and write `per_case.csv`,
//! `summary.json`, `evaluation.md` and overlays of the best and worst cases (reference solid,
//! prediction dashed).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::dataset::{Dataset, Split};
use crate::error::{Error, Result};
use crate::infer::Ensemble;
use crate::infer::ensemble::EnsembleTimings;
use crate::infer::postprocess::Postprocessing;
use crate::infer::predict::{PredictOptions, Timings};
use crate::metrics::{ClassMetrics, Summary, evaluate_case, summarize, write_per_case_csv};
use crate::plot::montage::{MontageOptions, Style, axial_montage, spread_slices};
use crate::util::fsio;

/// What `summary.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Evaluation {
    pub dataset: PathBuf,
    pub split: Split,
    pub run: PathBuf,
    /// The checkpoint folder or file the model was loaded from (empty in files written before
    /// it was recorded).
    #[serde(default)]
    pub checkpoint: PathBuf,
    pub backend: String,
    pub mirror_tta: bool,
    /// Whether any class was reduced to its largest component (see `postprocessing`).
    pub largest_component: bool,
    /// The post-processing applied (absent in files written before it was decided per class).
    #[serde(default)]
    pub postprocessing: Option<Postprocessing>,
    /// Every model's weights, for an ensemble (empty in files written before ensembles).
    #[serde(default)]
    pub models: Vec<PathBuf>,
    /// Mean seconds per case and stage of each model of an ensemble.
    #[serde(default)]
    pub mean_timings_per_model: Vec<Timings>,
    /// Label names by value (index = value).
    pub label_names: Vec<String>,
    pub summary: Summary,
    pub per_case: Vec<CaseResult>,
    /// Mean seconds per case and stage.
    pub mean_timings: Timings,
    pub total_seconds: f64,
    /// Overlay figures (file names in the output folder).
    pub figures: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub dims: [usize; 3],
    pub spacing: [f64; 3],
    pub metrics: Vec<ClassMetrics>,
    /// Seconds per stage, summed over an ensemble's models (post-processing includes averaging).
    pub timings: Timings,
    /// Each model's own, for an ensemble.
    #[serde(default)]
    pub per_model: Vec<Timings>,
}

impl Evaluation {
    /// Mean foreground Dice per class, in class order.
    pub fn mean_dice(&self) -> Vec<(String, f64)> {
        self.summary
            .classes
            .iter()
            .map(|c| (c.name.clone(), c.dice.as_ref().map_or(0.0, |s| s.mean)))
            .collect()
    }
}

pub fn evaluate(
    models: &Ensemble,
    dataset: &Dataset,
    split: Split,
    out: &Path,
    opts: &PredictOptions,
    backend: &str,
) -> Result<Evaluation> {
    let started = Instant::now();
    let ids = dataset.spec.cases(split).to_vec();
    if ids.is_empty() {
        return Err(Error::invalid(
            dataset.root.join("dataset.json"),
            format!("the {split:?} split has no cases"),
        ));
    }
    let classes: Vec<u8> = (1..models.classes() as u8).collect();
    let label_names: Vec<String> = (0..models.classes() as u8)
        .map(|v| dataset.spec.label_name(v))
        .collect();
    let mut per_case = Vec::new();
    let mut shown = Vec::new();
    for id in &ids {
        let case = dataset.load_case(id)?;
        let (pred, et) = models.predict(&case.image, opts)?;
        let timings = summed(&et);
        let metrics = evaluate_case(
            &pred,
            &case.label,
            &classes,
            Some(models.first().ignore_label()),
        )?;
        let dice: Vec<String> = metrics.iter().map(|m| format!("{:.3}", m.dice)).collect();
        println!(
            "  {id}: Dice {} ({:.1} s)",
            dice.join(" / "),
            timings.total()
        );
        shown.push((id.clone(), mean_dice(&metrics)));
        per_case.push(CaseResult {
            id: id.clone(),
            dims: case.image.dims,
            spacing: case.image.spacing,
            metrics,
            timings,
            per_model: et.per_model,
        });
    }
    fsio::create_dir(out)?;
    let rows: Vec<(String, Vec<ClassMetrics>)> = per_case
        .iter()
        .map(|c| (c.id.clone(), c.metrics.clone()))
        .collect();
    let summary = summarize(&rows, &label_names);
    write_per_case_csv(&out.join("per_case.csv"), &rows, &label_names)?;

    // Overlays of the best and the worst case by mean foreground Dice.
    shown.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut figures = Vec::new();
    let picks = [("worst", shown.first()), ("best", shown.last())];
    for (tag, pick) in picks {
        let Some((id, dice)) = pick else { continue };
        if figures
            .iter()
            .any(|f: &String| f.ends_with(&format!("{id}.png")))
        {
            continue;
        }
        let case = dataset.load_case(id)?;
        let (pred, _) = models.predict(&case.image, opts)?;
        let mopts = MontageOptions {
            title: format!(
                "{tag}: {id} (mean Dice {dice:.3}) - reference solid, prediction dashed"
            ),
            label_names: label_names
                .iter()
                .enumerate()
                .skip(1)
                .map(|(v, n)| (v as u8, n.clone()))
                .collect(),
            overlay_names: vec!["reference".into(), "prediction".into()],
            ..MontageOptions::default()
        };
        let canvas = axial_montage(
            &case.image,
            &[(&case.label, Style::Contour), (&pred, Style::DashedContour)],
            &spread_slices(&case.label, 6),
            &mopts,
        )?;
        let name = format!("overlay_{tag}_{id}.png");
        canvas.save_png(&out.join(&name))?;
        figures.push(name);
    }

    let mean_timings = mean_of(per_case.iter().map(|c| &c.timings));
    let mean_timings_per_model = (0..models.members.len())
        .map(|m| mean_of(per_case.iter().filter_map(|c| c.per_model.get(m))))
        .collect();
    let post = models.postprocessing(opts);
    let eval = Evaluation {
        dataset: dataset.root.clone(),
        split,
        run: models.first().source().to_path_buf(),
        checkpoint: models.first().weights().swap_remove(0),
        backend: backend.to_string(),
        mirror_tta: opts.mirror_tta,
        largest_component: !post.largest_component.is_empty(),
        postprocessing: Some(post),
        models: models.weights(),
        mean_timings_per_model,
        label_names,
        summary,
        per_case,
        mean_timings,
        total_seconds: started.elapsed().as_secs_f64(),
        figures,
    };
    let json = serde_json::to_string_pretty(&eval).expect("evaluation serialises");
    fsio::write_atomic(&out.join("summary.json"), json.as_bytes())?;
    let post = eval
        .postprocessing
        .as_ref()
        .map_or(String::new(), |p| p.describe(&eval.label_names));
    let md = format!(
        "# Evaluation on the {split:?} split\n\nModel `{}`, dataset `{}`, {} cases, backend {}; {post}.\n\n{}\n",
        models.description,
        eval.dataset.display(),
        eval.per_case.len(),
        eval.backend,
        eval.summary.to_markdown()
    );
    fsio::write_atomic(&out.join("evaluation.md"), md.as_bytes())?;
    Ok(eval)
}

pub fn load_evaluation(dir: &Path) -> Result<Evaluation> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::invalid(&path, format!("not an evaluation summary: {e}")))
}

/// An ensemble's stages summed over its models; averaging and post-processing in the last.
fn summed(t: &EnsembleTimings) -> Timings {
    let sum = |f: fn(&Timings) -> f64| t.per_model.iter().map(f).sum::<f64>();
    Timings {
        preprocess_s: sum(|t| t.preprocess_s),
        network_s: sum(|t| t.network_s),
        restore_s: sum(|t| t.restore_s),
        postprocess_s: t.combine_s + t.postprocess_s,
    }
}

/// Stage-wise mean of `timings` (zero when there are none).
fn mean_of<'a>(timings: impl Iterator<Item = &'a Timings>) -> Timings {
    let all: Vec<&Timings> = timings.collect();
    let n = all.len().max(1) as f64;
    let mean = |f: fn(&Timings) -> f64| all.iter().map(|t| f(t)).sum::<f64>() / n;
    Timings {
        preprocess_s: mean(|t| t.preprocess_s),
        network_s: mean(|t| t.network_s),
        restore_s: mean(|t| t.restore_s),
        postprocess_s: mean(|t| t.postprocess_s),
    }
}

fn mean_dice(m: &[ClassMetrics]) -> f64 {
    m.iter().map(|c| c.dice).sum::<f64>() / m.len().max(1) as f64
}
