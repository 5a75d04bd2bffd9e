//! `unet3d predict` writes its segmentation on exactly the input's grid — same dims and affine —
//! for NIfTI, NRRD and DICOM-series input (for DICOM, the affine derived from the series), and
//! refuses to overwrite its input.

use std::path::Path;
use std::process::Command;

use unet3d::backend::Backend;
use unet3d::data::io::dicom::{SeriesMeta, write_series};
use unet3d::data::io::{read_image, read_labels, write_image};
use unet3d::data::synth::phantom::PhantomConfig;
use unet3d::data::synth::synth_dataset;
use unet3d::run::TrainConfig;
use unet3d::train::{TrainOptions, train};

fn predict(run: &Path, input: &Path, output: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_unet3d"))
        .args(["predict", "--device", "flex", "--model"])
        .arg(run)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .output()
        .expect("unet3d runs")
}

/// Predicts `input` and checks the output's grid against the input as read by the library.
fn check_same_grid(run: &Path, input: &Path, output: &Path) {
    let out = predict(run, input, output);
    assert!(
        out.status.success(),
        "predict {} failed: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let image = read_image(input).unwrap();
    let seg = read_labels(output).unwrap();
    assert_eq!(seg.dims, image.dims, "{}", input.display());
    let diff = seg.affine.max_abs_diff(&image.affine);
    assert!(diff < 1e-4, "{}: affine differs by {diff}", input.display());
    assert!(seg.data.iter().all(|&v| v <= 2), "labels are classes 0..=2");
}

#[test]
fn predict_output_is_on_the_input_grid_for_nifti_nrrd_and_dicom() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let phantoms = PhantomConfig {
        matrix: 64,
        ..PhantomConfig::default()
    };
    let ds = synth_dataset(&dir.join("data"), 4, 3, &phantoms).unwrap();
    // Two iterations of the tiny preset: the grid handling is under test, not accuracy.
    let mut cfg = TrainConfig::preset("tiny").unwrap();
    cfg.iterations = 2;
    cfg.val_every = 2;
    let run = dir.join("run");
    let opts = TrainOptions {
        resume: false,
        progress: false,
        iterations: None,
        ..TrainOptions::default()
    };
    train(&ds, &run, cfg, &Backend::flex(), &opts).unwrap();

    let id = &ds.spec.splits.test[0];
    let nifti = ds.image_path(id);
    check_same_grid(&run, &nifti, &dir.join("seg-from-nifti.nii.gz"));

    let image = read_image(&nifti).unwrap();
    let nrrd = dir.join("scan.nrrd");
    write_image(&nrrd, &image).unwrap();
    check_same_grid(&run, &nrrd, &dir.join("seg-from-nrrd.nii.gz"));

    let series = dir.join("dicom");
    let meta = SeriesMeta {
        patient_id: id.clone(),
        series_uid: "1.2.826.0.1.3680043.2.1125.7.1".into(),
        study_uid: "1.2.826.0.1.3680043.2.1125.7".into(),
        description: "T2 TSE AX".into(),
        shuffle_seed: Some(5),
    };
    write_series(&series, &image, &meta).unwrap();
    check_same_grid(&run, &series, &dir.join("seg-from-dicom.nrrd"));

    // The input is never overwritten: the command refuses and the file is unchanged.
    let before = std::fs::read(&nifti).unwrap();
    let out = predict(&run, &nifti, &nifti);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("input"));
    assert_eq!(std::fs::read(&nifti).unwrap(), before);
}
