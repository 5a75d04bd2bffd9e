//! End-to-end tests of `write_report` on hand-built run, evaluation, explore and dataset folders,
//! written through the real structs' serde so the report reads exactly what the pipeline writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::data::dataset::{DatasetSpec, Split, Splits};
use crate::infer::predict::Timings;
use crate::metrics::evaluate::CaseResult;
use crate::metrics::evaluate::load_evaluation;
use crate::metrics::{ClassMetrics, summarize};
use crate::plot::canvas::Canvas;
use crate::report::ExploreSummary;
use crate::report::explore::ClassSummary as ExploreClass;
use crate::report::explore::Figures;
use crate::run::checkpoint::TrainState;
use crate::run::history::Record;
use crate::run::{RunInfo, TrainConfig};

const PZ_DICE: [f64; 2] = [0.8, 0.9];
const CG_DICE: [f64; 2] = [0.7, 0.95];

struct Fixture {
    _tmp: tempfile::TempDir,
    run: PathBuf,
    eval: PathBuf,
    explore: PathBuf,
    out: PathBuf,
}

fn json(path: &Path, value: &impl serde::Serialize) {
    fsio::write_atomic(
        path,
        serde_json::to_string_pretty(value).unwrap().as_bytes(),
    )
    .unwrap();
}

fn png(path: &Path, shade: u8) {
    Canvas::new(6, 4, [shade, 40, 200]).save_png(path).unwrap();
}

fn metrics(class: u8, dice: f64) -> ClassMetrics {
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
        volume_diff_rel: Some(dice - 1.0),
        empty: None,
    }
}

/// A run, an evaluation, an exploration and a dataset.json (phantoms or "NCI-ISBI") under a temp folder.
fn fixture(tag: &str, phantom: bool) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join(tag);
    let (data, run, eval, explore, out) = (
        root.join("data"),
        root.join("run"),
        root.join("eval"),
        root.join("explore"),
        root.join("out"),
    );
    let ids: Vec<String> = (1..=4).map(|i| format!("ProstateDx-01-000{i}")).collect();
    let splits = Splits {
        train: ids[..2].to_vec(),
        validation: ids[2..3].to_vec(),
        test: ids[3..].to_vec(),
    };
    let spec = if phantom {
        DatasetSpec::prostate(
            "synthetic-prostate",
            "Synthetic prostate T2 phantoms (seed 7, 4 cases, matrix 64): labels 1 = peripheral zone, 2 = central gland",
            splits,
        )
    } else {
        DatasetSpec::prostate(
            "nci-isbi",
            "NCI-ISBI 2013 prostate (TCIA DICOM + NRRD labels)",
            splits,
        )
    };
    crate::data::dataset::Dataset::create(&data, spec).unwrap();
    let names: Vec<String> = ["background", "peripheral zone", "central gland"]
        .map(String::from)
        .to_vec();

    json(
        &run.join("config.json"),
        &TrainConfig::preset("tiny").unwrap(),
    );
    let info = RunInfo {
        format_version: 1,
        dataset: data.clone(),
        label_names: names.clone(),
        target_spacing: [2.0, 2.0, 3.0],
        backend: "flex (CPU, 2 threads)".into(),
        parameters: 1_234_567,
        train_cases: 2,
        validation_cases: 1,
    };
    json(&run.join("run.json"), &info);
    let state = TrainState {
        step: 20,
        best_dice: Some(0.5),
        best_step: Some(10),
        elapsed_s: 75.0,
    };
    json(&run.join("checkpoints/last/state.json"), &state);
    let record = Record {
        step: 20,
        lr: 1e-3,
        loss: 0.625,
        ce: 0.25,
        dice_loss: 0.375,
        data_wait_s: 0.0,
        step_s: 0.5,
        val_dice: Some(vec![0.4, 0.6]),
    };
    fsio::write_atomic(
        &run.join("metrics.jsonl"),
        format!("{}\n", serde_json::to_string(&record).unwrap()).as_bytes(),
    )
    .unwrap();
    png(&run.join("curves.png"), 10);

    let per_case: Vec<(String, Vec<ClassMetrics>)> = (0..2)
        .map(|i| {
            (
                format!("case{i}"),
                vec![metrics(1, PZ_DICE[i]), metrics(2, CG_DICE[i])],
            )
        })
        .collect();
    let timings = Timings {
        preprocess_s: 0.5,
        network_s: 2.0,
        restore_s: 0.25,
        postprocess_s: 0.25,
    };
    let evaluation = Evaluation {
        dataset: data.clone(),
        split: Split::Test,
        run: run.clone(),
        checkpoint: run.join("checkpoints").join("last"),
        backend: "flex (CPU, 2 threads)".into(),
        mirror_tta: false,
        largest_component: true,
        postprocessing: None,
        models: vec![],
        mean_timings_per_model: vec![],
        label_names: names,
        summary: summarize(&per_case, &info.label_names),
        per_case: per_case
            .iter()
            .map(|(id, m)| CaseResult {
                id: id.clone(),
                dims: [8, 8, 4],
                spacing: [1.0, 1.0, 3.0],
                metrics: m.clone(),
                timings: timings.clone(),
                per_model: vec![],
            })
            .collect(),
        mean_timings: timings,
        total_seconds: 6.5,
        figures: vec![
            "overlay_best_case1.png".into(),
            "overlay_worst_case0.png".into(),
        ],
    };
    json(&eval.join("summary.json"), &evaluation);
    png(&eval.join("overlay_best_case1.png"), 20);
    png(&eval.join("overlay_worst_case0.png"), 30);

    let class = |value: u8, name: &str, share: f64, ml: Option<f64>| ExploreClass {
        value,
        name: name.into(),
        color: [255, 0, 0],
        color_name: "red".into(),
        voxel_fraction: share,
        median_ml: ml,
    };
    let summary = ExploreSummary {
        dataset: if phantom {
            "synthetic-prostate"
        } else {
            "nci-isbi"
        }
        .into(),
        n_cases: 4,
        cases_per_split: BTreeMap::from([
            ("train".into(), 2),
            ("validation".into(), 1),
            ("test".into(), 1),
        ]),
        median_spacing: [0.625, 0.625, 3.5],
        anisotropy: 5.6,
        median_dims: [64.0, 64.0, 20.0],
        classes: vec![
            class(0, "background", 0.975, None),
            class(1, "peripheral zone", 0.0083, Some(12.25)),
            class(2, "central gland", 0.0167, Some(24.75)),
        ],
        pz_cg_ratio: Some(0.49),
        label_mapping:
            "Label 1 is the peripheral zone (median 12.25 mL), label 2 the central gland.".into(),
        figures: Figures {
            montages: vec!["montage_ProstateDx-01-0001.png".into()],
            intensity_histogram: "intensity_histogram.png".into(),
            label_volumes: "label_volumes.png".into(),
        },
        cases: vec![],
    };
    json(&explore.join("explore.json"), &summary);
    png(&explore.join("montage_ProstateDx-01-0001.png"), 40);
    Fixture {
        _tmp: tmp,
        run,
        eval,
        explore,
        out,
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn full_report_has_our_numbers_published_numbers_figures_and_the_phantom_warning() {
    let f = fixture("full", true);
    let paths = write_report(&f.run, Some(&f.eval), Some(&f.explore), &f.out).unwrap();
    assert_eq!(paths.markdown, f.out.join("report.md"));
    let (md, html) = (read(&paths.markdown), read(&paths.html));

    // Figures: every Markdown link exists beside the report; the HTML embeds the same bytes.
    let links: Vec<&str> = md
        .split("](")
        .skip(1)
        .map(|s| &s[..s.find(')').unwrap()])
        .collect();
    assert_eq!(links.len(), 4, "{links:?}");
    for link in &links {
        assert!(f.out.join(link).is_file(), "{link}");
    }
    let curves = std::fs::read(f.run.join("curves.png")).unwrap();
    assert!(html.contains(&format!(
        "data:image/png;base64,{}\"",
        base64::encode(&curves)
    )));
    assert_eq!(html.matches("data:image/png;base64,").count(), 4);
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">") && html.ends_with("</html>\n"));
    assert_eq!(
        html.matches("<table>").count(),
        html.matches("</table>").count()
    );

    // Our numbers, computed here from the fixture's per-case values.
    let pz = format!("{:.3}", mean(&PZ_DICE));
    let iou = |d: &[f64]| mean(&d.iter().map(|x| x / (2.0 - x)).collect::<Vec<_>>());
    let fg_iou = format!("{:.3}", (iou(&PZ_DICE) + iou(&CG_DICE)) / 2.0);
    for text in [&md, &html] {
        assert!(text.contains(&format!("{pz} ± 0.071")), "PZ Dice mean ± sd");
        assert!(text.contains(&format!("{:.3} ± ", mean(&CG_DICE))));
        assert!(text.contains(&fg_iou), "mean foreground IoU {fg_iou}");
        assert!(
            text.contains("1,234,567") && text.contains("20 of 20") && text.contains("1 min 15 s")
        );
        assert!(text.contains("0.625 × 0.625 × 3.500") && text.contains("12.25"));
        // Published numbers, cited as in anchors.md.
        for published in [
            "0.863",
            "0.842",
            "0.704",
            "0.547",
            "0.874 ± 0.053",
            "0.737 ± 0.111",
            "0.900 / 0.875",
        ] {
            assert!(text.contains(published), "{published}");
        }
        assert!(text.contains("Çiçek et al. 2016"));
        assert!(
            text.contains("not NCI-ISBI: numbers on them are not comparable to published results")
        );
        assert!(
            text.contains("unet3d synth --out") && text.contains("--cases 4 --seed 7 --matrix 64")
        );
    }
    assert!(md.contains("> **Warning:**") && html.contains("class=\"warn\""));
    // The evaluated checkpoint.
    assert!(md.contains("cases, checkpoint `last`,"));
    assert!(html.contains("cases, checkpoint <code>last</code>,"));
    let e = load_evaluation(&f.eval).unwrap();
    let line = headline(&e);
    assert_eq!(
        line,
        format!(
            "Holdout Dice: peripheral zone {pz}, central gland 0.825 (n = 2, synthetic phantoms)"
        )
    );
    assert!(md.contains(&line));

    // Same inputs, same bytes (no dates, no nondeterministic order).
    write_report(&f.run, Some(&f.eval), Some(&f.explore), &f.out).unwrap();
    assert_eq!(read(&paths.markdown), md);
    assert_eq!(read(&paths.html), html);
}

#[test]
fn missing_optional_inputs_say_not_provided() {
    let f = fixture("minimal", false);
    std::fs::remove_file(f.run.join("curves.png")).unwrap();
    std::fs::remove_dir_all(f.run.join("checkpoints")).unwrap();
    let paths = write_report(&f.run, None, None, &f.out).unwrap();
    let (md, html) = (read(&paths.markdown), read(&paths.html));
    for text in [&md, &html] {
        assert!(text.contains("Evaluation: not provided"));
        assert!(text.contains("Dataset exploration: not provided"));
        assert!(text.contains("no checkpoint found"));
        assert!(text.contains("Figure not found"));
        assert!(text.contains("0.874 ± 0.053"), "published rows stay");
        assert!(
            !text.contains("not comparable to published results"),
            "not phantoms"
        );
    }
    assert!(!html.contains("data:image/png"));
}

#[test]
fn real_dataset_is_named_not_flagged() {
    let f = fixture("real", false);
    let paths = write_report(&f.run, Some(&f.eval), None, &f.out).unwrap();
    let md = read(&paths.markdown);
    assert!(!md.contains("**Warning:**"), "{md}");
    assert!(md.contains("NCI-ISBI 2013 prostate (TCIA DICOM + NRRD labels)"));
    assert!(md.contains("unet3d import nci-isbi"));
    assert!(headline(&load_evaluation(&f.eval).unwrap()).ends_with("(n = 2, nci-isbi)"));
}

#[test]
fn corrupt_or_missing_inputs_name_the_file_and_write_nothing() {
    let f = fixture("corrupt", true);
    std::fs::write(f.run.join("config.json"), "{ not json").unwrap();
    let err = write_report(&f.run, Some(&f.eval), None, &f.out)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json") && err.contains("not a training config"),
        "{err}"
    );
    assert!(!f.out.exists());

    let g = fixture("corrupt2", true);
    std::fs::remove_file(g.run.join("run.json")).unwrap();
    let err = write_report(&g.run, None, None, &g.out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("run.json"), "{err}");

    let h = fixture("corrupt3", true);
    std::fs::write(h.eval.join("summary.json"), "[]").unwrap();
    std::fs::write(h.run.join("metrics.jsonl"), "{\"step\": 1}\n").unwrap();
    let err = write_report(&h.run, None, None, &h.out)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("metrics.jsonl") && err.contains("line 1"),
        "{err}"
    );
    std::fs::remove_file(h.run.join("metrics.jsonl")).unwrap();
    let err = write_report(&h.run, Some(&h.eval), None, &h.out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("summary.json"), "{err}");
    assert!(!h.out.exists());
}
