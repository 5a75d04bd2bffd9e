//! Run folders written by earlier versions keep loading: the checked-in `tests/data/run-v1`
//! (format version 1) loads and predicts, and configs from before fields existed load with the
//! behaviour those versions had.

use std::path::{Path, PathBuf};

use unet3d::backend::Backend;
use unet3d::data::synth::phantom::{PhantomConfig, make_phantom};
use unet3d::infer::predict::{PredictOptions, Predictor};
use unet3d::kernels::KernelChoice;
use unet3d::model::UpConvWidth;
use unet3d::run::{LoadedRun, RunDir, RunInfo, TrainConfig};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-v1")
}

#[test]
fn the_version_1_run_folder_loads_and_predicts() {
    let run = LoadedRun::open(&fixture(), &Backend::flex()).unwrap();
    assert_eq!(run.config.preset, "tiny");
    assert_eq!(run.config.model.base_channels, 4);
    assert_eq!(run.info.label_names.len(), 3);
    assert!(run.weights.ends_with("checkpoints/last"));
    let predictor = Predictor::load(&fixture(), &Backend::flex()).unwrap();
    let cfg = PhantomConfig::small();
    let (image, _) = make_phantom(&cfg, 3, 0);
    let (labels, _) = predictor
        .predict(&image, &PredictOptions::default())
        .unwrap();
    assert_eq!(labels.dims, image.dims);
    assert!(labels.data.iter().all(|&v| v < 3));
}

/// The fixture's config.json with fields removed, as an earlier version wrote it.
fn config_without(fields: &[&str], model_fields: &[&str]) -> serde_json::Value {
    let text = std::fs::read_to_string(RunDir::new(fixture()).config()).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for f in fields {
        v.as_object_mut().unwrap().remove(*f);
    }
    for f in model_fields {
        v["model"].as_object_mut().unwrap().remove(*f);
    }
    v
}

fn load(v: &serde_json::Value) -> unet3d::Result<TrainConfig> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("config.json");
    std::fs::write(&path, serde_json::to_string_pretty(v).unwrap()).unwrap();
    TrainConfig::load(&path)
}

#[test]
fn configs_from_before_a_field_existed_load_with_its_old_behaviour() {
    let v = config_without(
        &[
            "format_version",
            "inference",
            "plan_pooling",
            "preset",
            "val_every",
            "workers",
        ],
        &["up_conv_width", "deep_supervision", "kernels"],
    );
    let cfg = load(&v).unwrap();
    assert_eq!(cfg.model.up_conv_width, UpConvWidth::Keep);
    assert!(!cfg.model.deep_supervision);
    assert_eq!(cfg.model.kernels, KernelChoice::Own);
    assert_eq!(
        cfg.inference.patch, cfg.sampler.patch,
        "the window follows the patch"
    );
    assert!(!cfg.plan_pooling);
    assert_eq!(cfg.preset, "custom");
    assert_eq!(cfg.val_every, (cfg.iterations / 5).max(1));
    assert_eq!(cfg.format_version, unet3d::run::config::FORMAT_VERSION);

    // The kernels' name before the rename.
    let mut v = config_without(&[], &[]);
    v["model"]["kernels"] = "wgsl".into();
    assert_eq!(load(&v).unwrap().model.kernels, KernelChoice::Own);

    // Required fields still say what is missing.
    let err = load(&config_without(&["model"], &[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("config.json") && err.contains("model"),
        "{err}"
    );
}

#[test]
fn a_newer_format_is_refused_by_name() {
    let mut v = config_without(&[], &[]);
    v["format_version"] = 99.into();
    let err = load(&v).unwrap_err().to_string();
    assert!(err.contains("newer unet3d") && err.contains("99"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::new(tmp.path());
    let mut info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(RunDir::new(fixture()).info()).unwrap())
            .unwrap();
    for f in [
        "format_version",
        "backend",
        "parameters",
        "train_cases",
        "validation_cases",
    ] {
        info.as_object_mut().unwrap().remove(f);
    }
    std::fs::write(run.info(), info.to_string()).unwrap();
    let old = RunInfo::load(&run).unwrap();
    assert_eq!((old.format_version, old.parameters), (0, 0));
    info["format_version"] = 7.into();
    std::fs::write(run.info(), info.to_string()).unwrap();
    let err = RunInfo::load(&run).unwrap_err().to_string();
    assert!(
        err.contains("run.json") && err.contains("newer unet3d"),
        "{err}"
    );
}
