//! A walk over a DICOM file's elements before the parser sees it, checking that every length a
//! header declares fits in the bytes that are actually there: dicom-rs reserves and zero-fills a
//! value's declared length before reading it, so a 200 KB file claiming a 3 GB element would make
//! it allocate 3 GB. Also bounds the nesting of sequences (the parser recurses).
//!
//! Covers the file meta group (explicit VR little endian) and data sets in implicit VR little
//! endian, explicit VR little endian (native and every encapsulated syntax) and explicit VR big
//! endian. A deflated data set cannot be walked without inflating it; its inflated size is bounded
//! by the reader's own limit instead.

use std::path::Path;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};

use crate::error::{Error, Result};
use crate::util::fsio;

/// Deepest nesting of sequences and items accepted.
const MAX_DEPTH: usize = 32;
const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    ImplicitLe,
    ExplicitLe,
    ExplicitBe,
}

/// Reads a DICOM file (a regular file within the size limit), checks every declared length
/// against it ([`check`]) and parses it, up to (not including) `until` when given.
pub(super) fn open_checked(path: &Path, until: Option<Tag>) -> Result<DefaultDicomObject> {
    let bytes = fsio::read(path)?;
    check(path, &bytes)?;
    let mut options = OpenFileOptions::new().read_preamble(ReadPreamble::Always);
    if let Some(tag) = until {
        options = options.read_until(tag);
    }
    options
        .from_reader(&bytes[..])
        .map_err(|e| Error::invalid(path, format!("cannot parse DICOM: {e}")))
}

/// Checks `bytes` (a whole file: 128-byte preamble, `DICM`, meta group, data set). Returns the
/// transfer syntax UID.
pub(super) fn check(path: &Path, bytes: &[u8]) -> Result<String> {
    let bad = |msg: String| Error::invalid(path, format!("malformed DICOM: {msg}"));
    if bytes.len() < 132 || &bytes[128..132] != b"DICM" {
        return Err(bad("no DICM magic at byte 128".into()));
    }
    let mut w = Walker {
        bytes,
        pos: 132,
        enc: Encoding::ExplicitLe,
    };
    // The meta group: explicit VR little endian, group 0002 only.
    let mut syntax = String::new();
    while w.pos + 4 <= bytes.len() && w.peek_group() == Some(0x0002) {
        let (tag, len, value_at) = w.header().map_err(bad)?;
        if len == UNDEFINED {
            return Err(bad(format!(
                "meta element {:04X},{:04X} has an undefined length",
                tag.0, tag.1
            )));
        }
        let value_end = w.fits(value_at, len, bytes.len(), tag).map_err(bad)?;
        if tag == (0x0002, 0x0010) {
            syntax = String::from_utf8_lossy(&bytes[value_at..value_end])
                .trim_end_matches(['\0', ' '])
                .to_string();
        }
        w.pos = value_end;
    }
    w.enc = match syntax.as_str() {
        "1.2.840.10008.1.2" => Encoding::ImplicitLe,
        "1.2.840.10008.1.2.2" => Encoding::ExplicitBe,
        // Deflated: the data set is compressed; nothing to walk here.
        "1.2.840.10008.1.2.1.99" => return Ok(syntax),
        _ => Encoding::ExplicitLe,
    };
    w.dataset(bytes.len(), 0, false).map_err(bad)?;
    Ok(syntax)
}

struct Walker<'a> {
    bytes: &'a [u8],
    pos: usize,
    enc: Encoding,
}

impl Walker<'_> {
    fn peek_group(&self) -> Option<u16> {
        let b = self.bytes.get(self.pos..self.pos + 2)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u16_at(&self, at: usize) -> Result<u16, String> {
        let b = self
            .bytes
            .get(at..at + 2)
            .ok_or_else(|| format!("truncated at byte {at}"))?;
        Ok(match self.enc {
            Encoding::ExplicitBe => u16::from_be_bytes([b[0], b[1]]),
            _ => u16::from_le_bytes([b[0], b[1]]),
        })
    }

    fn u32_at(&self, at: usize) -> Result<u32, String> {
        let b = self
            .bytes
            .get(at..at + 4)
            .ok_or_else(|| format!("truncated at byte {at}"))?;
        let b = [b[0], b[1], b[2], b[3]];
        Ok(match self.enc {
            Encoding::ExplicitBe => u32::from_be_bytes(b),
            _ => u32::from_le_bytes(b),
        })
    }

    /// Reads an element header at `pos`: (tag, value length, where the value starts). Item and
    /// delimiter tags have no VR in any encoding.
    fn header(&mut self) -> Result<((u16, u16), u32, usize), String> {
        let at = self.pos;
        let tag = (self.u16_at(at)?, self.u16_at(at + 2)?);
        // Item tags are little endian in the meta group too; big endian data sets store them BE.
        if tag.0 == 0xFFFE || self.enc == Encoding::ImplicitLe {
            return Ok((tag, self.u32_at(at + 4)?, at + 8));
        }
        let vr = self
            .bytes
            .get(at + 4..at + 6)
            .ok_or_else(|| format!("truncated at byte {}", at + 4))?;
        const KNOWN: [&[u8; 2]; 34] = [
            b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT",
            b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST",
            b"SV", b"TM", b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
        ];
        if !KNOWN.iter().any(|k| k[..] == *vr) {
            // The parser would guess this element's length field; a wrong guess reads a length
            // out of the value bytes.
            return Err(format!(
                "element {:04X},{:04X} at byte {at} has an unknown VR {:?}",
                tag.0,
                tag.1,
                String::from_utf8_lossy(vr)
            ));
        }
        let long = matches!(
            vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        );
        Ok(if long {
            (tag, self.u32_at(at + 8)?, at + 12)
        } else {
            (tag, self.u16_at(at + 6)? as u32, at + 8)
        })
    }

    /// Walks elements up to `end` (or up to an item delimiter when `in_undefined_item`).
    fn dataset(&mut self, end: usize, depth: usize, in_undefined_item: bool) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("sequences nested deeper than {MAX_DEPTH}"));
        }
        while self.pos < end {
            if end - self.pos < 8 {
                // Trailing padding shorter than an element header.
                self.pos = end;
                break;
            }
            let start = self.pos;
            let (tag, len, value_at) = self.header()?;
            if tag == ITEM_END {
                if in_undefined_item {
                    self.pos = value_at;
                    return Ok(());
                }
                return Err(format!("item delimiter at byte {start} outside an item"));
            }
            if tag == ITEM || tag == SEQUENCE_END {
                return Err(format!(
                    "item tag {:04X},{:04X} at byte {start} outside a sequence",
                    tag.0, tag.1
                ));
            }
            self.pos = value_at;
            if len == UNDEFINED {
                // A sequence, an undefined-length UN, or encapsulated pixel data: items up to
                // a sequence delimiter. Nothing else may leave its length open (the parser would
                // read it as some other element's length).
                if !self.may_be_undefined(start, tag) {
                    return Err(format!(
                        "element {:04X},{:04X} at byte {start} has an undefined length but is not \
                         a sequence or pixel data",
                        tag.0, tag.1
                    ));
                }
                self.items(end, depth + 1)?;
            } else {
                let value_end = self.fits(value_at, len, end, tag)?;
                if self.is_sequence_at(start, tag) {
                    self.defined_items(value_end, depth + 1)?;
                }
                self.pos = value_end;
            }
        }
        if in_undefined_item {
            return Err("an item has no delimiter before the end of its container".into());
        }
        Ok(())
    }

    /// Whether the element at `start` may have an undefined length: a sequence, UN, or
    /// (encapsulated) Pixel Data.
    fn may_be_undefined(&self, start: usize, tag: (u16, u16)) -> bool {
        if tag == (0x7FE0, 0x0010) {
            return true;
        }
        if self.enc != Encoding::ImplicitLe {
            return matches!(self.bytes.get(start + 4..start + 6), Some(b"SQ" | b"UN"));
        }
        // Implicit VR: a known sequence, or an element the dictionary does not know (UN).
        StandardDataDictionary
            .by_tag(Tag(tag.0, tag.1))
            .is_none_or(|e| e.vr() == VirtualVr::Exact(VR::SQ))
    }

    /// Whether the defined-length element at `start` is a sequence (from its VR, or in implicit VR
    /// from the dictionary, as the parser decides).
    fn is_sequence_at(&self, start: usize, tag: (u16, u16)) -> bool {
        if self.enc != Encoding::ImplicitLe {
            return self.bytes.get(start + 4..start + 6) == Some(b"SQ");
        }
        StandardDataDictionary
            .by_tag(Tag(tag.0, tag.1))
            .is_some_and(|e| e.vr() == VirtualVr::Exact(VR::SQ))
    }

    /// `value_at + len`, when it is within `end`.
    fn fits(
        &self,
        value_at: usize,
        len: u32,
        end: usize,
        tag: (u16, u16),
    ) -> Result<usize, String> {
        let value_end = value_at.saturating_add(len as usize);
        if value_end > end {
            return Err(format!(
                "element {:04X},{:04X} at byte {value_at} declares {len} bytes, only {} remain",
                tag.0,
                tag.1,
                end.saturating_sub(value_at)
            ));
        }
        Ok(value_end)
    }

    /// Items of an undefined-length value, up to its sequence delimiter.
    fn items(&mut self, end: usize, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("sequences nested deeper than {MAX_DEPTH}"));
        }
        loop {
            let start = self.pos;
            let (tag, len, value_at) = self.header()?;
            match tag {
                SEQUENCE_END => {
                    self.pos = value_at;
                    return Ok(());
                }
                ITEM if len == UNDEFINED => {
                    self.pos = value_at;
                    self.dataset(end, depth + 1, true)?;
                }
                ITEM => {
                    // A data set, or (pixel data) a fragment: only its length is checked.
                    self.pos = self.fits(value_at, len, end, tag)?;
                }
                _ => {
                    return Err(format!(
                        "{:04X},{:04X} at byte {start} where an item or a sequence delimiter belongs",
                        tag.0, tag.1
                    ));
                }
            }
        }
    }

    /// Items of a defined-length sequence: each item's length must fit, and its content is walked.
    fn defined_items(&mut self, end: usize, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("sequences nested deeper than {MAX_DEPTH}"));
        }
        while self.pos + 8 <= end {
            let start = self.pos;
            let (tag, len, value_at) = self.header()?;
            if tag != ITEM {
                return Err(format!(
                    "{:04X},{:04X} at byte {start} inside a sequence is not an item",
                    tag.0, tag.1
                ));
            }
            self.pos = value_at;
            if len == UNDEFINED {
                self.dataset(end, depth + 1, true)?;
            } else {
                let item_end = self.fits(value_at, len, end, tag)?;
                self.dataset(item_end, depth + 1, false)?;
                self.pos = item_end;
            }
        }
        self.pos = end;
        Ok(())
    }
}
