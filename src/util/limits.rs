//! Upper bounds on what an input may make us allocate: every size read from a header (a volume's
//! dims, a DICOM slice's rows and columns) and every grid computed from one (resampling to a target
//! spacing) is checked against them before memory is reserved, so a corrupt or hostile file is a
//! one-line error instead of an abort.
//!
//! The bound is a voxel count (default 2^29, about 537 million voxels: 2 GiB as f32, a
//! 512 × 512 × 2048 volume; inference keeps a few such buffers per class); a stored voxel takes
//! at most 8 bytes, so files are read up to 8 bytes a voxel plus headers. Raise it with the `UNET3D_MAX_VOXELS` environment variable or the
//! `--max-voxels` option.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// The default voxel limit.
pub const DEFAULT_MAX_VOXELS: u64 = 1 << 29;
/// The environment variable that sets the limit.
pub const MAX_VOXELS_ENV: &str = "UNET3D_MAX_VOXELS";
/// Bytes of the widest voxel type a reader accepts (float64, int64).
pub const MAX_VOXEL_BYTES: u64 = 8;
/// Room for headers, DICOM attributes and compression overhead beyond the voxel data.
const HEADER_ALLOWANCE: u64 = 16 << 20;

/// 0 = not set explicitly (the environment or the default applies).
static MAX_VOXELS: AtomicU64 = AtomicU64::new(0);

/// The voxel limit: [`set_max_voxels`], else `UNET3D_MAX_VOXELS`, else [`DEFAULT_MAX_VOXELS`].
pub fn max_voxels() -> u64 {
    match MAX_VOXELS.load(Ordering::Relaxed) {
        0 => std::env::var(MAX_VOXELS_ENV)
            .ok()
            .and_then(|v| v.trim().replace('_', "").parse::<u64>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_MAX_VOXELS),
        n => n,
    }
}

/// Sets the voxel limit for this process (the `--max-voxels` option; tests).
pub fn set_max_voxels(n: u64) {
    MAX_VOXELS.store(n.max(1), Ordering::Relaxed);
}

/// The most bytes a file (or a decompressed stream) may hold.
pub fn max_file_bytes() -> u64 {
    max_voxels()
        .saturating_mul(MAX_VOXEL_BYTES)
        .saturating_add(HEADER_ALLOWANCE)
}

/// Checks that a grid of `dims` is within the voxel limit; `what` says whose grid it is (a file,
/// "resampling FILE to 1 mm"). The error names it, the grid, its size and the limit.
pub fn check_grid(what: &Path, dims: &[usize]) -> Result<u64> {
    let voxels = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    let limit = max_voxels();
    if voxels > limit {
        let grid: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
        return Err(Error::invalid(
            what,
            format!(
                "a {} grid ({voxels} voxels) is above the limit of {limit} voxels; \
                 set {MAX_VOXELS_ENV} or --max-voxels to raise it",
                grid.join(" x ")
            ),
        ));
    }
    Ok(voxels)
}

/// Checks a byte count read from a header against [`max_file_bytes`].
pub fn check_bytes(what: &Path, bytes: u64) -> Result<()> {
    let limit = max_file_bytes();
    if bytes > limit {
        return Err(Error::invalid(
            what,
            format!(
                "{bytes} bytes is above the limit of {limit} bytes ({} voxels of up to 8 bytes); \
                 set {MAX_VOXELS_ENV} or --max-voxels to raise it",
                max_voxels()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_beyond_the_limit_are_errors_naming_the_grid_and_the_limit() {
        let limit = max_voxels();
        assert!(check_grid(Path::new("a.nii"), &[10, 10, 10]).is_ok());
        let err = check_grid(Path::new("a.nii"), &[100_000, 100_000, 3])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.nii")
                && err.contains("100000 x 100000 x 3")
                && err.contains(&limit.to_string())
                && err.contains(MAX_VOXELS_ENV),
            "{err}"
        );
        // An overflowing product is over the limit, not a wrap-around.
        assert!(check_grid(Path::new("b"), &[usize::MAX, 2, 2]).is_err());
        assert!(check_bytes(Path::new("c"), u64::MAX).is_err());
    }
}
