//! Cross-validation in the report: the per-fold and pooled tables of every CV folder given with
//! `--cv`, and the rows of the paper's tables they fill — Table 1 from the semi-automated
//! protocol, Table 3 from leave-one-out — each saying which protocol it used.

use super::doc::{Doc, Table};
use super::fmt::mean_sd;
use super::inputs::Inputs;
use crate::cv::CvSummary;

/// Section: the cross-validations, with the ensemble's test results beside them when the
/// evaluation is of an ensemble.
pub(crate) fn cross_validation(doc: &mut Doc, inputs: &Inputs) {
    if inputs.cvs.is_empty() {
        return;
    }
    doc.h2("Cross-validation");
    for (dir, cv) in &inputs.cvs {
        let held: usize = cv.per_fold.iter().map(|f| f.held_out.len()).sum();
        doc.para(format!(
            "`{}`: {} protocol, {} folds, {held} held-out {}{}. Scores without post-processing, \
             mean ± sd over the held-out {}.{}",
            dir.display(),
            cv.protocol,
            cv.folds,
            if cv.sparse_slices.is_some() { "case-folds" } else { "cases" },
            cv.sparse_slices.map_or(String::new(), |k| format!(
                " (every {k}-th slice per orientation annotated; each fold scored on its held-out slices)"
            )),
            if cv.sparse_slices.is_some() { "volumes" } else { "cases" },
            cv.postprocessing
                .as_ref()
                .map_or(String::new(), |p| format!(" Decided from them: {p}.")),
        ));
        let mut t = Table::new(&["fold", "class", "Dice", "IoU", "HD95 (mm)", "ASSD (mm)"]);
        for f in &cv.per_fold {
            for c in &f.classes {
                t.row(vec![
                    (f.fold + 1).to_string(),
                    c.name.clone(),
                    mean_sd(c.dice.as_ref(), 3),
                    mean_sd(c.iou.as_ref(), 3),
                    mean_sd(c.hd95_mm.as_ref(), 2),
                    mean_sd(c.assd_mm.as_ref(), 2),
                ]);
            }
        }
        for c in &cv.pooled {
            t.row(vec![
                "pooled".into(),
                c.name.clone(),
                mean_sd(c.dice.as_ref(), 3),
                mean_sd(c.iou.as_ref(), 3),
                mean_sd(c.hd95_mm.as_ref(), 2),
                mean_sd(c.assd_mm.as_ref(), 2),
            ]);
        }
        doc.table(t);
    }
    if let Some((_, e)) = &inputs.eval
        && e.models.len() > 1
    {
        doc.para(format!(
            "The holdout results above are those of an ensemble of {} models (their \
             probabilities averaged), beside which the per-fold table shows each model on its \
             own held-out cases.",
            e.models.len()
        ));
    }
}

/// Our row of the paper's Table 1 from a semi-automated cross-validation: the three fold IoUs,
/// their average, and what they were measured on.
pub(crate) fn table1_row(inputs: &Inputs) -> Option<([String; 3], String, String)> {
    let (_, cv) = inputs
        .cvs
        .iter()
        .find(|(_, c)| c.protocol == "semi-automated" && c.folds == 3)?;
    let folds = cv.mean_iou_per_fold();
    let avg = folds.iter().sum::<f64>() / folds.len() as f64;
    Some((
        std::array::from_fn(|i| format!("{:.3}", folds[i])),
        format!("{avg:.3}"),
        semi_label(cv),
    ))
}

fn semi_label(cv: &CvSummary) -> String {
    let volumes = cv.per_fold.first().map_or(0, |f| f.held_out.len());
    format!(
        "ours, semi-automated 3-fold over annotated slices (every {}-th slice) of {volumes} volumes",
        cv.sparse_slices.unwrap_or(0)
    )
}

/// Our row of the paper's Table 3 from a leave-one-out cross-validation: the pooled mean IoU and
/// what it was measured on.
pub(crate) fn table3_row(inputs: &Inputs) -> Option<(String, String)> {
    let (_, cv) = inputs
        .cvs
        .iter()
        .find(|(_, c)| c.protocol == "leave-one-out")?;
    Some((
        format!("{:.3}", cv.pooled_mean_iou()),
        format!(
            "ours, leave-one-out over {} cases (train on {}, test on 1)",
            cv.folds,
            cv.folds.saturating_sub(1)
        ),
    ))
}
