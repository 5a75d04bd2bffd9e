//! Sections 4–6: the holdout results (from `summary.json`), our numbers beside the published ones (the
//! paper's IoU tables and the NCI-ISBI 2013 results), and the commands that reproduce the run.

use super::cv_section;
use super::doc::{Doc, Table};
use super::fmt::{mean_sd, shell};
use super::inputs::Inputs;
use super::provenance::PHANTOM_WARNING;
use super::published::published;
use super::setup::norm_name;
use crate::error::Result;
use crate::metrics::evaluate::Evaluation;
use crate::metrics::summary::ClassSummary;

/// Section 4: per-class metrics, timings and the best/worst overlays.
pub(crate) fn holdout(doc: &mut Doc, inputs: &Inputs) -> Result<()> {
    doc.h2("Holdout results");
    let Some((dir, e)) = &inputs.eval else {
        doc.para("Evaluation: not provided (evaluate the run and pass `--eval DIR`).");
        return Ok(());
    };
    let checkpoint = match e.checkpoint.file_name() {
        Some(name) => format!(", checkpoint `{}`", name.to_string_lossy()),
        None => String::new(),
    };
    let post = match &e.postprocessing {
        Some(p) => p.describe(&e.label_names),
        None => format!(
            "largest component per class {}",
            on_off(e.largest_component)
        ),
    };
    let models = if e.models.len() > 1 {
        format!(", an ensemble of {} models", e.models.len())
    } else {
        String::new()
    };
    doc.para(format!(
        "From `{}`: the {:?} split, {} cases{checkpoint}{models}, backend {}, mirror TTA {}; {post}. \
         Metrics at the native resolution, mean ± sd (sample sd) over cases.",
        dir.join("summary.json").display(),
        e.split,
        e.summary.n_cases,
        e.backend,
        on_off(e.mirror_tta),
    ));
    let mut t = Table::new(&[
        "class",
        "n",
        "Dice",
        "IoU",
        "HD95 (mm)",
        "ASSD (mm)",
        "volume diff (mL)",
    ]);
    for c in &e.summary.classes {
        t.row(vec![
            format!("{} ({})", c.name, c.class),
            c.n_cases.to_string(),
            mean_sd(c.dice.as_ref(), 3),
            mean_sd(c.iou.as_ref(), 3),
            mean_sd(c.hd95_mm.as_ref(), 2),
            mean_sd(c.assd_mm.as_ref(), 2),
            mean_sd(c.volume_diff_ml.as_ref(), 2),
        ]);
    }
    doc.table(t);
    for c in e
        .summary
        .classes
        .iter()
        .filter(|c| c.empty_reference + c.empty_prediction + c.empty_both > 0)
    {
        doc.para(format!(
            "{}: empty reference in {}, empty prediction in {}, both empty in {} case(s); a missing structure \
             scores Dice 0 and the field-of-view diagonal as distance.",
            c.name, c.empty_reference, c.empty_prediction, c.empty_both
        ));
    }
    let m = &e.mean_timings;
    let mut t = Table::new(&["stage", "mean seconds per case"]);
    for (stage, s) in [
        ("preprocess", m.preprocess_s),
        ("network", m.network_s),
        ("restore to native grid", m.restore_s),
        ("postprocess", m.postprocess_s),
        ("total", m.total()),
    ] {
        t.row(vec![stage.into(), format!("{s:.2}")]);
    }
    doc.h3("Inference time");
    doc.table(t);
    doc.para(format!("Whole evaluation: {:.1} s.", e.total_seconds));
    if !e.figures.is_empty() {
        doc.h3("Overlays");
        doc.para("Reference solid, prediction dashed.");
    }
    for f in &e.figures {
        doc.image(
            &dir.join(f),
            &format!("eval_{f}"),
            f.trim_end_matches(".png"),
        )?;
    }
    Ok(())
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// Mean over foreground classes of the per-class mean IoU; `None` without any.
fn mean_foreground_iou(e: &Evaluation) -> Option<f64> {
    let v: Vec<f64> = e
        .summary
        .classes
        .iter()
        .filter(|c| c.class != 0)
        .filter_map(|c| c.iou.as_ref().map(|s| s.mean))
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The summary of the class whose name contains `word` (e.g. "central" for the central gland).
fn class<'a>(e: &'a Evaluation, word: &str) -> Option<&'a ClassSummary> {
    e.summary
        .classes
        .iter()
        .find(|c| c.name.to_lowercase().contains(word))
}

/// Section 5: our row in the layout of the paper's Tables 1 and 3, and beside NCI-ISBI 2013.
pub(crate) fn comparison(doc: &mut Doc, inputs: &Inputs) {
    doc.h2("Comparison with published results");
    let eval = inputs.eval.as_ref().map(|(_, e)| e);
    let data = inputs
        .eval_data
        .as_ref()
        .map_or("not provided".into(), |d| d.label());
    let ours_label = match eval {
        Some(e) => format!(
            "ours, {data}, {:?} split, n = {}",
            e.split, e.summary.n_cases
        ),
        None => "ours: evaluation not provided".into(),
    };
    let iou = eval.map_or("not provided".into(), |e| {
        mean_foreground_iou(e).map_or("–".into(), |v| format!("{v:.3}"))
    });
    let method = format!(
        "this run: 3D U-Net, {}",
        norm_name(&inputs.config.model.norm)
    );
    let setting = inputs
        .config
        .sparse_slices
        .map_or("dense labels".to_string(), |k| {
            format!("every {k}-th slice labelled")
        });
    if inputs.phantom() {
        doc.warn(PHANTOM_WARNING);
    }
    doc.h3("In the layout of the paper's Table 1 (IoU, semi-automated)");
    let mut t = Table::new(&[
        "method",
        "data",
        "fold 1",
        "fold 2",
        "fold 3",
        "average IoU",
    ]);
    let paper = &published().paper;
    for r in &paper.table1 {
        let mut row = vec![r.method.clone(), paper.label.clone()];
        row.extend(r.folds.iter().cloned());
        row.push(r.average.clone());
        t.row(row);
    }
    match cv_section::table1_row(inputs) {
        Some((folds, avg, label)) => {
            let [a, b, c] = folds;
            t.row(vec![method.clone(), label, a, b, c, avg]);
            doc.table(t);
            doc.para(
                "Our row follows the paper's semi-automated protocol (`unet3d cv --protocol semi \
                 --folds 3`): the annotated slices are split into 3 folds, each fold trains on the \
                 other two folds' slices and is scored (mean foreground IoU) on its own held-out \
                 slices of the same volumes.",
            );
        }
        None => {
            t.row(vec![
                method.clone(),
                format!("{ours_label}, {setting}"),
                "–".into(),
                "–".into(),
                "–".into(),
                iou.clone(),
            ]);
            doc.table(t);
            doc.para(
                "The paper's Table 1 trains on sparsely annotated slices of the same volumes it tests \
                 on (3 folds); our row is the mean IoU over foreground classes on held-out cases, so \
                 the protocol differs (`unet3d cv --protocol semi --sparse-slices K --folds 3` \
                 measures the fold columns; pass its folder with `--cv`).",
            );
        }
    }
    doc.h3("In the layout of the paper's Table 3 (IoU, fully automated)");
    let mut t = Table::new(&["method", "data", "average IoU"]);
    for r in &paper.table3 {
        t.row(vec![
            r.method.clone(),
            paper.label.clone(),
            r.average.clone(),
        ]);
    }
    match cv_section::table3_row(inputs) {
        Some((loo, label)) => {
            t.row(vec![method, label, loo]);
            doc.table(t);
            doc.para(
                "Our row follows the paper's fully automated protocol: leave-one-out over the cases \
                 (`unet3d cv --folds N` with N = the number of cases), mean foreground IoU pooled over \
                 the held-out cases.",
            );
        }
        None => {
            t.row(vec![method, ours_label.clone(), iou]);
            doc.table(t);
            doc.para(
                "Our row is the held-out split, not the paper's train-on-all-but-one protocol \
                 (`unet3d cv --folds N` with N cases measures that; pass its folder with `--cv`).",
            );
        }
    }
    doc.para(format!(
        "Paper rows: {}. They are on Xenopus kidney, not prostate: they show the table \
         format, not a target.",
        paper.source
    ));

    doc.h3("Beside the published NCI-ISBI 2013 results (Dice)");
    let mut t = Table::new(&["method", "Dice CG", "Dice PZ", "notes"]);
    let nci = &published().nci_isbi;
    for r in &nci.rows {
        let note = if r.note.is_empty() {
            "published".to_string()
        } else {
            format!("published; {}", r.note)
        };
        t.row(vec![
            r.method.clone(),
            r.dice_cg.clone(),
            r.dice_pz.clone(),
            note,
        ]);
    }
    let dice = |word: &str| {
        eval.map_or("not provided".into(), |e| {
            mean_sd(class(e, word).and_then(|c| c.dice.as_ref()), 3)
        })
    };
    t.row(vec![
        "this run".into(),
        dice("central"),
        dice("peripheral"),
        if eval.is_some() {
            format!("{ours_label}; native resolution")
        } else {
            ours_label.clone()
        },
    ]);
    doc.table(t);
    doc.para(format!("Published rows: {}.", nci.source));
    let statement = match &inputs.eval_data {
        Some(d) if d.is_phantom() => format!("Our row is on {}. {PHANTOM_WARNING}", d.sentence()),
        Some(d) => format!(
            "Our row is on {}; it is comparable with the published test-set rows only if that split is the \
             official NCI-ISBI 2013 test set (10 cases) scored at native resolution.",
            d.sentence()
        ),
        None => "Our row: evaluation not provided.".into(),
    };
    doc.para(statement);
}

/// Section 6: the commands, with this run's paths (placeholders where a path is not known).
pub(crate) fn reproduce(doc: &mut Doc, inputs: &Inputs) {
    doc.h2("How to reproduce");
    let data = shell(&inputs.info.dataset.display().to_string());
    let run = inputs.run.display().to_string();
    let mut lines = Vec::new();
    match inputs
        .train_data
        .spec
        .as_ref()
        .filter(|_| inputs.train_data.is_phantom())
    {
        Some(spec) => {
            let arg = |flag: &str, word: &str, before: bool| {
                number_near(&spec.description, word, before)
                    .map_or(String::new(), |n| format!(" --{flag} {n}"))
            };
            lines.push("# the phantoms (settings from dataset.json)".to_string());
            lines.push(format!(
                "unet3d synth --out {data}{}{}{}",
                arg("cases", " cases", true),
                arg("seed", "seed ", false),
                arg("matrix", "matrix ", false)
            ));
        }
        None => {
            lines.push("# NCI-ISBI 2013 from TCIA (DICOM images, NRRD labels)".to_string());
            lines.push(format!(
                "unet3d import nci-isbi --images TCIA_DIR --labels NRRD_DIR --out {data}"
            ));
        }
    }
    let explore = inputs
        .explore
        .as_ref()
        .map_or("EXPLORE".into(), |(d, _)| shell(&d.display().to_string()));
    let eval = inputs
        .eval
        .as_ref()
        .map_or("EVAL".into(), |(d, _)| shell(&d.display().to_string()));
    let split = inputs.eval.as_ref().map_or("test".into(), |(_, e)| {
        format!("{:?}", e.split).to_lowercase()
    });
    lines.push(format!("unet3d explore --data {data} --out {explore}"));
    lines.push("# config.json holds every training setting, the seed included".to_string());
    lines.push(format!(
        "unet3d train --data {data} --config {} --out {}",
        shell(&format!("{run}/config.json")),
        shell(&format!("{run}-again"))
    ));
    lines.push(format!(
        "unet3d evaluate --model {} --data {data} --split {split} --out {eval}",
        shell(&run)
    ));
    lines.push(format!(
        "unet3d report --run {} --eval {eval} --explore {explore} --out REPORT",
        shell(&run)
    ));
    doc.code(lines.join("\n"));
}

/// The integer right after `word` (or right before it when `before`), e.g. "seed 7" → 7.
fn number_near(text: &str, word: &str, before: bool) -> Option<u64> {
    let at = text.find(word)?;
    if before {
        let head = &text[..at];
        let start = head
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        head[start..].parse().ok()
    } else {
        let tail = &text[at + word.len()..];
        let end = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        tail[..end].parse().ok()
    }
}
