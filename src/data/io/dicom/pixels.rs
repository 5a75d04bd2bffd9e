//! Decoding native (uncompressed, little-endian) Pixel Data into real values, RescaleSlope/Intercept
//! applied. Bits Allocated 8/16/32, signed or unsigned, Bits Stored / High Bit honoured (masked and
//! sign-extended), one sample per pixel, one frame per file.

use std::path::Path;

use dicom_core::{DicomValue, PrimitiveValue};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use super::attrs;
use crate::error::{Error, Result};

/// How the stored integers are laid out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct PixelFormat {
    pub bits_allocated: u32,
    pub bits_stored: u32,
    pub high_bit: u32,
    pub signed: bool,
}

/// Refuses transfer syntaxes whose pixel data this reader cannot decode.
pub(super) fn check_transfer_syntax(path: &Path, uid: &str) -> Result<()> {
    match uid {
        uids::IMPLICIT_VR_LITTLE_ENDIAN | uids::EXPLICIT_VR_LITTLE_ENDIAN => Ok(()),
        "1.2.840.10008.1.2.2" => Err(Error::invalid(
            path,
            format!(
                "transfer syntax {uid} (Explicit VR Big Endian) is not supported; convert to little endian"
            ),
        )),
        _ => Err(Error::invalid(
            path,
            format!(
                "transfer syntax {uid} ({}) has encapsulated/compressed pixel data, which this reader cannot \
                 decode; decompress the series first (e.g. `gdcmconv --raw` or `dcmdjpeg`)",
                syntax_name(uid)
            ),
        )),
    }
}

/// The slice's voxels as f32 in row-major order (column index fastest), rescaled.
pub(super) fn decode_slice(
    path: &Path,
    obj: &InMemDicomObject,
    rows: usize,
    cols: usize,
) -> Result<Vec<f32>> {
    let samples = attrs::int(obj, tags::SAMPLES_PER_PIXEL, "SamplesPerPixel", path)?.unwrap_or(1);
    if samples != 1 {
        return Err(Error::invalid(
            path,
            format!("SamplesPerPixel = {samples}; only grey-level images are supported"),
        ));
    }
    let frames = attrs::int(obj, tags::NUMBER_OF_FRAMES, "NumberOfFrames", path)?.unwrap_or(1);
    if frames != 1 {
        return Err(Error::invalid(
            path,
            format!("{frames} frames in one file; only one slice per file is supported"),
        ));
    }
    let bits_allocated =
        attrs::required_int(obj, tags::BITS_ALLOCATED, "BitsAllocated", path)? as u32;
    let bits_stored = attrs::int(obj, tags::BITS_STORED, "BitsStored", path)?
        .map_or(bits_allocated, |v| v as u32);
    let high_bit = attrs::int(obj, tags::HIGH_BIT, "HighBit", path)?
        .map_or(bits_stored.saturating_sub(1), |v| v as u32);
    let signed =
        attrs::int(obj, tags::PIXEL_REPRESENTATION, "PixelRepresentation", path)?.unwrap_or(0) == 1;
    let format = PixelFormat {
        bits_allocated,
        bits_stored,
        high_bit,
        signed,
    };
    let slope = attrs::float(obj, tags::RESCALE_SLOPE, "RescaleSlope", path)?.unwrap_or(1.0);
    let intercept =
        attrs::float(obj, tags::RESCALE_INTERCEPT, "RescaleIntercept", path)?.unwrap_or(0.0);

    let elem = obj
        .get(tags::PIXEL_DATA)
        .ok_or_else(|| Error::invalid(path, "no Pixel Data"))?;
    let bytes = match elem.value() {
        DicomValue::Primitive(p) => le_bytes(p)
            .ok_or_else(|| Error::invalid(path, "Pixel Data has an unexpected value type"))?,
        DicomValue::PixelSequence(_) => {
            return Err(Error::invalid(
                path,
                "Pixel Data is encapsulated (compressed); decompress the series first",
            ));
        }
        _ => {
            return Err(Error::invalid(
                path,
                "Pixel Data is a sequence, not pixel values",
            ));
        }
    };
    let raw = decode_native(&bytes, rows * cols, format).map_err(|m| Error::invalid(path, m))?;
    Ok(raw
        .into_iter()
        .map(|v| (v * slope + intercept) as f32)
        .collect())
}

/// The stored integers of `n` pixels, as f64.
pub(super) fn decode_native(bytes: &[u8], n: usize, f: PixelFormat) -> Result<Vec<f64>, String> {
    let width = match f.bits_allocated {
        8 | 16 | 32 => (f.bits_allocated / 8) as usize,
        b => {
            return Err(format!(
                "BitsAllocated = {b} is not supported (8, 16 or 32)"
            ));
        }
    };
    if f.bits_stored == 0
        || f.bits_stored > f.bits_allocated
        || f.high_bit >= f.bits_allocated
        || f.high_bit + 1 < f.bits_stored
    {
        return Err(format!(
            "inconsistent BitsStored {} / HighBit {} for BitsAllocated {}",
            f.bits_stored, f.high_bit, f.bits_allocated
        ));
    }
    if bytes.len() < n * width {
        return Err(format!(
            "Pixel Data has {} bytes, {n} pixels of {width} bytes need {}",
            bytes.len(),
            n * width
        ));
    }
    let shift = f.high_bit + 1 - f.bits_stored;
    let mask: u64 = (1u64 << f.bits_stored) - 1;
    let sign_bit = 1u64 << (f.bits_stored - 1);
    Ok(bytes[..n * width]
        .chunks_exact(width)
        .map(|c| {
            let word = c.iter().rev().fold(0u64, |acc, &b| (acc << 8) | b as u64);
            let v = (word >> shift) & mask;
            if f.signed && v & sign_bit != 0 {
                v as f64 - (mask + 1) as f64
            } else {
                v as f64
            }
        })
        .collect())
}

/// The value's bytes in little-endian order, whatever integer type the parser chose for it.
fn le_bytes(p: &PrimitiveValue) -> Option<Vec<u8>> {
    Some(match p {
        PrimitiveValue::U8(v) => v.to_vec(),
        PrimitiveValue::U16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        PrimitiveValue::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        _ => return None,
    })
}

fn syntax_name(uid: &str) -> &'static str {
    match uid {
        "1.2.840.10008.1.2.1.99" => "Deflated Explicit VR Little Endian",
        "1.2.840.10008.1.2.4.50" => "JPEG Baseline",
        "1.2.840.10008.1.2.4.51" => "JPEG Extended",
        "1.2.840.10008.1.2.4.57" | "1.2.840.10008.1.2.4.70" => "JPEG Lossless",
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => "JPEG-LS",
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => "JPEG 2000",
        "1.2.840.10008.1.2.5" => "RLE Lossless",
        _ => "not a native uncompressed syntax",
    }
}
