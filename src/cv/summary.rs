//! What a cross-validation found: per fold and pooled over every held-out case, mean ± sd per
//! class of Dice and IoU (and, for whole held-out cases, HD95 and ASSD) — `cv_summary.json` and
//! `cv.md`.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::metrics::{ClassMetrics, Stats};

/// The statistics of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    pub class: u8,
    pub name: String,
    pub dice: Option<Stats>,
    pub iou: Option<Stats>,
    /// Whole-case surface distances (absent for the semi-automated protocol, scored on slices).
    #[serde(default)]
    pub hd95_mm: Option<Stats>,
    #[serde(default)]
    pub assd_mm: Option<Stats>,
}

/// One fold's held-out cases and their scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoldScores {
    pub fold: usize,
    pub held_out: Vec<String>,
    pub classes: Vec<ClassScore>,
}

/// `cv_summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CvSummary {
    /// "k-fold", "leave-one-out" or "semi-automated".
    pub protocol: String,
    pub folds: usize,
    /// The semi-automated protocol's annotation: every `sparse_slices`-th slice per orientation.
    #[serde(default)]
    pub sparse_slices: Option<usize>,
    pub dataset: std::path::PathBuf,
    pub per_fold: Vec<FoldScores>,
    /// Over every held-out case of every fold.
    pub pooled: Vec<ClassScore>,
    /// The post-processing decided from the folds (one line), if any.
    #[serde(default)]
    pub postprocessing: Option<String>,
}

/// Per-case scores of one class: `(case, class, dice, iou, hd95, assd)`.
pub type CaseScore = (String, u8, f64, f64, Option<f64>, Option<f64>);

/// The scores of whole held-out cases, from their metrics.
pub fn case_scores(id: &str, metrics: &[ClassMetrics]) -> Vec<CaseScore> {
    metrics
        .iter()
        .map(|m| {
            (
                id.to_string(),
                m.class,
                m.dice,
                m.iou,
                Some(m.hd95_mm),
                Some(m.assd_mm),
            )
        })
        .collect()
}

/// Statistics per class of `scores` (`names` by label value).
pub fn class_scores(scores: &[CaseScore], names: &[String]) -> Vec<ClassScore> {
    let mut classes: Vec<u8> = scores.iter().map(|s| s.1).collect();
    classes.sort_unstable();
    classes.dedup();
    classes
        .into_iter()
        .map(|class| {
            let of = |f: fn(&CaseScore) -> Option<f64>| {
                let v: Vec<f64> = scores
                    .iter()
                    .filter(|s| s.1 == class)
                    .filter_map(f)
                    .collect();
                Stats::of(&v)
            };
            ClassScore {
                class,
                name: names
                    .get(class as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("label {class}")),
                dice: of(|s| Some(s.2)),
                iou: of(|s| Some(s.3)),
                hd95_mm: of(|s| s.4),
                assd_mm: of(|s| s.5),
            }
        })
        .collect()
}

impl CvSummary {
    /// Mean foreground IoU of each fold (the paper's Table 1 columns) and of the pooled cases.
    pub fn mean_iou_per_fold(&self) -> Vec<f64> {
        self.per_fold.iter().map(|f| mean_iou(&f.classes)).collect()
    }

    pub fn pooled_mean_iou(&self) -> f64 {
        mean_iou(&self.pooled)
    }

    /// `cv.md`: a table per fold and the pooled one.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# Cross-validation: {}, {} folds\n\nDataset `{}`{}.{}\n",
            self.protocol,
            self.folds,
            self.dataset.display(),
            self.sparse_slices
                .map_or(String::new(), |k| format!(
                    "; every {k}-th slice per orientation annotated, scored on each fold's held-out annotated slices"
                )),
            self.postprocessing
                .as_ref()
                .map_or(String::new(), |p| format!(" Scores without post-processing; {p}.")),
        );
        let _ = writeln!(
            s,
            "| fold | held-out cases | class | Dice | IoU | HD95 mm | ASSD mm |\n|---|---:|---|---|---|---|---|"
        );
        let cell = |v: &Option<Stats>| {
            v.as_ref()
                .map_or("–".into(), |st| format!("{:.3} ± {:.3}", st.mean, st.sd))
        };
        for f in &self.per_fold {
            for c in &f.classes {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    f.fold,
                    f.held_out.len(),
                    c.name,
                    cell(&c.dice),
                    cell(&c.iou),
                    cell(&c.hd95_mm),
                    cell(&c.assd_mm)
                );
            }
        }
        let n: usize = self.per_fold.iter().map(|f| f.held_out.len()).sum();
        for c in &self.pooled {
            let _ = writeln!(
                s,
                "| pooled | {n} | {} | {} | {} | {} | {} |",
                c.name,
                cell(&c.dice),
                cell(&c.iou),
                cell(&c.hd95_mm),
                cell(&c.assd_mm)
            );
        }
        let folds: Vec<String> = self
            .mean_iou_per_fold()
            .iter()
            .map(|v| format!("{v:.3}"))
            .collect();
        let _ = writeln!(
            s,
            "\nMean foreground IoU per fold: {} (pooled {:.3}).",
            folds.join(", "),
            self.pooled_mean_iou()
        );
        s
    }
}

fn mean_iou(classes: &[ClassScore]) -> f64 {
    let v: Vec<f64> = classes
        .iter()
        .filter(|c| c.class != 0)
        .filter_map(|c| c.iou.as_ref().map(|s| s.mean))
        .collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}
