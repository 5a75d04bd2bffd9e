//! Compressed series written by a real encoder: GDCM's `gdcmconv` (Debian's libgdcm-tools; IJG
//! JPEG, OpenJPEG, GDCM's RLE, CharLS, zlib) transcodes a series written here, and the reader must
//! give back the same voxels (lossless) or close ones (lossy), or refuse by name what it cannot
//! decode. Without `gdcmconv` these tests skip, unless `UNET3D_REQUIRE_CODEC_TOOLS` is set (CI),
//! where a missing tool is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;

use super::*;
use crate::data::{Affine, Image, Volume};

fn gdcmconv_available() -> bool {
    let found = Command::new("gdcmconv").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("UNET3D_REQUIRE_CODEC_TOOLS").is_none(),
            "gdcmconv is required (UNET3D_REQUIRE_CODEC_TOOLS is set): apt-get install libgdcm-tools"
        );
        eprintln!("skipping: gdcmconv not found (apt-get install libgdcm-tools)");
    }
    found
}

/// A 3-slice 24×20 series with integer values over 12 bits, and its folder.
fn series(root: &Path) -> (Image, PathBuf) {
    let affine = Affine::from_lps(
        [[0.6, 0.0, 0.0], [0.0, 0.6, 0.0], [0.0, 0.0, 3.0]],
        [-10.0, -20.0, 30.0],
    );
    let mut img: Image = Volume::zeros([24, 20, 3], [0.6, 0.6, 3.0], affine);
    for (i, v) in img.data.iter_mut().enumerate() {
        *v = ((i * 37) % 3001) as f32 + if i % 7 == 0 { 900.0 } else { 0.0 };
    }
    let dir = root.join("native");
    let meta = SeriesMeta {
        patient_id: "Prostate3T-01-0001".into(),
        series_uid: "1.2.826.0.1.3680043.2.1125.77".into(),
        study_uid: "1.2.826.0.1.3680043.2.1125.7".into(),
        description: "T2".into(),
        shuffle_seed: None,
    };
    write_series(&dir, &img, &meta).unwrap();
    (img, dir)
}

/// Every file of `from` passed through `gdcmconv flags`, into `to`.
fn transcode(from: &Path, to: &Path, flags: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let out = to.join(path.file_name().unwrap());
        let status = Command::new("gdcmconv")
            .args(flags)
            .arg(&path)
            .arg(&out)
            .output()
            .unwrap();
        assert!(status.status.success(), "gdcmconv {flags:?}: {status:?}");
    }
}

fn transfer_syntax(dir: &Path) -> String {
    let first = std::fs::read_dir(dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let obj = dicom_object::open_file(first).unwrap();
    obj.meta()
        .transfer_syntax()
        .trim_end_matches(['\0', ' '])
        .to_string()
}

#[test]
fn lossless_codecs_give_back_the_same_voxels() {
    if !gdcmconv_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (img, native) = series(tmp.path());
    for (flags, uid) in [
        (&["--jpeg"][..], "1.2.840.10008.1.2.4.70"),
        (&["--j2k"][..], "1.2.840.10008.1.2.4.90"),
        (&["--rle"][..], "1.2.840.10008.1.2.5"),
        (&["--deflated"][..], "1.2.840.10008.1.2.1.99"),
    ] {
        let dir = tmp.path().join(uid);
        transcode(&native, &dir, flags);
        assert_eq!(transfer_syntax(&dir), uid, "gdcmconv {flags:?}");
        let back = read_series(&dir, None).unwrap_or_else(|e| panic!("{uid}: {e}"));
        assert_eq!(back.dims, img.dims, "{uid}");
        assert_eq!(back.data, img.data, "{uid}: voxels differ");
        assert!(back.affine.max_abs_diff(&img.affine) < 1e-4, "{uid}");
    }
}

#[test]
fn jpeg_baseline_reads_close_and_what_cannot_be_decoded_is_refused_by_name() {
    if !gdcmconv_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (_, native) = series(tmp.path());
    // 8-bit data, so GDCM's lossy JPEG is baseline (process 1).
    let eight = tmp.path().join("eight");
    std::fs::create_dir_all(&eight).unwrap();
    let mut expected = Vec::new();
    for entry in std::fs::read_dir(&native).unwrap() {
        let path = entry.unwrap().path();
        let mut obj = dicom_object::open_file(&path).unwrap();
        let n = 24 * 20;
        let k: usize = obj
            .element(tags::INSTANCE_NUMBER)
            .unwrap()
            .to_str()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let pixels: Vec<u8> = (0..n)
            .map(|i| (64 + (i * 3 + k * 40) % 128) as u8)
            .collect();
        expected.push((k, pixels.clone()));
        for (tag, v) in [
            (tags::BITS_ALLOCATED, 8u16),
            (tags::BITS_STORED, 8),
            (tags::HIGH_BIT, 7),
            (tags::PIXEL_REPRESENTATION, 0),
        ] {
            obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(v)));
        }
        for tag in [tags::RESCALE_SLOPE, tags::RESCALE_INTERCEPT] {
            obj.remove_element(tag);
        }
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::U8(pixels.into()),
        ));
        obj.write_to_file(eight.join(path.file_name().unwrap()))
            .unwrap();
    }
    let baseline = tmp.path().join("baseline");
    transcode(&eight, &baseline, &["--jpeg", "--lossy", "-q", "95"]);
    assert_eq!(transfer_syntax(&baseline), "1.2.840.10008.1.2.4.50");
    let back = read_series(&baseline, None).unwrap();
    expected.sort();
    let want: Vec<f32> = expected
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&v| v as f32))
        .collect();
    let worst = back
        .data
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst <= 12.0, "lossy JPEG off by up to {worst}");

    // JPEG-LS (CharLS) and 12-bit lossy JPEG: refused by name, never a panic or wrong voxels.
    for (flags, uid, name) in [
        (&["--jpegls"][..], "1.2.840.10008.1.2.4.80", "JPEG-LS"),
        (
            &["--jpeg", "--lossy"][..],
            "1.2.840.10008.1.2.4.51",
            "JPEG Extended",
        ),
    ] {
        let dir = tmp.path().join(uid);
        transcode(&native, &dir, flags);
        assert_eq!(transfer_syntax(&dir), uid);
        let err = read_series(&dir, None).unwrap_err().to_string();
        assert!(err.contains(uid) || err.contains(name), "{uid}: {err}");
        assert!(err.contains(".dcm"), "names the file: {err}");
    }
}
