//! Reading one series into an [`Image`]: pick the series, order and place the slices
//! ([`super::geometry`]), decode each slice's pixels.

use std::path::Path;

use super::geometry;
use super::pixels;
use super::precheck;
use super::scan::{self, SliceHeader};
use crate::data::{Image, Volume};
use crate::error::{Error, Result};
use crate::util::limits;

/// Reads the series under `dir` (searched recursively) into an image in RAS.
///
/// With several series in the folder, `series_uid` must name one (the error lists them). Slices are
/// ordered by position along the slice normal (InstanceNumber without positions); irregular gaps are
/// logged as warnings and the median spacing is used.
pub fn read_series(dir: &Path, series_uid: Option<&str>) -> Result<Image> {
    let (image, warnings) = read_series_reporting(dir, series_uid)?;
    for w in warnings {
        log::warn!("{w}");
    }
    Ok(image)
}

/// [`read_series`], returning the geometry warnings instead of logging them.
pub(super) fn read_series_reporting(
    dir: &Path,
    series_uid: Option<&str>,
) -> Result<(Image, Vec<String>)> {
    let headers = scan::scan(dir)?;
    let slices = select(dir, headers, series_uid)?;
    let stack = geometry::stack(dir, &slices)?;
    limits::check_grid(dir, &stack.dims)?;
    let [nx, ny, _] = stack.dims;
    // Grown slice by slice, each checked against its Rows × Columns first: a header that claims
    // more pixels than the file holds is an error before anything of its size is allocated.
    let mut data = Vec::new();
    for &idx in &stack.order {
        let path = &slices[idx].path;
        let obj = precheck::open_checked(path, None)?;
        pixels::check_transfer_syntax(path, obj.meta().transfer_syntax())?;
        data.extend(pixels::decode_slice(path, &obj, ny, nx)?);
    }
    let image = Volume {
        data,
        dims: stack.dims,
        spacing: stack.spacing,
        affine: stack.affine,
        nifti_header: None,
    };
    Ok((image, stack.warnings))
}

/// The slices of the wanted series; an error listing the series when the choice is ambiguous or wrong.
fn select(
    dir: &Path,
    headers: Vec<SliceHeader>,
    series_uid: Option<&str>,
) -> Result<Vec<SliceHeader>> {
    let series = scan::group(&headers);
    let listing = || {
        series
            .iter()
            .map(|s| format!("{} '{}' ({} files)", s.uid, s.description, s.n_files))
            .collect::<Vec<_>>()
            .join("; ")
    };
    match series_uid {
        Some(uid) => {
            let chosen: Vec<SliceHeader> = headers
                .into_iter()
                .filter(|h| h.series_uid == uid)
                .collect();
            if chosen.is_empty() {
                return Err(Error::invalid(
                    dir,
                    format!("no series with UID {uid}; found: {}", listing()),
                ));
            }
            Ok(chosen)
        }
        None if series.len() > 1 => Err(Error::invalid(
            dir,
            format!(
                "{} series found, name one by its UID: {}",
                series.len(),
                listing()
            ),
        )),
        None => Ok(headers),
    }
}
