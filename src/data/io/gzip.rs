//! gzip, as NIfTI (`.nii.gz`) and NRRD (`encoding: gzip`, `.raw.gz`) use it.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// True when the file name ends in `.gz`.
pub fn is_gz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Decompresses gzip data (all members); a corrupt or truncated stream is an error naming `path`.
pub fn gunzip(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| Error::invalid(path, format!("corrupt or truncated gzip data ({e})")))?;
    Ok(out)
}

/// `bytes` decompressed when they start with the gzip magic, else unchanged.
pub fn gunzip_if_needed(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        gunzip(path, &bytes)
    } else {
        Ok(bytes)
    }
}
