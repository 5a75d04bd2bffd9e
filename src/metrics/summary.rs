//! Summaries over cases: mean ± sd, median, min, max and n per class and metric (this is
//! `summary.json`), a Markdown table for reports, and the per-case CSV.
//!
//! Statistics: the standard deviation is the sample sd (divisor n − 1), 0 when n = 1; the median of an
//! even count is the mean of the two middle values. A metric with no values (n = 0, e.g. the relative
//! volume difference when every reference is empty) has no statistics (`null` in JSON). The per-case
//! metrics already follow the empty-structure convention of `metrics::case`, so nothing here is NaN.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::case::{ClassMetrics, EmptyKind};
use crate::error::Result;
use crate::util::fsio::write_atomic_with;
use crate::util::stats::percentile_sorted;

/// Descriptive statistics of one metric over cases.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 when n = 1.
    pub sd: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Stats {
    /// Statistics of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Stats> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let mean = v.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let median = percentile_sorted(&v, 50.0);
        Some(Stats {
            mean,
            sd,
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }
}

/// Statistics of every metric of one class over all cases that report it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassSummary {
    pub class: u8,
    pub name: String,
    /// Number of cases that report this class.
    pub n_cases: usize,
    pub dice: Option<Stats>,
    pub iou: Option<Stats>,
    pub hd95_mm: Option<Stats>,
    pub assd_mm: Option<Stats>,
    pub hd_max_mm: Option<Stats>,
    pub volume_ref_ml: Option<Stats>,
    pub volume_pred_ml: Option<Stats>,
    pub volume_diff_ml: Option<Stats>,
    pub volume_diff_rel: Option<Stats>,
    /// Cases where both reference and prediction are empty.
    pub empty_both: usize,
    /// Cases where only the reference is empty (a false-positive structure).
    pub empty_reference: usize,
    /// Cases where only the prediction is empty (a missed structure).
    pub empty_prediction: usize,
}

/// The whole evaluation summary (`summary.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n_cases: usize,
    /// One entry per class, in order of first appearance in the per-case lists.
    pub classes: Vec<ClassSummary>,
}

/// Name of label value `class`: `class_names[class]` when given, else "label N".
fn class_name(class_names: &[String], class: u8) -> String {
    class_names
        .get(class as usize)
        .cloned()
        .unwrap_or_else(|| format!("label {class}"))
}

/// Summarises per-case metrics (`(case id, metrics of each class)`). `class_names` is indexed by label
/// value (`class_names[0]` names the background), as in dataset.json.
pub fn summarize(per_case: &[(String, Vec<ClassMetrics>)], class_names: &[String]) -> Summary {
    let mut order: Vec<u8> = Vec::new();
    for m in per_case.iter().flat_map(|(_, ms)| ms) {
        if !order.contains(&m.class) {
            order.push(m.class);
        }
    }
    let classes = order
        .into_iter()
        .map(|class| {
            let rows: Vec<&ClassMetrics> = per_case
                .iter()
                .flat_map(|(_, ms)| ms)
                .filter(|m| m.class == class)
                .collect();
            let stat = |f: fn(&ClassMetrics) -> f64| {
                Stats::of(&rows.iter().map(|m| f(m)).collect::<Vec<_>>())
            };
            let count = |k: EmptyKind| rows.iter().filter(|m| m.empty == Some(k)).count();
            ClassSummary {
                class,
                name: class_name(class_names, class),
                n_cases: rows.len(),
                dice: stat(|m| m.dice),
                iou: stat(|m| m.iou),
                hd95_mm: stat(|m| m.hd95_mm),
                assd_mm: stat(|m| m.assd_mm),
                hd_max_mm: stat(|m| m.hd_max_mm),
                volume_ref_ml: stat(|m| m.volume_ref_ml),
                volume_pred_ml: stat(|m| m.volume_pred_ml),
                volume_diff_ml: stat(|m| m.volume_diff_ml),
                volume_diff_rel: Stats::of(
                    &rows
                        .iter()
                        .filter_map(|m| m.volume_diff_rel)
                        .collect::<Vec<_>>(),
                ),
                empty_both: count(EmptyKind::Both),
                empty_reference: count(EmptyKind::Reference),
                empty_prediction: count(EmptyKind::Prediction),
            }
        })
        .collect();
    Summary {
        n_cases: per_case.len(),
        classes,
    }
}

/// "mean ± sd" with `digits` decimals, or "–" when there are no values.
fn mean_sd(s: &Option<Stats>, digits: usize) -> String {
    match s {
        Some(s) => format!("{:.digits$} ± {:.digits$}", s.mean, s.sd),
        None => "–".to_string(),
    }
}

impl Summary {
    /// A Markdown table: one row per class, columns Dice, IoU, HD95, ASSD and volume difference as
    /// "mean ± sd", followed by a note on empty structures when there were any.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| Class | n | Dice | IoU | HD95 (mm) | ASSD (mm) | Volume diff (mL) |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for c in &self.classes {
            let _ = writeln!(
                s,
                "| {} ({}) | {} | {} | {} | {} | {} | {} |",
                c.name,
                c.class,
                c.n_cases,
                mean_sd(&c.dice, 3),
                mean_sd(&c.iou, 3),
                mean_sd(&c.hd95_mm, 2),
                mean_sd(&c.assd_mm, 2),
                mean_sd(&c.volume_diff_ml, 2),
            );
        }
        for c in self
            .classes
            .iter()
            .filter(|c| c.empty_reference + c.empty_prediction + c.empty_both > 0)
        {
            let _ = writeln!(
                s,
                "\n{}: empty reference in {}, empty prediction in {}, both empty in {} case(s); a missing \
                 structure scores Dice 0 and the field-of-view diagonal as distance.",
                c.name, c.empty_reference, c.empty_prediction, c.empty_both
            );
        }
        s
    }
}

/// Quotes a CSV field when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes one row per case and class (atomically): case, class, name, every metric, empty kind.
pub fn write_per_case_csv(
    path: &Path,
    per_case: &[(String, Vec<ClassMetrics>)],
    class_names: &[String],
) -> Result<()> {
    write_atomic_with(path, |w| {
        writeln!(
            w,
            "case,class,name,dice,iou,hd95_mm,assd_mm,hd_max_mm,volume_ref_ml,volume_pred_ml,\
             volume_diff_ml,volume_diff_rel,empty"
        )?;
        for (case, metrics) in per_case {
            for m in metrics {
                writeln!(
                    w,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    csv_field(case),
                    m.class,
                    csv_field(&class_name(class_names, m.class)),
                    m.dice,
                    m.iou,
                    m.hd95_mm,
                    m.assd_mm,
                    m.hd_max_mm,
                    m.volume_ref_ml,
                    m.volume_pred_ml,
                    m.volume_diff_ml,
                    m.volume_diff_rel.map(|v| v.to_string()).unwrap_or_default(),
                    m.empty.map(|e| e.as_str()).unwrap_or(""),
                )?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(class: u8, dice: f64, empty: Option<EmptyKind>) -> ClassMetrics {
        ClassMetrics {
            class,
            dice,
            iou: dice / (2.0 - dice),
            hd95_mm: 10.0 * (1.0 - dice),
            assd_mm: 1.0,
            hd_max_mm: 20.0,
            volume_ref_ml: 10.0,
            volume_pred_ml: 10.0 * dice,
            volume_diff_ml: 10.0 * dice - 10.0,
            volume_diff_rel: (empty != Some(EmptyKind::Reference)).then_some(dice - 1.0),
            empty,
        }
    }

    fn names() -> Vec<String> {
        ["background", "PZ", "CG"].map(String::from).to_vec()
    }

    #[test]
    fn stats_on_known_numbers() {
        let s = Stats::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(
            (s.mean, s.median, s.min, s.max, s.n),
            (5.0, 4.5, 2.0, 9.0, 8)
        );
        assert!((s.sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-12); // Σ(x−5)² = 32, n − 1 = 7
        let one = Stats::of(&[3.0]).unwrap();
        assert_eq!((one.mean, one.sd, one.median), (3.0, 0.0, 3.0));
        assert_eq!(Stats::of(&[]), None);
    }

    #[test]
    fn summary_groups_by_class_and_counts_empties() {
        let per_case = vec![
            (
                "a".to_string(),
                vec![metrics(1, 0.8, None), metrics(2, 0.9, None)],
            ),
            (
                "b".to_string(),
                vec![
                    metrics(1, 0.6, None),
                    metrics(2, 0.0, Some(EmptyKind::Reference)),
                ],
            ),
            (
                "c".to_string(),
                vec![
                    metrics(1, 0.7, None),
                    metrics(2, 0.0, Some(EmptyKind::Prediction)),
                ],
            ),
        ];
        let s = summarize(&per_case, &names());
        assert_eq!(s.n_cases, 3);
        let pz = &s.classes[0];
        assert_eq!((pz.class, pz.name.as_str(), pz.n_cases), (1, "PZ", 3));
        let d = pz.dice.as_ref().unwrap();
        assert!((d.mean - 0.7).abs() < 1e-12 && (d.sd - 0.1).abs() < 1e-12 && d.median == 0.7);
        let cg = &s.classes[1];
        assert_eq!(
            (cg.empty_reference, cg.empty_prediction, cg.empty_both),
            (1, 1, 0)
        );
        assert_eq!(cg.volume_diff_rel.as_ref().unwrap().n, 2);
        let md = s.to_markdown();
        assert!(md.contains("| PZ (1) | 3 | 0.700 ± 0.100 |"), "{md}");
        assert!(
            md.contains("CG: empty reference in 1, empty prediction in 1"),
            "{md}"
        );
        // serde_json may move the last ulp of a float on parsing: compare structure and counts.
        let back: Summary = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(
            (
                back.n_cases,
                back.classes.len(),
                back.classes[1].empty_prediction
            ),
            (3, 2, 1)
        );
        assert!((back.classes[0].dice.as_ref().unwrap().sd - 0.1).abs() < 1e-12);
    }

    #[test]
    fn per_case_csv_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("per_case.csv");
        let per_case = vec![(
            "case,1".to_string(),
            vec![
                metrics(1, 0.5, None),
                metrics(3, 0.0, Some(EmptyKind::Reference)),
            ],
        )];
        write_per_case_csv(&path, &per_case, &names()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("case,class,name,dice,iou,hd95_mm"));
        assert!(lines[1].starts_with("\"case,1\",1,PZ,0.5,"), "{}", lines[1]);
        assert!(
            lines[2].starts_with("\"case,1\",3,label 3,0,") && lines[2].ends_with(",,reference"),
            "{}",
            lines[2]
        );
    }
}
