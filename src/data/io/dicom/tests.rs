//! Round trips through real files: write a series, read it back, and the quirks of real exports.

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;

use super::pixels::{PixelFormat, check_transfer_syntax, decode_native};
use super::read::read_series_reporting;
use super::write::ds;
use super::*;
use crate::data::{Affine, Image, Volume};

/// A small oblique image (rotated about two axes) with non-integer values.
fn oblique_image(dims: [usize; 3]) -> Image {
    let (a, b) = (0.3f64, 0.2f64);
    let row = [a.cos(), a.sin(), 0.0];
    let col = [-a.sin() * b.cos(), a.cos() * b.cos(), b.sin()];
    let n = [
        row[1] * col[2] - row[2] * col[1],
        row[2] * col[0] - row[0] * col[2],
        row[0] * col[1] - row[1] * col[0],
    ];
    let sp = [0.7, 0.55, 3.0];
    let cols = [
        row.map(|v| v * sp[0]),
        col.map(|v| v * sp[1]),
        n.map(|v| v * sp[2]),
    ];
    let affine = Affine::from_lps(cols, [12.5, -30.25, 41.0]);
    let mut img: Image = Volume::zeros(dims, sp, affine);
    for (idx, v) in img.data.iter_mut().enumerate() {
        *v = (idx as f32 * 0.37).sin() * 800.0 + 300.0 + idx as f32 * 0.01;
    }
    img
}

fn meta(uid: &str, desc: &str, seed: Option<u64>) -> SeriesMeta {
    SeriesMeta {
        patient_id: "Prostate3T-01-0001".into(),
        series_uid: uid.into(),
        study_uid: "1.2.826.0.1.3680043.2.1125.1".into(),
        description: desc.into(),
        shuffle_seed: seed,
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn instance(path: &Path) -> i64 {
    let obj = dicom_object::open_file(path).unwrap();
    obj.element(tags::INSTANCE_NUMBER)
        .unwrap()
        .to_str()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn step(img: &Image) -> f32 {
    let (lo, hi) = img
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    (hi - lo) / 65535.0
}

fn assert_close(a: &Image, b: &Image, tol: f32) {
    assert_eq!(a.dims, b.dims);
    let worst = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(worst <= tol, "max voxel difference {worst} > {tol}");
}

#[test]
fn oblique_series_with_shuffled_names_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("series");
    let img = oblique_image([5, 4, 6]);
    write_series(&dir, &img, &meta("1.2.3.4.5", "T2 AX", Some(7))).unwrap();
    let order: Vec<i64> = files(&dir).iter().map(|p| instance(p)).collect();
    assert_ne!(
        order,
        (1..=6).collect::<Vec<_>>(),
        "names must not be in slice order"
    );

    let back = read_series(&dir, None).unwrap();
    assert!(
        back.affine.max_abs_diff(&img.affine) < 1e-4,
        "{:?} vs {:?}",
        back.affine,
        img.affine
    );
    for c in 0..3 {
        assert!((back.spacing[c] - img.spacing[c]).abs() < 1e-6);
    }
    assert_close(&back, &img, step(&img) * 0.5 + 1e-3);
    assert!(
        !tmp.path().read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.'))
    );
}

#[test]
fn integer_data_round_trips_exactly_and_existing_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let mut img = oblique_image([3, 3, 2]);
    for (i, v) in img.data.iter_mut().enumerate() {
        *v = i as f32 * 100.0 - 700.0;
    }
    write_series(&dir, &img, &meta("1.2.3", "x", None)).unwrap();
    assert_eq!(read_series(&dir, None).unwrap().data, img.data);
    let err = write_series(&dir, &img, &meta("1.2.3", "x", None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("refusing to overwrite"), "{err}");
}

#[test]
fn missing_positions_fall_back_to_instance_number() {
    let tmp = tempfile::tempdir().unwrap();
    let img = oblique_image([4, 3, 5]);
    write_series(&tmp.path(), &img, &meta("1.2.3.9", "T2", Some(3))).unwrap();
    for path in files(&tmp.path()) {
        let mut obj = dicom_object::open_file(&path).unwrap();
        assert!(obj.remove_element(tags::IMAGE_POSITION_PATIENT));
        obj.write_to_file(&path).unwrap();
    }
    let (back, warnings) = read_series_reporting(&tmp.path(), None).unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("InstanceNumber")),
        "{warnings:?}"
    );
    assert_close(&back, &img, step(&img) * 0.5 + 1e-3);
    for c in 0..3 {
        let (a, b) = (back.affine.column(c), img.affine.column(c));
        assert!(
            (0..3).all(|r| (a[r] - b[r]).abs() < 1e-4),
            "axis {c}: {a:?} vs {b:?}"
        );
    }
}

#[test]
fn two_series_need_a_uid_and_the_named_one_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let a = oblique_image([4, 3, 3]);
    let b = oblique_image([3, 2, 4]);
    write_series(
        &tmp.path().join("study/a"),
        &a,
        &meta("1.2.3.1", "T2 AX", Some(1)),
    )
    .unwrap();
    write_series(
        &tmp.path().join("study/b"),
        &b,
        &meta("1.2.3.2", "ADC", Some(2)),
    )
    .unwrap();
    let err = read_series(&tmp.path(), None).unwrap_err().to_string();
    for needle in ["1.2.3.1", "T2 AX", "3 files", "1.2.3.2", "ADC", "4 files"] {
        assert!(err.contains(needle), "'{needle}' missing in: {err}");
    }
    let got = read_series(&tmp.path(), Some("1.2.3.2")).unwrap();
    assert_eq!(got.dims, [3, 2, 4]);
    let listed = list_series(&tmp.path()).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (listed[1].n_files, listed[1].folder.clone()),
        (4, tmp.path().join("study/b"))
    );
    assert!(
        read_series(&tmp.path(), Some("9.9"))
            .unwrap_err()
            .to_string()
            .contains("no series with UID 9.9")
    );
}

#[test]
fn a_missing_slice_reads_with_a_gap_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let img = oblique_image([3, 3, 6]);
    write_series(&tmp.path(), &img, &meta("1.2.5", "T2", Some(11))).unwrap();
    let victim = files(&tmp.path())
        .into_iter()
        .find(|p| instance(p) == 3)
        .unwrap();
    std::fs::remove_file(&victim).unwrap();
    let (back, warnings) = read_series_reporting(&tmp.path(), None).unwrap();
    assert_eq!(back.dims, [3, 3, 5]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("gap of 6.000 mm") && warnings[0].contains("1 missing slice"),
        "{}",
        warnings[0]
    );
    assert!((back.spacing[2] - 3.0).abs() < 1e-6);
}

#[test]
fn empty_folder_and_non_dicom_files() {
    let tmp = tempfile::tempdir().unwrap();
    let err = read_series(&tmp.path(), None).unwrap_err().to_string();
    assert!(err.contains("no DICOM files found"), "{err}");
    std::fs::write(tmp.path().join("README.txt"), "not an image").unwrap();
    assert!(list_series(&tmp.path()).is_err());

    let dir = tmp.path().join("s");
    let img = oblique_image([3, 2, 3]);
    write_series(&dir, &img, &meta("1.2.6", "T2", Some(5))).unwrap();
    std::fs::write(dir.join("notes.txt"), "scanner notes").unwrap();
    std::fs::write(dir.join("zeros.dcm"), [0u8; 300]).unwrap();
    let mut fake = vec![0u8; 128];
    fake.extend_from_slice(b"DICMgarbage");
    std::fs::write(dir.join("broken.dcm"), fake).unwrap();
    let back = read_series(&tmp.path(), None).unwrap();
    assert_close(&back, &img, step(&img) * 0.5 + 1e-3);
}

#[test]
fn slices_of_different_size_are_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    write_series(
        &tmp.path().join("a"),
        &oblique_image([3, 3, 2]),
        &meta("1.2.7", "T2", None),
    )
    .unwrap();
    write_series(
        &tmp.path().join("b"),
        &oblique_image([4, 3, 1]),
        &meta("1.2.7", "T2", None),
    )
    .unwrap();
    let err = read_series(&tmp.path(), None).unwrap_err().to_string();
    assert!(
        err.contains("rows x columns") && err.contains(".dcm"),
        "{err}"
    );
}

#[test]
fn undecodable_transfer_syntax_is_refused_by_name() {
    let err = check_transfer_syntax(Path::new("x/IM1.dcm"), "1.2.840.10008.1.2.4.80")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x/IM1.dcm")
            && err.contains("1.2.840.10008.1.2.4.80")
            && err.contains("JPEG-LS")
            && err.contains("gdcmconv --raw"),
        "{err}"
    );
    assert!(check_transfer_syntax(Path::new("a"), "1.2.840.10008.1.2").is_ok());
    for decodable in [
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.1.99",
    ] {
        assert!(check_transfer_syntax(Path::new("a"), decodable).is_ok());
    }
}

#[test]
fn a_compressed_slice_in_a_series_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    write_series(
        &tmp.path(),
        &oblique_image([3, 2, 2]),
        &meta("1.2.8", "T2", None),
    )
    .unwrap();
    let victim = files(&tmp.path())[1].clone();
    let mut obj = dicom_object::open_file(&victim).unwrap();
    obj.update_meta(|m| m.transfer_syntax = "1.2.840.10008.1.2.4.80".into());
    obj.write_to_file(&victim).unwrap();
    let err = read_series(&tmp.path(), None).unwrap_err().to_string();
    assert!(
        err.contains(&victim.display().to_string()) && err.contains("1.2.840.10008.1.2.4.80"),
        "{err}"
    );
}

#[test]
fn native_pixel_formats_decode() {
    let f = |bits_allocated, bits_stored, signed| PixelFormat {
        bits_allocated,
        bits_stored,
        high_bit: bits_stored - 1,
        signed,
    };
    assert_eq!(
        decode_native(&[0, 255, 7], 3, f(8, 8, false)).unwrap(),
        vec![0.0, 255.0, 7.0]
    );
    assert_eq!(
        decode_native(&[0xff, 0xff, 0x00, 0x80], 2, f(16, 16, true)).unwrap(),
        vec![-1.0, -32768.0]
    );
    assert_eq!(
        decode_native(&[0xff, 0xff, 0x00, 0x80], 2, f(16, 16, false)).unwrap(),
        vec![65535.0, 32768.0]
    );
    // 12 bits stored in 16, signed: 0x0fff is -1, high garbage bits masked off.
    assert_eq!(
        decode_native(&[0xff, 0xff, 0x01, 0x00], 2, f(16, 12, true)).unwrap(),
        vec![-1.0, 1.0]
    );
    assert_eq!(
        decode_native(&[1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff], 2, f(32, 32, true)).unwrap(),
        vec![1.0, -2.0]
    );
    assert_eq!(
        decode_native(&[0, 0, 0, 0x80], 1, f(32, 32, false)).unwrap(),
        vec![2147483648.0]
    );
    assert!(
        decode_native(&[0, 0], 2, f(16, 16, false))
            .unwrap_err()
            .contains("bytes")
    );
    assert!(decode_native(&[0], 1, f(12, 12, false)).is_err());
}

#[test]
fn decimal_strings_fit_sixteen_characters() {
    for x in [
        0.0,
        -0.0,
        1.0,
        0.984807753012208,
        -123.456789012345,
        1e-9,
        65535.0 / 3.0,
        1e20,
    ] {
        let s = ds(x);
        assert!(s.len() <= 16, "{s}");
        let back: f64 = s.parse().unwrap();
        assert!((back - x).abs() <= 1e-9 * x.abs().max(1.0), "{x} → {s}");
    }
}
