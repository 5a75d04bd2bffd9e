//! Decoding a slice's Pixel Data into real values, RescaleSlope/Intercept applied: native
//! (uncompressed, little-endian) data here, compressed data through dicom-rs's pure-Rust codecs
//! (`dicom-pixeldata`: JPEG baseline and lossless, RLE, JPEG 2000; deflated files inflate as they
//! are parsed), then the same unpacking. Bits Allocated 8/16/32, signed or unsigned, Bits Stored /
//! High Bit honoured (masked and sign-extended), one sample per pixel, one frame per file.
//!
//! Before a codec runs, its own header (JPEG SOF, JPEG 2000 SIZ, the RLE segment table) must
//! agree with Rows and Columns: the codecs size their buffers from it, and some panic on a
//! mismatch. A codec panic left anyway is caught and reported as an error naming the file.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use dicom_core::{DicomValue, PrimitiveValue};
use dicom_dictionary_std::{tags, uids};
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;

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

/// Refuses transfer syntaxes whose pixel data this reader cannot decode, by name, with what to
/// do instead.
pub(super) fn check_transfer_syntax(path: &Path, uid: &str) -> Result<()> {
    match uid {
        uids::IMPLICIT_VR_LITTLE_ENDIAN
        | uids::EXPLICIT_VR_LITTLE_ENDIAN
        | uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN => Ok(()),
        "1.2.840.10008.1.2.2" => Err(Error::invalid(
            path,
            format!(
                "transfer syntax {uid} (Explicit VR Big Endian) is not supported; convert to little endian"
            ),
        )),
        uids::JPEG_BASELINE8_BIT
        | uids::JPEG_EXTENDED12_BIT
        | uids::JPEG_LOSSLESS
        | uids::JPEG_LOSSLESS_SV1
        | uids::RLE_LOSSLESS
        | uids::JPEG2000_LOSSLESS
        | uids::JPEG2000 => Ok(()),
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => Err(Error::invalid(
            path,
            format!(
                "transfer syntax {uid} ({}) needs the CharLS codec (C++), which unet3d does not \
                 build; decompress the series first (`gdcmconv --raw` or `dcmdjpls`)",
                syntax_name(uid)
            ),
        )),
        _ => Err(Error::invalid(
            path,
            format!(
                "transfer syntax {uid} ({}) has pixel data this reader cannot decode; decompress the \
                 series first (e.g. `gdcmconv --raw`)",
                syntax_name(uid)
            ),
        )),
    }
}

/// The slice's voxels as f32 in row-major order (column index fastest), rescaled.
pub(super) fn decode_slice(
    path: &Path,
    obj: &DefaultDicomObject,
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
    let uid = obj.meta().transfer_syntax().trim_end_matches(['\0', ' ']);
    let bytes = match elem.value() {
        DicomValue::Primitive(_) if is_encapsulated(uid) => {
            return Err(Error::invalid(
                path,
                format!(
                    "the transfer syntax {uid} ({}) says the Pixel Data is compressed, but it is \
                     not encapsulated",
                    syntax_name(uid)
                ),
            ));
        }
        DicomValue::Primitive(p) => le_bytes(p)
            .ok_or_else(|| Error::invalid(path, "Pixel Data has an unexpected value type"))?,
        DicomValue::PixelSequence(seq) => {
            check_codec_header(path, uid, seq.fragments(), rows, cols, bits_allocated)?;
            decode_compressed(path, obj, uid)?
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

/// Whether `uid` carries its pixel data encapsulated (compressed).
fn is_encapsulated(uid: &str) -> bool {
    !matches!(
        uid,
        uids::IMPLICIT_VR_LITTLE_ENDIAN
            | uids::EXPLICIT_VR_LITTLE_ENDIAN
            | uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
            | "1.2.840.10008.1.2.2"
    )
}

/// The codec's own idea of the image size, checked against Rows × Columns before decoding.
fn check_codec_header(
    path: &Path,
    uid: &str,
    fragments: &[Vec<u8>],
    rows: usize,
    cols: usize,
    bits_allocated: u32,
) -> Result<()> {
    let bad = |msg: String| Error::invalid(path, msg);
    let first = fragments
        .iter()
        .find(|f| !f.is_empty())
        .ok_or_else(|| bad("encapsulated Pixel Data has no fragment".into()))?;
    let size = match uid {
        uids::RLE_LOSSLESS => {
            check_rle_header(first, bits_allocated).map_err(bad)?;
            return Ok(());
        }
        uids::JPEG2000_LOSSLESS | uids::JPEG2000 => j2k_size(first).map_err(bad)?,
        _ => {
            let data: Vec<u8> = fragments.concat();
            let info = catch_unwind(AssertUnwindSafe(|| {
                let mut d = jpeg_decoder::Decoder::new(&data[..]);
                d.read_info().map(|_| d.info())
            }));
            match info {
                Ok(Ok(Some(i))) => (i.width as usize, i.height as usize),
                Ok(Err(e)) => return Err(bad(format!("not a readable JPEG stream ({e})"))),
                _ => return Err(bad("not a readable JPEG stream".into())),
            }
        }
    };
    if size != (cols, rows) {
        return Err(bad(format!(
            "the compressed image is {}x{} but Rows x Columns say {rows}x{cols}",
            size.1, size.0
        )));
    }
    Ok(())
}

/// Width and height from a JPEG 2000 codestream's SIZ segment (a JP2 wrapper is looked through).
fn j2k_size(data: &[u8]) -> Result<(usize, usize), String> {
    let head = &data[..data.len().min(1 << 16)];
    let at = head
        .windows(4)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])
        .ok_or("not a JPEG 2000 codestream (no SOC/SIZ marker)")?;
    let siz = data
        .get(at + 4..at + 4 + 20)
        .ok_or("truncated JPEG 2000 SIZ segment")?;
    let be = |o: usize| u32::from_be_bytes([siz[o], siz[o + 1], siz[o + 2], siz[o + 3]]);
    let (x, y, x0, y0) = (be(4), be(8), be(12), be(16));
    if x0 > x || y0 > y {
        return Err(format!(
            "invalid JPEG 2000 image offsets ({x0}, {y0}) for size ({x}, {y})"
        ));
    }
    Ok(((x - x0) as usize, (y - y0) as usize))
}

/// The RLE header of a frame: 16 little-endian u32, the segment count (one per byte of a sample)
/// and their offsets, increasing, inside the fragment.
fn check_rle_header(frame: &[u8], bits_allocated: u32) -> Result<(), String> {
    if frame.len() < 64 {
        return Err(format!(
            "RLE frame of {} bytes is shorter than its header",
            frame.len()
        ));
    }
    let word = |i: usize| u32::from_le_bytes(frame[4 * i..4 * i + 4].try_into().unwrap()) as usize;
    let segments = word(0);
    let expected = (bits_allocated as usize).div_ceil(8);
    if segments != expected {
        return Err(format!(
            "RLE header has {segments} segments, {bits_allocated}-bit samples need {expected}"
        ));
    }
    let mut last = 63;
    for i in 1..=segments {
        let offset = word(i);
        if offset <= last || offset >= frame.len() {
            return Err(format!(
                "RLE segment {i} starts at {offset}, outside its frame"
            ));
        }
        last = offset;
    }
    Ok(())
}

/// The first frame decoded by dicom-rs's codec, as native little-endian bytes.
fn decode_compressed(path: &Path, obj: &DefaultDicomObject, uid: &str) -> Result<Vec<u8>> {
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        obj.decode_pixel_data_frame(0).map(|px| px.data().to_vec())
    }));
    match decoded {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let mut msg = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                msg = format!("{msg}: {c}");
                cause = c.source();
            }
            Err(Error::invalid(
                path,
                format!("cannot decode {} pixel data ({msg})", syntax_name(uid)),
            ))
        }
        Err(_) => Err(Error::invalid(
            path,
            format!(
                "the {} decoder failed on this slice's pixel data",
                syntax_name(uid)
            ),
        )),
    }
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
