//! End to end on a tiny hand-made TCIA tree: every quirk and every reason to skip, and the dataset that
//! results. (The phantom-based round trip lives in `synth_tcia`.)

use std::path::Path;

use super::*;
use crate::data::io::dicom::{SeriesMeta, write_series};
use crate::data::io::nrrd::{NrrdWriteOptions, write_nrrd};
use crate::data::{Affine, Image, Volume};

fn image(nz: usize, seed: usize) -> Image {
    let affine = Affine::from_lps(
        [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 3.0]],
        [-10.0, -20.0, 30.0],
    );
    let mut img: Image = Volume::zeros([6, 5, nz], [0.5, 0.5, 3.0], affine);
    for (i, v) in img.data.iter_mut().enumerate() {
        *v = ((i * 7 + seed * 13) % 97) as f32;
    }
    img
}

/// PZ and CG on the middle slices only, so the first and last slices can be cropped away.
fn label(img: &Image) -> LabelMap {
    let mut l: LabelMap = img.same_grid();
    for k in 1..img.dims[2] - 1 {
        for j in 1..4 {
            for i in 1..5 {
                l.set(i, j, k, if j == 3 { 1 } else { 2 });
            }
        }
    }
    l
}

/// `label` restricted to slices `k0..k1`, on a grid whose origin is slice `k0`'s.
fn crop(l: &LabelMap, k0: usize, k1: usize) -> LabelMap {
    let mut affine = l.affine;
    let o = l.affine.apply([0.0, 0.0, k0 as f64]);
    (0..3).for_each(|r| affine.0[r][3] = o[r]);
    let plane = l.dims[0] * l.dims[1];
    let mut out: LabelMap = Volume::zeros([l.dims[0], l.dims[1], k1 - k0], l.spacing, affine);
    out.data.copy_from_slice(&l.data[k0 * plane..k1 * plane]);
    out
}

fn write_dicom(root: &Path, case: &str, img: &Image, n: usize) {
    let meta = SeriesMeta {
        patient_id: format!("PATIENT{n}"), // deliberately not the folder name
        series_uid: format!("1.2.3.{n}.2"),
        study_uid: format!("1.2.3.{n}.1"),
        description: "T2 AX".into(),
        shuffle_seed: Some(n as u64),
    };
    write_series(
        &root.join(case).join(&meta.study_uid).join(&meta.series_uid),
        img,
        &meta,
    )
    .unwrap();
}

fn write_label(path: &Path, l: &LabelMap) {
    write_nrrd(path, l, &NrrdWriteOptions::default()).unwrap();
}

#[test]
fn quirks_are_reconciled_and_bad_cases_skipped_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let (images, tr, lb, te) = (
        tmp.path().join("images"),
        tmp.path().join("Training"),
        tmp.path().join("Leaderboard"),
        tmp.path().join("Test"),
    );
    let nested = images.join("PROSTATE-DIAGNOSIS");

    // Plain training case.
    let img1 = image(4, 1);
    write_dicom(&images, "Prostate3T-01-0001", &img1, 1);
    write_label(&tr.join("Prostate3T-01-0001.nrrd"), &label(&img1));
    // ... with a second (ADC) series in its folder, which the label does not fit.
    let mut adc = image(2, 9);
    adc.dims = [3, 3, 2];
    adc.data.truncate(18);
    let adc_meta = SeriesMeta {
        patient_id: "P".into(),
        series_uid: "1.2.3.1.3".into(),
        study_uid: "1.2.3.1.1".into(),
        description: "ADC".into(),
        shuffle_seed: None,
    };
    write_series(
        &images.join("Prostate3T-01-0001/1.2.3.1.1/adc"),
        &adc,
        &adc_meta,
    )
    .unwrap();
    // Cropped label (slices 1..4 of 5) + a wrong original replaced by `_correctedLabels`.
    let img2 = image(5, 2);
    write_dicom(&nested, "ProstateDx-01-0002", &img2, 2);
    let mut wrong = label(&img2);
    wrong
        .data
        .iter_mut()
        .for_each(|v| *v = if *v == 0 { 0 } else { 3 - *v });
    write_label(&tr.join("ProstateDx-01-0002.nrrd"), &wrong);
    write_label(
        &tr.join("ProstateDx-01-0002_correctedLabels.nrrd"),
        &crop(&label(&img2), 1, 4),
    );
    // Leaderboard: `_truth` label, imported.
    let img3 = image(3, 3);
    write_dicom(&images, "ProstateDx-01-0003", &img3, 3);
    write_label(&lb.join("ProstateDx-01-0003_truth.nrrd"), &label(&img3));
    // Leaderboard: unknown label value.
    let img4 = image(3, 4);
    write_dicom(&images, "Prostate3T-01-0004", &img4, 4);
    let mut odd = label(&img4);
    odd.data[7] = 5;
    write_label(&lb.join("Prostate3T-01-0004_truth.nrrd"), &odd);
    // Test: label shifted two slices above its image.
    let img5 = image(4, 5);
    write_dicom(&images, "Prostate3T-01-0005", &img5, 5);
    let mut shifted = label(&img5);
    shifted.affine.0[2][3] += 6.0;
    write_label(&te.join("Prostate3T-01-0005_truth.nrrd"), &shifted);
    // Test: label without image; image without label.
    write_label(&te.join("Prostate3T-01-0006_truth.nrrd"), &label(&img5));
    write_dicom(&images, "ProstateDx-01-0007", &image(3, 7), 7);

    let out = tmp.path().join("dataset");
    let opts = ImportOptions::new(&images, vec![tr, lb, te], &out);
    let summary = import(&opts).unwrap();
    let text = summary.to_string();
    let status = |case: &str| summary.row(case).unwrap().status.clone();
    let skipped = |case: &str, needle: &str| match status(case) {
        CaseStatus::Skipped { reason } => assert!(reason.contains(needle), "{case}: {reason}"),
        s => panic!("{case} should be skipped: {s:?}\n{text}"),
    };
    skipped("Prostate3T-01-0004", "[5] are not in the label mapping");
    skipped("Prostate3T-01-0005", "outside");
    skipped("Prostate3T-01-0006", "no image folder");
    skipped("ProstateDx-01-0007", "no label file");
    assert_eq!(summary.imported(), 3, "{text}");
    let CaseStatus::Imported { notes } = status("ProstateDx-01-0002") else {
        panic!("{text}")
    };
    assert!(
        notes[0].contains("_correctedLabels.nrrd replaces ProstateDx-01-0002.nrrd"),
        "{notes:?}"
    );
    assert!(
        notes[1].contains("covers image slices 1..=3 of 5"),
        "{notes:?}"
    );
    assert_eq!(
        summary.row("Prostate3T-01-0001").unwrap().label_voxels,
        BTreeMap::from([(1, 8), (2, 16)])
    );
    assert!(
        text.contains("ProstateDx-01-0003") && text.contains("3 imported, 4 skipped"),
        "{text}"
    );

    let ds = Dataset::open(&out).unwrap();
    assert_eq!(
        ds.spec.splits.train,
        ["Prostate3T-01-0001", "ProstateDx-01-0002"]
    );
    assert_eq!(ds.spec.splits.validation, ["ProstateDx-01-0003"]);
    assert!(ds.spec.splits.test.is_empty());
    for (case, img) in [
        ("Prostate3T-01-0001", &img1),
        ("ProstateDx-01-0002", &img2),
        ("ProstateDx-01-0003", &img3),
    ] {
        let c = ds.load_case(case).unwrap();
        assert_eq!(c.image.data, img.data, "{case}");
        assert!(c.image.affine.max_abs_diff(&img.affine) < 1e-3, "{case}");
        assert_eq!(c.label.data, label(img).data, "{case}");
    }
    // A second import into the same folder is refused.
    assert!(
        import(&opts)
            .unwrap_err()
            .to_string()
            .contains("already exists")
    );
}

#[test]
fn nothing_importable_is_an_error_without_dataset_json() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let img = image(3, 1);
    write_label(
        &tmp.path().join("train/Prostate3T-01-0001.nrrd"),
        &label(&img),
    );
    let out = tmp.path().join("out");
    let err = import(&ImportOptions::new(
        &images,
        vec![tmp.path().join("train")],
        &out,
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("no case could be imported") && err.contains("no image folder"),
        "{err}"
    );
    assert!(!out.exists(), "nothing may be left behind");
}

#[test]
fn mapping_is_checked_and_applied() {
    assert!(check_mapping(&DEFAULT_LABEL_MAPPING).is_ok());
    assert!(check_mapping(&[(1, 2), (2, 1)]).is_ok());
    assert!(check_mapping(&[(1, 3)]).is_err());
    assert!(check_mapping(&[(1, 1), (1, 2)]).is_err());
    assert!(check_mapping(&[(0, 1)]).is_err());
    let mut l: LabelMap = Volume::zeros([4, 1, 1], [1.0; 3], Affine::identity());
    l.data = vec![0, 1, 2, 2];
    apply_mapping(&mut l, &[(1, 2), (2, 1)]).unwrap();
    assert_eq!(l.data, vec![0, 2, 1, 1]);
    l.data = vec![0, 1, 3, 4];
    let err = apply_mapping(&mut l, &DEFAULT_LABEL_MAPPING).unwrap_err();
    assert!(err.contains("[3, 4]"), "{err}");
}
