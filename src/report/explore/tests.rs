//! Tests of `explore_cases` on three tiny hand-computable cases.

use super::*;
use crate::data::dataset::Splits;
use crate::data::{Affine, Image, LabelMap, Volume};

fn case(
    id: &str,
    dims: [usize; 3],
    spacing: [f64; 3],
    intensity: impl Fn(usize) -> f32,
    label: impl Fn(usize) -> u8,
) -> Case {
    let affine = Affine::from_spacing_origin(spacing, [0.0; 3]);
    let mut image: Image = Volume::zeros(dims, spacing, affine);
    let mut lab: LabelMap = Volume::zeros(dims, spacing, affine);
    for n in 0..image.len() {
        image.data[n] = intensity(n);
        lab.data[n] = label(n);
    }
    Case {
        id: id.into(),
        image,
        label: lab,
    }
}

fn three_cases() -> Vec<Case> {
    vec![
        // 32 voxels of 0.75 mm³; values 0..31; label 1 on the first 8 voxels, label 2 on slice k=1.
        case(
            "a",
            [4, 4, 2],
            [0.5, 0.5, 3.0],
            |n| n as f32,
            |n| {
                if n < 8 {
                    1
                } else if n >= 16 {
                    2
                } else {
                    0
                }
            },
        ),
        // 75 voxels of 2 mm³; values 100 + 2n; label 1 on voxels 0..10, label 2 on 10..15.
        case(
            "b",
            [5, 5, 3],
            [1.0, 1.0, 2.0],
            |n| 100.0 + 2.0 * n as f32,
            |n| match n {
                0..10 => 1,
                10..15 => 2,
                _ => 0,
            },
        ),
        // 48 voxels of 0.64 mm³; constant image; label 2 on 12 voxels, no label 1.
        case(
            "c",
            [6, 4, 2],
            [0.4, 0.4, 4.0],
            |_| 5.0,
            |n| if n % 4 == 0 { 2 } else { 0 },
        ),
    ]
}

fn spec() -> DatasetSpec {
    let splits = Splits {
        train: vec!["a".into(), "b".into()],
        validation: vec![],
        test: vec!["c".into()],
    };
    DatasetSpec::prostate("tiny", "three synthetic cases", splits)
}

/// A temporary folder (removed on drop) and the not-yet-existing output folder inside it.
fn temp_out() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    (tmp, out)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

#[test]
fn explores_three_cases_with_known_numbers() {
    let (_tmp, out) = temp_out();
    let s = explore_cases(&spec(), three_cases().into_iter().map(Ok), &out).unwrap();

    // Per-case volumes: voxels × product(spacing) / 1000.
    let ml = |c: usize, v: u8| s.cases[c].labels.iter().find(|l| l.value == v).unwrap().ml;
    assert!(close(ml(0, 1), 8.0 * 0.75 / 1000.0) && close(ml(0, 2), 16.0 * 0.75 / 1000.0));
    assert!(close(ml(1, 1), 10.0 * 2.0 / 1000.0) && close(ml(1, 2), 5.0 * 2.0 / 1000.0));
    assert!(close(ml(2, 1), 0.0) && close(ml(2, 2), 12.0 * 0.64 / 1000.0));
    assert!(close(s.cases[0].foreground_fraction, 24.0 / 32.0));

    // Percentiles of 0..31 at positions p/100 · 31; of 100 + 2n (n = 0..74) at p/100 · 74.
    let i = &s.cases[0].intensity;
    assert!(close(i.p0_5, 0.155) && close(i.p50, 15.5) && close(i.p99_5, 30.845));
    assert_eq!((i.min, i.max), (0.0, 31.0));
    let i = &s.cases[1].intensity;
    assert!(close(i.p50, 174.0) && close(i.p99_5, 100.0 + 2.0 * 0.995 * 74.0));
    assert_eq!(s.cases[2].intensity.p50, 5.0);

    // Dataset figures.
    assert_eq!(s.n_cases, 3);
    assert_eq!(s.cases_per_split["train"], 2);
    assert_eq!(s.cases_per_split["validation"], 0);
    assert_eq!(s.cases_per_split["test"], 1);
    assert_eq!(s.cases[2].split, "test");
    assert_eq!(s.median_spacing, [0.5, 0.5, 3.0]);
    assert!(close(s.anisotropy, 6.0));
    assert_eq!(s.median_dims, [5.0, 4.0, 2.0]);
    let class = |v: u8| s.classes.iter().find(|c| c.value == v).unwrap();
    assert!(close(class(0).voxel_fraction, 104.0 / 155.0));
    assert!(close(class(1).voxel_fraction, 18.0 / 155.0));
    assert!(close(class(2).voxel_fraction, 33.0 / 155.0));
    assert!(close(class(1).median_ml.unwrap(), 0.006) && close(class(2).median_ml.unwrap(), 0.01));
    assert!(close(s.pz_cg_ratio.unwrap(), 0.6));
    assert!(
        s.label_mapping.contains("1 = peripheral zone (orange"),
        "{}",
        s.label_mapping
    );
    assert!(s.label_mapping.contains("ratio 0.60"));

    // Outputs: JSON equals the returned summary, Markdown links the figures, PNGs decode.
    let json: ExploreSummary =
        serde_json::from_str(&std::fs::read_to_string(out.join("explore.json")).unwrap()).unwrap();
    assert_eq!(json, s);
    let md = std::fs::read_to_string(out.join("explore.md")).unwrap();
    assert!(
        md.contains("| a | train | 4 x 4 x 2 | 0.500 x 0.500 x 3.000 |"),
        "{md}"
    );
    assert_eq!(
        s.figures.montages,
        ["montage_a.png", "montage_b.png", "montage_c.png"]
    );
    for name in s
        .figures
        .montages
        .iter()
        .chain([&s.figures.intensity_histogram, &s.figures.label_volumes])
    {
        assert!(md.contains(&format!("]({name})")), "{name} not linked");
        let img = image::open(out.join(name)).unwrap();
        assert!(img.width() > 100 && img.height() > 100, "{name}");
    }
}

#[test]
fn montage_count_is_configurable() {
    let (_tmp, out) = temp_out();
    let opts = ExploreOptions {
        montage_cases: 1,
        montage_slices: 2,
    };
    let s = explore_cases_with(&spec(), three_cases().into_iter().map(Ok), &out, &opts).unwrap();
    assert_eq!(s.figures.montages, ["montage_a.png"]);
    assert!(!out.join("montage_b.png").exists());
}

#[test]
fn a_failing_case_leaves_no_output() {
    let (_tmp, out) = temp_out();
    let mut cases: Vec<Result<Case>> = three_cases().into_iter().map(Ok).collect();
    cases.insert(1, Err(Error::invalid("imagesTr/x.nii.gz", "broken")));
    let err = explore_cases(&spec(), cases.into_iter(), &out).unwrap_err();
    assert!(err.to_string().contains("x.nii.gz"));
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0);

    assert!(explore_cases(&spec(), std::iter::empty(), &out).is_err());
    let mut bad = three_cases().remove(0);
    bad.label.dims = [2, 2, 2];
    let err = explore_cases(&spec(), std::iter::once(Ok(bad)), &out).unwrap_err();
    assert!(err.to_string().contains("case a"), "{err}");
}
