//! Format dispatch by file name: NIfTI (`.nii`, `.nii.gz`), NRRD (`.nrrd`, `.nhdr`), DICOM series (a folder).
//! SKELETON: filled in by the volume I/O work.

use std::path::Path;

use super::{Image, LabelMap};
use crate::error::{Error, Result};

pub fn read_image(path: &Path) -> Result<Image> {
    Err(Error::invalid(path, "reader not written yet"))
}

pub fn read_labels(path: &Path) -> Result<LabelMap> {
    Err(Error::invalid(path, "reader not written yet"))
}
