//! The synthetic dataset: phantom cases (see `phantom`) written in the project's dataset layout with a
//! fixed ~60 / 20 / 20 train / validation / test split, so the demo and the tests have data without any
//! download. `synth_cases` yields exactly the same cases in memory for other writers (e.g. the
//! TCIA-layout writer).

pub mod phantom;
pub mod tcia;

use std::path::Path;

use crate::data::dataset::{Dataset, DatasetSpec, Split, Splits};
use crate::data::io::{write_image, write_labels};
use crate::data::{Image, LabelMap};
use crate::error::{Error, Result};
use phantom::{PhantomConfig, case_id, make_phantom};

/// Split of case `index` among `n` cases: the last ~20 % are test, the ~20 % before them validation,
/// the rest training (at least one of each when `n >= 3`; scanner styles alternate, so every split
/// gets both). Indices at or past `n` count as test.
pub fn split_of(index: usize, n: usize) -> Split {
    let (n_val, n_test) = split_sizes(n);
    if index + n_test >= n {
        Split::Test
    } else if index + n_test + n_val >= n {
        Split::Validation
    } else {
        Split::Train
    }
}

/// `(validation, test)` counts for `n` cases.
fn split_sizes(n: usize) -> (usize, usize) {
    if n < 3 {
        return (0, n.min(1).min(n.saturating_sub(1)));
    }
    let fifth = ((n as f64) * 0.2).round().max(1.0) as usize;
    (fifth, fifth)
}

/// The `n` phantom cases of series `seed`, generated lazily in index order: id, split, image, labels.
pub fn synth_cases(
    n: usize,
    seed: u64,
    cfg: &PhantomConfig,
) -> impl Iterator<Item = (String, Split, Image, LabelMap)> + use<> {
    let cfg = cfg.clone();
    (0..n).map(move |i| {
        let (image, label) = make_phantom(&cfg, seed, i);
        (case_id(i), split_of(i, n), image, label)
    })
}

/// Writes `n_cases` phantoms as a dataset under `out` (`imagesTr`/`labelsTr` for training and
/// validation, `imagesTs`/`labelsTs` for test, `dataset.json` with the splits). `dataset.json` is
/// written last, so an interrupted run never leaves a dataset that opens.
pub fn synth_dataset(
    out: &Path,
    n_cases: usize,
    seed: u64,
    cfg: &PhantomConfig,
) -> Result<Dataset> {
    if n_cases < 3 {
        return Err(Error::config(format!(
            "synth: need at least 3 cases (one each for train, validation and test), got {n_cases}"
        )));
    }
    cfg.validate()?;
    let mut splits = Splits::default();
    for i in 0..n_cases {
        let list = match split_of(i, n_cases) {
            Split::Train => &mut splits.train,
            Split::Validation => &mut splits.validation,
            Split::Test => &mut splits.test,
        };
        list.push(case_id(i));
    }
    let description = format!(
        "Synthetic prostate T2 phantoms (seed {seed}, {n_cases} cases, matrix {}): labels 1 = peripheral zone, 2 = central gland",
        cfg.matrix
    );
    let spec = DatasetSpec::prostate("synthetic-prostate", &description, splits);
    let layout = Dataset {
        root: out.to_path_buf(),
        spec,
    };
    for (id, _, image, label) in synth_cases(n_cases, seed, cfg) {
        write_image(&layout.image_path(&id), &image)?;
        write_labels(&layout.label_path(&id), &label)?;
    }
    Dataset::create(out, layout.spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_partition_about_60_20_20() {
        for n in 3..60 {
            let count = |s: Split| (0..n).filter(|&i| split_of(i, n) == s).count();
            let (tr, va, te) = (
                count(Split::Train),
                count(Split::Validation),
                count(Split::Test),
            );
            assert_eq!(tr + va + te, n);
            assert!(tr >= 1 && va >= 1 && te >= 1, "n {n}: {tr}/{va}/{te}");
            if n >= 10 {
                let f = |c: usize| c as f64 / n as f64;
                assert!(
                    (0.5..=0.7).contains(&f(tr)) && (0.15..=0.25).contains(&f(te)),
                    "n {n}: {tr}/{va}/{te}"
                );
            }
        }
        assert_eq!(
            (0..10).map(|i| split_of(i, 10)).collect::<Vec<_>>(),
            [
                [Split::Train; 6].as_slice(),
                &[Split::Validation; 2],
                &[Split::Test; 2]
            ]
            .concat()
        );
    }

    #[test]
    fn too_few_cases_is_a_config_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let e = synth_dataset(&dir, 2, 1, &PhantomConfig::default()).unwrap_err();
        assert!(
            matches!(e, Error::Config(_)) && e.to_string().contains("at least 3"),
            "{e}"
        );
        assert!(!dir.exists());
    }

    fn tiny() -> PhantomConfig {
        PhantomConfig {
            matrix: 32,
            dx_slices: [16, 16],
            t3_slices: [15, 15],
            z_subsamples: 1,
            ..Default::default()
        }
    }

    #[test]
    fn dataset_round_trips_through_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let ds = synth_dataset(&dir, 4, 9, &tiny()).unwrap();
        let opened = Dataset::open(&dir).unwrap();
        assert_eq!(opened.spec, ds.spec);
        assert_eq!(
            opened.spec.splits.train,
            ["ProstateDx-01-0001", "Prostate3T-01-0001"]
        );
        assert_eq!(opened.spec.splits.validation, ["ProstateDx-01-0002"]);
        assert_eq!(opened.spec.splits.test, ["Prostate3T-01-0002"]);
        assert!(dir.join("imagesTs/Prostate3T-01-0002.nii.gz").is_file());
        assert!(dir.join("labelsTr/ProstateDx-01-0002.nii.gz").is_file());
        for (id, _, image, label) in synth_cases(4, 9, &tiny()) {
            let case = opened.load_case(&id).unwrap();
            assert_eq!(case.image.data, image.data, "{id}");
            assert_eq!(case.label.data, label.data, "{id}");
            assert_eq!(case.image.dims, image.dims);
            assert!(case.image.affine.max_abs_diff(&image.affine) < 1e-4, "{id}");
            assert!(
                case.label.data.iter().any(|&l| l == 1) && case.label.data.iter().any(|&l| l == 2)
            );
        }
    }

    #[test]
    fn cases_match_make_phantom() {
        let cfg = tiny();
        let cases: Vec<_> = synth_cases(3, 4, &cfg).collect();
        assert_eq!(cases.len(), 3);
        for (i, (id, split, image, label)) in cases.into_iter().enumerate() {
            assert_eq!(id, case_id(i));
            assert_eq!(split, split_of(i, 3));
            assert_eq!((image, label), make_phantom(&cfg, 4, i));
        }
    }
}
