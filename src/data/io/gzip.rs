//! gzip, as NIfTI (`.nii.gz`) and NRRD (`encoding: gzip`, `.raw.gz`) use it: never inflated beyond
//! the bytes the caller expects, so a small file cannot expand into all of memory.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// True when the file name ends in `.gz`.
pub fn is_gz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Decompresses at most `max` bytes of gzip data (all members); a corrupt stream is an error
/// naming `path` (a short one is the caller's to judge by the length).
pub fn gunzip_at_most(path: &Path, bytes: &[u8], max: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(max)
        .read_to_end(&mut out)
        .map_err(|e| Error::invalid(path, format!("corrupt or truncated gzip data ({e})")))?;
    Ok(out)
}
