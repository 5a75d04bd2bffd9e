//! Format dispatch by file name: NIfTI (`.nii`, `.nii.gz`), NRRD (`.nrrd`, `.nhdr`), DICOM series (a
//! folder). Images are checked for NaN/inf (training would break on them) and label maps for integral
//! values in 0..=255, so every later stage can trust what it gets.

pub mod dicom;
mod gzip;
pub mod nifti;
pub mod npy;
pub mod nrrd;
pub mod voxel;

use std::path::{Path, PathBuf};

use self::nifti::{read_nifti, write_nifti};
use self::nrrd::{NrrdSpace, NrrdWriteOptions, read_nrrd, write_nrrd};
use self::voxel::Voxel;
use crate::data::{Image, LabelMap, Volume};
use crate::error::{Error, Result};
use crate::util::fsio;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Format {
    Nifti,
    Nrrd,
    Dicom,
}

/// The format of `path` from its name (or, for a folder, DICOM).
fn format_of(path: &Path) -> Result<Format> {
    if path.is_dir() {
        return Ok(Format::Dicom);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        Ok(Format::Nifti)
    } else if name.ends_with(".nrrd") || name.ends_with(".nhdr") {
        Ok(Format::Nrrd)
    } else {
        Err(Error::invalid(
            path,
            "unknown volume format (expected .nii, .nii.gz, .nrrd, .nhdr or a DICOM folder)",
        ))
    }
}

/// Reads an image volume (NIfTI, NRRD or a DICOM folder) as `f32`; NaN/inf voxels are an error.
pub fn read_image(path: &Path) -> Result<Image> {
    read_image_series(path, None)
}

/// [`read_image`], with the series to read from a DICOM folder that holds several (its
/// SeriesInstanceUID; the error without one lists them with their descriptions).
pub fn read_image_series(path: &Path, series: Option<&str>) -> Result<Image> {
    let image = match format_of(path)? {
        Format::Nifti => read_nifti(path)?,
        Format::Nrrd => read_nrrd(path)?,
        Format::Dicom => dicom::read_series(path, series)?,
    };
    let bad = count_non_finite(&image.data);
    if bad > 0 {
        return Err(Error::invalid(path, format!("{bad} NaN/inf voxels")));
    }
    Ok(image)
}

/// Reads a label map: any readable image whose voxels are all integers in 0..=255, as `u8` on the
/// same grid (NIfTI header kept).
pub fn read_labels(path: &Path) -> Result<LabelMap> {
    let image = read_image(path)?;
    let mut labels: LabelMap = image.same_grid();
    for (idx, (&v, out)) in image.data.iter().zip(labels.data.iter_mut()).enumerate() {
        if v.fract() != 0.0 || !(0.0..=255.0).contains(&v) {
            let (nx, ny) = (image.dims[0], image.dims[1]);
            let (i, j, k) = (idx % nx, idx / nx % ny, idx / (nx * ny));
            return Err(Error::invalid(
                path,
                format!("label value {v} at voxel ({i}, {j}, {k}) is not an integer in 0..=255"),
            ));
        }
        *out = v as u8;
    }
    Ok(labels)
}

/// Writes an image by extension: NIfTI (`.nii`, `.nii.gz`) or NRRD (gzip, LPS; `.nhdr` detached).
pub fn write_image(path: &Path, vol: &Image) -> Result<()> {
    write_volume(path, vol)
}

/// Writes a label map by extension, like [`write_image`], as `u8`.
pub fn write_labels(path: &Path, vol: &LabelMap) -> Result<()> {
    write_volume(path, vol)
}

fn write_volume<T: Voxel>(path: &Path, vol: &Volume<T>) -> Result<()> {
    match format_of(path)? {
        Format::Nifti => write_nifti(path, vol),
        Format::Nrrd => {
            let detached = is_detached(path);
            write_nrrd(
                path,
                vol,
                &NrrdWriteOptions {
                    gzip: true,
                    space: NrrdSpace::Lps,
                    detached,
                },
            )
        }
        Format::Dicom => Err(Error::invalid(
            path,
            "is a folder; volumes are written as NIfTI or NRRD files",
        )),
    }
}

/// Every file that reading `path` reads: the file itself, a detached NRRD's data file, every
/// regular file under a DICOM folder.
pub fn files_read(path: &Path) -> Result<Vec<PathBuf>> {
    Ok(match format_of(path)? {
        Format::Nifti => vec![path.to_path_buf()],
        Format::Nrrd => std::iter::once(path.to_path_buf())
            .chain(nrrd::detached_data_file(path)?)
            .collect(),
        Format::Dicom => dicom::files_under(path)?,
    })
}

/// Every file that writing `path` writes: the file (and a detached NRRD's data file beside an
/// `.nhdr`), and the temporary file each is written to first. An unknown ending is an error.
pub fn files_written(path: &Path) -> Result<Vec<PathBuf>> {
    let mut files = vec![path.to_path_buf()];
    match format_of_output(path)? {
        Format::Nrrd if is_detached(path) => files.push(nrrd::detached_data_path(path, true)),
        _ => {}
    }
    let temps: Vec<PathBuf> = files.iter().map(|f| fsio::temp_file_for(f)).collect();
    files.extend(temps);
    Ok(files)
}

/// Checks, before any work, that a volume can be written to `output`: a known ending, a folder
/// that exists or can be made and is writable, and no file the write touches is one of `inputs`
/// (so a prediction can never destroy the scan it reads; links and `..` are resolved).
pub fn check_output(output: &Path, inputs: &[PathBuf]) -> Result<()> {
    if output.is_dir() {
        return Err(Error::invalid(
            output,
            "is a folder; name an output file such as seg.nii.gz",
        ));
    }
    let written = files_written(output)?;
    fsio::refuse_overwrite(&written, inputs)?;
    fsio::check_writable_folder(output)
}

/// The output format of `path` by its name (a folder is not an output).
fn format_of_output(path: &Path) -> Result<Format> {
    match format_of(path) {
        Ok(Format::Dicom) | Err(_) => Err(Error::invalid(
            path,
            "unknown output format (write .nii, .nii.gz, .nrrd or .nhdr)",
        )),
        Ok(f) => Ok(f),
    }
}

fn is_detached(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("nhdr"))
}

/// Number of NaN or infinite values.
fn count_non_finite(data: &[f32]) -> usize {
    data.iter().filter(|v| !v.is_finite()).count()
}

/// A temporary folder for the readers' and writers' tests (removed on drop), with the two
/// questions they ask of it.
#[cfg(test)]
pub(super) mod testdir {
    use std::path::PathBuf;

    pub struct TestDir(pub tempfile::TempDir);

    impl TestDir {
        pub fn new(tag: &str) -> Self {
            TestDir(
                tempfile::Builder::new()
                    .prefix(&format!("unet3d-{tag}-"))
                    .tempdir()
                    .unwrap(),
            )
        }

        pub fn path(&self, name: &str) -> PathBuf {
            self.0.path().join(name)
        }

        /// Sorted names of the files in the folder.
        pub fn files(&self) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(self.0.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testdir::TestDir;
    use super::*;
    use crate::data::Affine;

    fn volume<T: Copy + Default>(dims: [usize; 3], f: impl Fn(usize) -> T) -> Volume<T> {
        let affine = Affine::from_lps(
            [[0.0, 0.8, 0.1], [0.8, 0.0, 0.0], [0.0, -0.1, 3.0]],
            [40.0, -12.5, 7.25],
        );
        let mut v = Volume::zeros(dims, affine.spacing(), affine);
        v.data = (0..v.len()).map(f).collect();
        v
    }

    #[test]
    fn every_format_round_trips_by_name() {
        let dir = TestDir::new("io-dispatch");
        let image = volume([5, 4, 3], |i| i as f32 * 0.25 - 3.0);
        let labels = volume([5, 4, 3], |i| (i % 3) as u8);
        for name in ["a.nii", "a.nii.gz", "a.nrrd", "a.nhdr"] {
            let path = dir.path(name);
            write_image(&path, &image).unwrap();
            let back = read_image(&path).unwrap();
            assert_eq!(back.data, image.data, "{name}");
            assert_eq!(back.dims, image.dims);
            assert!(back.affine.max_abs_diff(&image.affine) < 1e-5, "{name}");
            let lpath = dir.path(&format!("l{name}"));
            write_labels(&lpath, &labels).unwrap();
            let lback = read_labels(&lpath).unwrap();
            assert_eq!(lback.data, labels.data, "{name}");
            assert!(lback.affine.max_abs_diff(&labels.affine) < 1e-5, "{name}");
        }
        assert!(
            dir.files().contains(&"a.raw.gz".to_string()),
            "detached data next to a.nhdr"
        );
    }

    #[test]
    fn unknown_names_and_folders_are_errors() {
        let dir = TestDir::new("io-unknown");
        let err = read_image(&dir.path("scan.mha")).unwrap_err().to_string();
        assert!(
            err.contains("scan.mha") && err.contains("unknown volume format"),
            "{err}"
        );
        let image = volume([2, 2, 2], |_| 1.0f32);
        let err = write_image(&dir.path("out.txt"), &image)
            .unwrap_err()
            .to_string();
        assert!(err.contains("out.txt"), "{err}");
        assert!(write_image(dir.0.path(), &image).is_err());
        assert!(read_image(dir.0.path()).is_err());
        assert!(dir.files().is_empty(), "no output after failed writes");
    }

    #[test]
    fn non_finite_voxels_are_rejected() {
        let dir = TestDir::new("io-nan");
        let mut image = volume([3, 3, 2], |i| i as f32);
        image.data[4] = f32::NAN;
        image.data[7] = f32::INFINITY;
        for name in ["nan.nii.gz", "nan.nrrd"] {
            let path = dir.path(name);
            write_image(&path, &image).unwrap();
            for err in [
                read_image(&path).unwrap_err(),
                read_labels(&path).unwrap_err(),
            ] {
                let err = err.to_string();
                assert!(
                    err.contains(name) && err.contains("2 NaN/inf voxels"),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn labels_must_be_integers_in_byte_range() {
        let dir = TestDir::new("io-labels");
        for (bad, shown) in [(1.5f32, "1.5"), (300.0, "300"), (-1.0, "-1")] {
            let mut image = volume([3, 2, 2], |i| (i % 3) as f32);
            image.data[5] = bad;
            let path = dir.path("labels.nii");
            write_image(&path, &image).unwrap();
            let err = read_labels(&path).unwrap_err().to_string();
            assert!(
                err.contains("labels.nii") && err.contains(shown) && err.contains("(2, 1, 0)"),
                "{err}"
            );
        }
        let image = volume([3, 2, 2], |i| (i % 3) as f32);
        let path = dir.path("good.nii.gz");
        write_image(&path, &image).unwrap();
        let labels = read_labels(&path).unwrap();
        assert_eq!(
            labels.data,
            (0..12).map(|i| (i % 3) as u8).collect::<Vec<_>>()
        );
        assert!(
            labels.nifti_header.is_some(),
            "header kept for writing results"
        );
    }
}
