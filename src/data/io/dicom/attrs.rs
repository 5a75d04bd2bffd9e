//! Typed access to the few DICOM attributes the reader needs, with errors that name the file and the
//! attribute. DICOM stores numbers as text (DS, IS) or binary (US); both are accepted everywhere.

use std::path::Path;

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

use crate::error::{Error, Result};

/// The attribute as trimmed text; `None` when absent or empty.
pub(super) fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let s = obj.get(tag)?.to_str().ok()?;
    let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!s.is_empty()).then(|| s.to_string())
}

/// All values of a numeric attribute (DS/IS text or binary integers); `None` when absent or empty.
pub(super) fn floats(
    obj: &InMemDicomObject,
    tag: Tag,
    name: &str,
    path: &Path,
) -> Result<Option<Vec<f64>>> {
    let Some(elem) = obj.get(tag) else {
        return Ok(None);
    };
    if !is_text(elem.vr()) {
        // Binary numbers (US, UL, FD, ...) convert directly.
        let v = elem
            .to_multi_float64()
            .map_err(|e| Error::invalid(path, format!("{name} {tag}: {e}")))?;
        return Ok((!v.is_empty()).then_some(v));
    }
    let s = elem
        .to_str()
        .map_err(|e| Error::invalid(path, format!("{name} {tag}: {e}")))?;
    let parts: Vec<&str> = s
        .split('\\')
        .map(|p| p.trim_matches(|c: char| c.is_whitespace() || c == '\0'))
        .collect();
    if parts.iter().all(|p| p.is_empty()) {
        return Ok(None);
    }
    parts
        .iter()
        .map(|p| {
            p.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    Error::invalid(
                        path,
                        format!("{name} {tag}: '{s}' is not a list of numbers"),
                    )
                })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Exactly `N` values, or an error naming the attribute.
pub(super) fn array<const N: usize>(
    obj: &InMemDicomObject,
    tag: Tag,
    name: &str,
    path: &Path,
) -> Result<Option<[f64; N]>> {
    match floats(obj, tag, name, path)? {
        None => Ok(None),
        Some(v) => v.try_into().map(Some).map_err(|v: Vec<f64>| {
            Error::invalid(
                path,
                format!("{name} {tag} has {} values, expected {N}", v.len()),
            )
        }),
    }
}

/// The first value of a numeric attribute.
pub(super) fn float(
    obj: &InMemDicomObject,
    tag: Tag,
    name: &str,
    path: &Path,
) -> Result<Option<f64>> {
    Ok(floats(obj, tag, name, path)?.map(|v| v[0]))
}

/// The first value as a whole number (IS, US, ...); fractional values are an error.
pub(super) fn int(
    obj: &InMemDicomObject,
    tag: Tag,
    name: &str,
    path: &Path,
) -> Result<Option<i64>> {
    match float(obj, tag, name, path)? {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 => Ok(Some(v as i64)),
        Some(v) => Err(Error::invalid(
            path,
            format!("{name} {tag} = {v} is not a whole number"),
        )),
    }
}

/// A required whole number.
pub(super) fn required_int(
    obj: &InMemDicomObject,
    tag: Tag,
    name: &str,
    path: &Path,
) -> Result<i64> {
    int(obj, tag, name, path)?.ok_or_else(|| Error::invalid(path, format!("missing {name} {tag}")))
}

fn is_text(vr: dicom_core::VR) -> bool {
    use dicom_core::VR;
    matches!(
        vr,
        VR::DS | VR::IS | VR::LO | VR::SH | VR::CS | VR::ST | VR::LT | VR::UT | VR::UN
    )
}
