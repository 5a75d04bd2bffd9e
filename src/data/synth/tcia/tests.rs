//! End to end: phantoms → TCIA layout → importer must equal phantoms → NIfTI dataset.

use super::*;
use crate::data::dataset::Dataset;
use crate::data::import::nci_isbi::{CaseStatus, ImportOptions, import};
use crate::data::io::read_labels;
use crate::data::synth::synth_dataset;

fn small() -> PhantomConfig {
    PhantomConfig {
        matrix: 32,
        dx_slices: [20, 20],
        t3_slices: [18, 18],
        z_subsamples: 1,
        ..Default::default()
    }
}

fn patient_id(dir: &std::path::Path) -> String {
    let mut d = dir.to_path_buf();
    while d.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        d = entries[0].clone();
    }
    let obj = dicom_object::open_file(&d).unwrap();
    obj.element(dicom_dictionary_std::tags::PATIENT_ID)
        .unwrap()
        .to_str()
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn importing_the_tcia_layout_gives_the_synth_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, seed, cfg) = (4, 11, small());
    let nifti = synth_dataset(&tmp.path().join("nifti"), n, seed, &cfg).unwrap();
    let layout = write_tcia_layout(&tmp.path().join("tcia"), n, seed, &cfg).unwrap();

    // The quirks are really on disk.
    let corrected: Vec<_> = std::fs::read_dir(&layout.label_dirs[0])
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_correctedLabels.nrrd"))
        .collect();
    assert_eq!(corrected.len(), 1);
    let (mut cropped, mut reordered) = (0, 0);
    for id in nifti.all_cases() {
        let dir = layout.label_dirs.iter().find(|d| {
            d.join(format!("{id}.nrrd")).exists() || d.join(format!("{id}_truth.nrrd")).exists()
        });
        let dir = dir.unwrap();
        let path = [
            format!("{id}_correctedLabels.nrrd"),
            format!("{id}.nrrd"),
            format!("{id}_truth.nrrd"),
        ]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .unwrap();
        let stored = read_labels(&path).unwrap();
        let truth = nifti.load_case(&id).unwrap().label;
        cropped += (stored.dims[2] < truth.dims[2]) as usize;
        let (a, b) = (stored.affine.column(0), truth.affine.column(0));
        reordered += (0..3).any(|r| (a[r] - b[r]).abs() > 1e-6) as usize;
    }
    assert_eq!((cropped, reordered), (1, 1));
    let last = crate::data::synth::phantom::case_id(n - 1);
    assert_ne!(patient_id(&layout.images.join(&last)), last);

    let out = tmp.path().join("imported");
    let summary = import(&ImportOptions::new(
        &layout.images,
        layout.label_dirs.clone(),
        &out,
    ))
    .unwrap();
    assert_eq!(summary.imported(), n, "{summary}");
    let imported = Dataset::open(&out).unwrap();
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    for split in [Split::Train, Split::Validation, Split::Test] {
        assert_eq!(
            sorted(imported.spec.cases(split)),
            sorted(nifti.spec.cases(split)),
            "{split:?}"
        );
    }
    for id in nifti.all_cases() {
        let (a, b) = (
            nifti.load_case(&id).unwrap(),
            imported.load_case(&id).unwrap(),
        );
        assert_eq!(a.label.dims, b.label.dims, "{id}");
        assert!(
            a.label.affine.max_abs_diff(&b.label.affine) < 1e-3,
            "{id}: {:?} vs {:?}",
            a.label.affine,
            b.label.affine
        );
        assert!(a.label.data == b.label.data, "{id}: label voxels differ");
        assert!(a.image.data == b.image.data, "{id}: image voxels differ");
        assert_eq!(
            summary
                .row(&id)
                .unwrap()
                .label_voxels
                .values()
                .sum::<usize>(),
            a.label.data.iter().filter(|&&v| v != 0).count()
        );
    }
}

#[test]
fn a_label_outside_its_image_is_skipped_and_the_rest_import() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 4;
    let layout = write_tcia_layout(&tmp.path().join("tcia"), n, 3, &small()).unwrap();
    let victim = crate::data::synth::phantom::case_id(n - 1); // a test case
    let path = layout.label_dirs[2].join(format!("{victim}_truth.nrrd"));
    let mut label = read_labels(&path).unwrap();
    label.affine.0[2][3] += 500.0;
    std::fs::remove_file(&path).unwrap();
    write_nrrd(&path, &label, &NRRD).unwrap();

    let summary = import(&ImportOptions::new(
        &layout.images,
        layout.label_dirs,
        tmp.path().join("out"),
    ))
    .unwrap();
    assert_eq!(summary.imported(), n - 1, "{summary}");
    match &summary.row(&victim).unwrap().status {
        CaseStatus::Skipped { reason } => assert!(reason.contains("outside"), "{reason}"),
        s => panic!("{victim} imported: {s:?}"),
    }
    let ds = Dataset::open(&tmp.path().join("out")).unwrap();
    assert!(!ds.all_cases().contains(&victim));
    assert_eq!(ds.all_cases().len(), n - 1);
}

#[test]
fn too_few_cases_or_a_used_folder_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(write_tcia_layout(&tmp.path().join("a"), 2, 1, &small()).is_err());
    std::fs::write(tmp.path().join("x"), "x").unwrap();
    assert!(
        write_tcia_layout(&tmp.path(), 3, 1, &small())
            .unwrap_err()
            .to_string()
            .contains("refusing")
    );
}
