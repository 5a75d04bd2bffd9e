//! Finding DICOM image files in a folder tree and reading their headers (everything before Pixel Data).
//!
//! Files without the `DICM` magic at byte 128, files that fail to parse and non-image objects (no Rows,
//! e.g. DICOMDIR) are skipped: real exports mix slices with readme files, thumbnails and indexes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;

use super::{attrs, precheck};
use crate::error::{Error, Result};
use crate::util::fsio;

/// One series found under a folder.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesInfo {
    /// SeriesInstanceUID (empty when the files carry none).
    pub uid: String,
    /// SeriesDescription (empty when absent).
    pub description: String,
    /// Number of image files of this series.
    pub n_files: usize,
    /// The deepest folder containing all of the series' files.
    pub folder: PathBuf,
}

/// What the reader needs from one slice file, read without its pixel data.
#[derive(Clone, Debug)]
pub(super) struct SliceHeader {
    pub path: PathBuf,
    pub series_uid: String,
    pub description: String,
    pub rows: usize,
    pub cols: usize,
    /// ImageOrientationPatient: row direction cosines then column direction cosines (LPS).
    pub orientation: Option<[f64; 6]>,
    /// ImagePositionPatient: centre of the first transmitted voxel (LPS, mm).
    pub position: Option<[f64; 3]>,
    /// PixelSpacing: [between rows, between columns] = [dy, dx].
    pub pixel_spacing: Option<[f64; 2]>,
    pub instance: Option<i64>,
    pub slice_thickness: Option<f64>,
    pub spacing_between: Option<f64>,
}

/// Lists the series under `dir` (recursive), sorted by UID.
pub fn list_series(dir: &Path) -> Result<Vec<SeriesInfo>> {
    Ok(group(&scan(dir)?))
}

/// Groups slice headers by series UID.
pub(super) fn group(headers: &[SliceHeader]) -> Vec<SeriesInfo> {
    let mut by_uid: BTreeMap<&str, SeriesInfo> = BTreeMap::new();
    for h in headers {
        let parent = h.path.parent().unwrap_or(Path::new("")).to_path_buf();
        let info = by_uid.entry(&h.series_uid).or_insert_with(|| SeriesInfo {
            uid: h.series_uid.clone(),
            description: h.description.clone(),
            n_files: 0,
            folder: parent.clone(),
        });
        info.n_files += 1;
        info.folder = common_ancestor(&info.folder, &parent);
    }
    by_uid.into_values().collect()
}

/// Reads the header of every DICOM image file under `dir`; errors when there is none.
pub(super) fn scan(dir: &Path) -> Result<Vec<SliceHeader>> {
    if !dir.is_dir() {
        return Err(Error::invalid(
            dir,
            "not a folder (a DICOM series is read from a folder of slice files)",
        ));
    }
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    let mut headers = Vec::new();
    for path in files {
        if !has_dicm_magic(&path) {
            log::debug!("{}: not a DICOM file, skipped", path.display());
            continue;
        }
        match read_header(&path) {
            Ok(Some(h)) => headers.push(h),
            Ok(None) => log::debug!("{}: DICOM object without an image, skipped", path.display()),
            Err(e) => log::warn!("{e} (file skipped)"),
        }
    }
    if headers.is_empty() {
        return Err(Error::invalid(dir, "no DICOM files found"));
    }
    Ok(headers)
}

/// Every regular file under `dir` (what reading a series from it may read).
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    Ok(files)
}

/// Recursive walk in name order; hidden entries (temp files, .DS_Store) and anything that is not a
/// regular file (pipes, devices, sockets, dangling links) are ignored.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let ty = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if ty.is_dir() {
            walk(&path, out)?;
        } else if fsio::is_regular(&path) {
            out.push(path);
        } else {
            // A named pipe would block the first read forever, a device never end it.
            log::debug!("{}: not a regular file, skipped", path.display());
        }
    }
    Ok(())
}

fn has_dicm_magic(path: &Path) -> bool {
    let mut head = [0u8; 132];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head[128..] == b"DICM"
}

/// The header of one file; `None` for a DICOM object that is not an image.
fn read_header(path: &Path) -> Result<Option<SliceHeader>> {
    let obj = precheck::open_checked(path, Some(tags::PIXEL_DATA))?;
    let Some(rows) = attrs::int(&obj, tags::ROWS, "Rows", path)? else {
        return Ok(None);
    };
    let cols = attrs::required_int(&obj, tags::COLUMNS, "Columns", path)?;
    if rows <= 0 || cols <= 0 {
        return Err(Error::invalid(
            path,
            format!("image size {rows}x{cols} is empty"),
        ));
    }
    Ok(Some(SliceHeader {
        path: path.to_path_buf(),
        series_uid: attrs::text(&obj, tags::SERIES_INSTANCE_UID).unwrap_or_default(),
        description: attrs::text(&obj, tags::SERIES_DESCRIPTION).unwrap_or_default(),
        rows: rows as usize,
        cols: cols as usize,
        orientation: attrs::array(
            &obj,
            tags::IMAGE_ORIENTATION_PATIENT,
            "ImageOrientationPatient",
            path,
        )?,
        position: attrs::array(
            &obj,
            tags::IMAGE_POSITION_PATIENT,
            "ImagePositionPatient",
            path,
        )?,
        pixel_spacing: attrs::array(&obj, tags::PIXEL_SPACING, "PixelSpacing", path)?,
        instance: attrs::int(&obj, tags::INSTANCE_NUMBER, "InstanceNumber", path)?,
        slice_thickness: attrs::float(&obj, tags::SLICE_THICKNESS, "SliceThickness", path)?,
        spacing_between: attrs::float(
            &obj,
            tags::SPACING_BETWEEN_SLICES,
            "SpacingBetweenSlices",
            path,
        )?,
    }))
}

fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect()
}
