//! Strange and hostile inputs, as a new user would meet them through `unet3d predict` and
//! `unet3d train` (the checked-in `tests/data/run-v1` is the model): every one is a clear one-line
//! error or a correct result, never lost data, an abort, a panic, a hang or a silent wrong answer.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use unet3d::data::io::dicom::{SeriesMeta, write_series};
use unet3d::data::io::{read_image, read_labels, write_image};
use unet3d::data::{Affine, Image, Volume};

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-v1")
}

/// Runs `unet3d args…`, killing it (and failing) after `limit`: a hang is a bug here.
fn unet3d(args: &[&str], paths: &[&Path], limit: Duration) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_unet3d"));
    cmd.args(args)
        .args(paths)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("unet3d starts");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("unet3d {args:?} {paths:?} hung for {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// `unet3d predict --model run-v1 --input IN --output OUT` (flex, at most two minutes).
fn predict(input: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["predict", "--device", "flex"];
    args.extend_from_slice(extra);
    let mut cmd_args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    for (flag, p) in [
        ("--model", model()),
        ("--input", input.into()),
        ("--output", output.into()),
    ] {
        cmd_args.push(flag.into());
        cmd_args.push(p.display().to_string());
    }
    let refs: Vec<&str> = cmd_args.iter().map(String::as_str).collect();
    unet3d(&refs, &[], Duration::from_secs(120))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A clean failure: exit status 1 (not an abort's 134 or a panic's 101), one `error:` line that
/// contains every `needle`.
fn assert_refused(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a clean error, got {:?}: {err}",
        out.status
    );
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in: {err}");
    }
}

/// A 12×10×6 head-like test volume at `spacing` mm.
fn volume(spacing: [f64; 3]) -> Image {
    let mut img: Image = Volume::zeros(
        [12, 10, 6],
        spacing,
        Affine::from_spacing_origin(spacing, [0.0; 3]),
    );
    for (i, v) in img.data.iter_mut().enumerate() {
        *v = ((i * 7) % 50) as f32 + 100.0;
    }
    img
}

/// Writes `img` as a `.nii` and patches its header: `(offset, bytes)` pairs.
fn nifti(path: &Path, img: &Image, patches: &[(usize, Vec<u8>)]) {
    write_image(path, img).unwrap();
    let mut b = std::fs::read(path).unwrap();
    for (at, bytes) in patches {
        b[*at..*at + bytes.len()].copy_from_slice(bytes);
    }
    std::fs::write(path, b).unwrap();
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn predict_never_writes_over_a_file_its_input_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A detached NRRD whose data file is the name the output's data file would get.
    std::fs::write(
        dir.join("seg.raw.gz"),
        std::fs::read(write_nrrd_pair(dir)).unwrap(),
    )
    .unwrap();
    let header = dir.join("img.nhdr");
    let text = std::fs::read_to_string(&header)
        .unwrap()
        .replace("data file: img.raw.gz", "data file: seg.raw.gz");
    std::fs::write(&header, text).unwrap();
    std::fs::remove_file(dir.join("img.raw.gz")).unwrap();
    let before = std::fs::read(dir.join("seg.raw.gz")).unwrap();
    let out = predict(&header, &dir.join("seg.nhdr"), &[]);
    assert_refused(&out, &["seg.raw.gz", "would write over"]);
    // Through `..` and a symbolic link too.
    std::fs::create_dir(dir.join("sub")).unwrap();
    let out = predict(&header, &dir.join("sub/../seg.nhdr"), &[]);
    assert_refused(&out, &["would write over"]);
    std::os::unix::fs::symlink(dir.join("seg.raw.gz"), dir.join("link.nii")).unwrap();
    let out = predict(&header, &dir.join("link.nii"), &[]);
    assert_refused(&out, &["would write over"]);
    assert_eq!(std::fs::read(dir.join("seg.raw.gz")).unwrap(), before);
    assert!(!dir.join("seg.nhdr").exists());
    // A DICOM slice is an input file as well.
    let series = dir.join("dicom");
    write_series(&series, &volume([0.5, 0.5, 3.0]), &meta("1.2.3.4")).unwrap();
    let slice = std::fs::read_dir(&series)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let slice_nii = slice.with_extension("nii");
    std::fs::rename(&slice, &slice_nii).unwrap();
    let bytes = std::fs::read(&slice_nii).unwrap();
    let out = predict(&series, &slice_nii, &[]);
    assert_refused(&out, &["would write over"]);
    assert_eq!(std::fs::read(&slice_nii).unwrap(), bytes);
}

/// `img.nhdr` + `img.raw.gz` (detached, gzip); returns the data file.
fn write_nrrd_pair(dir: &Path) -> PathBuf {
    write_image(&dir.join("img.nhdr"), &volume([0.5, 0.5, 3.0])).unwrap();
    dir.join("img.raw.gz")
}

fn meta(uid: &str) -> SeriesMeta {
    SeriesMeta {
        patient_id: "P1".into(),
        series_uid: uid.into(),
        study_uid: "1.2.3".into(),
        description: format!("series {uid}"),
        shuffle_seed: None,
    }
}

#[test]
fn absurd_geometry_is_a_clear_error_not_an_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // pixdim 500 mm, no sform or qform: resampling to 2 mm would make a 3000 x 2500 x 1000 grid.
    let p = dir.join("pixdim.nii");
    let mut pix = [1.0f32, 500.0, 500.0, 500.0, 0.0, 0.0, 0.0, 0.0];
    pix[0] = 1.0;
    nifti(
        &p,
        &volume([1.0; 3]),
        &[(76, f32s(&pix)), (252, vec![0, 0]), (254, vec![0, 0])],
    );
    assert_refused(
        &predict(&p, &dir.join("a.nii.gz"), &[]),
        &["pixdim.nii", "limit", "voxels"],
    );
    // An sform scaled by 1e30.
    let p = dir.join("sform.nii");
    nifti(
        &p,
        &volume([1.0; 3]),
        &[
            (252, vec![0, 0]),
            (280, f32s(&[1e30, 0.0, 0.0, 0.0])),
            (296, f32s(&[0.0, 1e30, 0.0, 0.0])),
            (312, f32s(&[0.0, 0.0, 1e30, 0.0])),
        ],
    );
    assert_refused(
        &predict(&p, &dir.join("b.nii.gz"), &[]),
        &["sform.nii", "limit"],
    );
    // NRRD space directions of 1e30.
    let p = dir.join("far.nrrd");
    write_image(&p, &volume([1.0; 3])).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    let head = String::from_utf8(bytes[..split].to_vec()).unwrap();
    let dirs_line = head
        .lines()
        .find(|l| l.starts_with("space directions"))
        .unwrap();
    let head = head.replace(
        dirs_line,
        "space directions: (1e30,0,0) (0,1e30,0) (0,0,1e30)",
    );
    std::fs::write(&p, [head.as_bytes(), &bytes[split..]].concat()).unwrap();
    assert_refused(
        &predict(&p, &dir.join("c.nii.gz"), &[]),
        &["far.nrrd", "limit"],
    );
    // A NIfTI in micrometres: 500 µm pixdim is 0.5 mm, read as such (not 500 mm).
    let p = dir.join("micron.nii");
    nifti(
        &p,
        &volume([1.0; 3]),
        &[
            (252, vec![0, 0]),
            (254, vec![0, 0]),
            (76, f32s(&[1.0, 500.0, 500.0, 3000.0])),
            (123, vec![3]),
        ],
    );
    let img = read_image(&p).unwrap();
    assert!((img.spacing[0] - 0.5).abs() < 1e-6 && (img.spacing[2] - 3.0).abs() < 1e-6);
    let out = predict(&p, &dir.join("micron_seg.nii.gz"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read_labels(&dir.join("micron_seg.nii.gz")).unwrap().dims,
        img.dims
    );
}

#[test]
fn dicom_rows_and_columns_beyond_the_pixel_data_are_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    // 65535² slices are over the voxel limit as a grid; 4000² ones are under it, but each slice's
    // 12 × 10 pixels do not fill them: both are refused before anything of that size exists.
    for (size, needles) in [
        (65535u16, &["limit", "65535 x 65535"][..]),
        (4000, &[".dcm", "Pixel Data has 240 bytes"][..]),
    ] {
        let series = tmp.path().join(format!("s{size}"));
        write_series(&series, &volume([0.5, 0.5, 3.0]), &meta("1.2.3.5")).unwrap();
        for entry in std::fs::read_dir(&series).unwrap() {
            let path = entry.unwrap().path();
            let mut obj = dicom_object::open_file(&path).unwrap();
            for tag in [
                dicom_dictionary_std::tags::ROWS,
                dicom_dictionary_std::tags::COLUMNS,
            ] {
                obj.put(dicom_core::DataElement::new(
                    tag,
                    dicom_core::VR::US,
                    dicom_core::PrimitiveValue::from(size),
                ));
            }
            obj.write_to_file(&path).unwrap();
        }
        let out = predict(&series, &tmp.path().join("seg.nii.gz"), &[]);
        assert_refused(&out, needles);
    }
}

#[test]
fn singular_geometry_is_an_error_or_a_documented_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for zero in ["(0,0,0) (0,0.5,0) (0,0,3)", "(0,0,0) (0,0,0) (0,0,0)"] {
        let p = dir.join("zero.nrrd");
        write_image(&p, &volume([0.5, 0.5, 3.0])).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
        let head = String::from_utf8(bytes[..split].to_vec()).unwrap();
        let line = head
            .lines()
            .find(|l| l.starts_with("space directions"))
            .unwrap();
        let head = head.replace(line, &format!("space directions: {zero}"));
        std::fs::write(&p, [head.as_bytes(), &bytes[split..]].concat()).unwrap();
        let out = predict(&p, &dir.join("z.nii.gz"), &[]);
        assert_refused(&out, &["zero.nrrd", "space directions"]);
    }
    // NIfTI: a zero sform falls back to the qform, with a warning.
    let p = dir.join("zero_sform.nii");
    nifti(&p, &volume([0.5, 0.5, 3.0]), &[(280, vec![0; 48])]);
    let img = read_image(&p).unwrap();
    assert!((img.spacing[2] - 3.0).abs() < 1e-6, "{:?}", img.spacing);
    let out = predict(&p, &dir.join("q.nii.gz"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("using the qform"), "{}", stderr(&out));
}

#[test]
fn pipes_and_devices_never_hang_a_read() {
    let tmp = tempfile::tempdir().unwrap();
    let series = tmp.path().join("s");
    write_series(&series, &volume([0.5, 0.5, 3.0]), &meta("1.2.3.6")).unwrap();
    let fifo = series.join("pipe.dcm");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = predict(&series, &tmp.path().join("seg.nii.gz"), &[]);
    assert!(
        out.status.success(),
        "a FIFO among the slices: {}",
        stderr(&out)
    );
    // A detached NRRD whose data file is /dev/zero.
    let header = tmp.path().join("zero.nhdr");
    std::fs::write(
        &header,
        "NRRD0004\ntype: float\ndimension: 3\nsizes: 4 4 4\nencoding: raw\ndata file: /dev/zero\n\n",
    )
    .unwrap();
    let out = predict(&header, &tmp.path().join("z.nii.gz"), &[]);
    assert_refused(&out, &["/dev/zero", "not a regular file"]);
}

#[test]
fn bad_outputs_are_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("img.nii.gz");
    write_image(&input, &volume([0.5, 0.5, 3.0])).unwrap();
    let started = Instant::now();
    let out = predict(&input, &tmp.path().join("seg.mha"), &[]);
    assert_refused(&out, &["seg.mha", "unknown output format"]);
    std::fs::write(tmp.path().join("file"), b"x").unwrap();
    let out = predict(&input, &tmp.path().join("file/seg.nii.gz"), &[]);
    assert_refused(&out, &["not a folder"]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("backend:"),
        "refused before the model and device were loaded"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn two_series_in_one_folder_are_told_apart_by_uid() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("two");
    write_series(&root.join("a"), &volume([0.5, 0.5, 3.0]), &meta("1.2.3.7")).unwrap();
    write_series(&root.join("b"), &volume([0.6, 0.6, 3.0]), &meta("1.2.3.8")).unwrap();
    let out = predict(&root, &tmp.path().join("seg.nii.gz"), &[]);
    assert_refused(&out, &["1.2.3.7", "1.2.3.8", "series 1.2.3.8"]);
    let out = predict(
        &root,
        &tmp.path().join("seg.nii.gz"),
        &["--series", "1.2.3.8"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let seg = read_labels(&tmp.path().join("seg.nii.gz")).unwrap();
    assert!(
        (seg.spacing[0] - 0.6).abs() < 1e-6,
        "the named series was read"
    );
}
