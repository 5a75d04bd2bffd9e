//! Writing an [`Image`] as a DICOM MR series: one MR Image Storage file per slice (k), Explicit VR Little
//! Endian, 16-bit unsigned pixels with RescaleSlope/Intercept chosen so the image's range fits, geometry
//! (IOP, IPP, PixelSpacing, slice spacing) from the affine. Used to build test data in the layout of
//! real exports, including shuffled file names so nothing can rely on name order.
//!
//! The series is written into a hidden temporary folder beside `dir` and renamed at the end, so an error
//! leaves no partial series.

use std::path::{Path, PathBuf};

use dicom_core::value::C;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use crate::data::Image;
use crate::data::volume::norm;
use crate::error::{Error, Result};
use crate::util::fsio;
use crate::util::rng::Rng;

/// Identity of a written series.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesMeta {
    pub patient_id: String,
    pub series_uid: String,
    pub study_uid: String,
    pub description: String,
    /// When set, file names are a seeded permutation of the slice order.
    pub shuffle_seed: Option<u64>,
}

/// Writes `image` as a series of slice files into the new folder `dir` (which must not exist or be empty).
///
/// The slice axis must be perpendicular to the slice plane (DICOM slices have no shear). A grid that is
/// left-handed in LPS reads back with `k` reversed (same voxels in space, different affine).
pub fn write_series(dir: &Path, image: &Image, meta: &SeriesMeta) -> Result<()> {
    let [nx, ny, nz] = image.dims;
    if nx == 0 || ny == 0 || nz == 0 || image.data.len() != nx * ny * nz {
        return Err(Error::invalid(
            dir,
            format!(
                "cannot write an image of dims {:?} with {} voxels",
                image.dims,
                image.data.len()
            ),
        ));
    }
    if nx > u16::MAX as usize || ny > u16::MAX as usize {
        return Err(Error::invalid(
            dir,
            format!("slice size {nx}x{ny} exceeds DICOM's 65535"),
        ));
    }
    for (name, uid) in [("series", &meta.series_uid), ("study", &meta.study_uid)] {
        if !valid_uid(uid) {
            return Err(Error::invalid(
                dir,
                format!("{name} UID '{uid}' is not a DICOM UID (digits and dots, ≤ 64 chars)"),
            ));
        }
    }
    let geo = Geometry::from_image(dir, image)?;
    let rescale = Rescale::for_data(&image.data);
    refuse_non_empty(dir)?;

    let mut names: Vec<usize> = (0..nz).collect();
    if let Some(seed) = meta.shuffle_seed {
        Rng::new(seed).shuffle(&mut names);
        if nz > 1 && names.iter().enumerate().all(|(k, &n)| k == n) {
            names.rotate_left(1); // never the identity: name order must not be slice order
        }
    }
    let tmp = temp_dir(dir)?;
    let result = (|| {
        for k in 0..nz {
            let slice = &image.data[k * nx * ny..(k + 1) * nx * ny];
            let obj = slice_object(image, &geo, &rescale, meta, k, slice)?;
            let path = tmp.join(format!("IM{:05}.dcm", names[k] + 1));
            fsio::write_atomic_with(&path, |w| obj.write_all(w).map_err(std::io::Error::other))?;
        }
        refuse_non_empty(dir)?;
        if dir.exists() {
            std::fs::remove_dir(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Slice geometry in LPS.
struct Geometry {
    row: [f64; 3],
    col: [f64; 3],
    step_k: [f64; 3],
    origin: [f64; 3],
    dx: f64,
    dy: f64,
    dz: f64,
}

impl Geometry {
    fn from_image(dir: &Path, image: &Image) -> Result<Self> {
        let lps = |v: [f64; 3]| [-v[0], -v[1], v[2]];
        let (c0, c1, c2) = (
            lps(image.affine.column(0)),
            lps(image.affine.column(1)),
            lps(image.affine.column(2)),
        );
        let (dx, dy, dz) = (norm(c0), norm(c1), norm(c2));
        if !(dx > 0.0 && dy > 0.0 && dz > 0.0) {
            return Err(Error::invalid(dir, "image affine has a zero-length axis"));
        }
        let (row, col, n) = (
            scale(c0, 1.0 / dx),
            scale(c1, 1.0 / dy),
            scale(c2, 1.0 / dz),
        );
        let (rc, rn, cn) = (dot(row, col).abs(), dot(row, n).abs(), dot(col, n).abs());
        if rc > 1e-4 || rn > 1e-4 || cn > 1e-4 {
            return Err(Error::invalid(
                dir,
                format!(
                    "image axes are not orthogonal (cosines {rc:.2e}, {rn:.2e}, {cn:.2e}); DICOM slices cannot be sheared"
                ),
            ));
        }
        Ok(Geometry {
            row,
            col,
            step_k: c2,
            origin: lps(image.affine.origin()),
            dx,
            dy,
            dz,
        })
    }
}

/// Stored = round((value − intercept) / slope), in 0..=65535.
struct Rescale {
    slope: f64,
    intercept: f64,
}

impl Rescale {
    /// Exact for integer data spanning ≤ 65535; otherwise the range over 65535 steps. The values written
    /// as DS text are parsed back so quantisation uses exactly what a reader will see.
    fn for_data(data: &[f32]) -> Self {
        let finite = data.iter().filter(|v| v.is_finite()).map(|&v| v as f64);
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) };
        let integral = data.iter().all(|v| !v.is_finite() || v.fract() == 0.0);
        let slope = if integral && hi - lo <= 65535.0 {
            1.0
        } else if hi > lo {
            (hi - lo) / 65535.0
        } else {
            1.0
        };
        let slope: f64 = ds(slope).parse().unwrap();
        let intercept: f64 = ds(lo).parse().unwrap();
        Rescale { slope, intercept }
    }

    fn store(&self, v: f32) -> u16 {
        if !v.is_finite() {
            return 0;
        }
        ((v as f64 - self.intercept) / self.slope)
            .round()
            .clamp(0.0, 65535.0) as u16
    }
}

fn slice_object(
    image: &Image,
    geo: &Geometry,
    rescale: &Rescale,
    meta: &SeriesMeta,
    k: usize,
    slice: &[f32],
) -> Result<dicom_object::DefaultDicomObject> {
    let [nx, ny, _] = image.dims;
    let ipp: [f64; 3] = std::array::from_fn(|a| geo.origin[a] + k as f64 * geo.step_k[a]);
    let instance_uid = child_uid(&meta.series_uid, k as u64 + 1);
    let pixels: Vec<u16> = slice.iter().map(|&v| rescale.store(v)).collect();
    let s = |tag: Tag, vr: VR, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let multi = |tag: Tag, vals: &[f64]| {
        DataElement::new(
            tag,
            VR::DS,
            PrimitiveValue::Strs(vals.iter().map(|&v| ds(v)).collect()),
        )
    };
    let us = |tag: Tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let obj = InMemDicomObject::from_element_iter([
        s(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE),
        s(tags::SOP_INSTANCE_UID, VR::UI, &instance_uid),
        s(tags::MODALITY, VR::CS, "MR"),
        s(tags::PATIENT_NAME, VR::PN, &meta.patient_id),
        s(tags::PATIENT_ID, VR::LO, &meta.patient_id),
        s(tags::STUDY_INSTANCE_UID, VR::UI, &meta.study_uid),
        s(tags::SERIES_INSTANCE_UID, VR::UI, &meta.series_uid),
        s(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            &child_uid(&meta.study_uid, 0),
        ),
        s(tags::SERIES_DESCRIPTION, VR::LO, &meta.description),
        s(tags::SERIES_NUMBER, VR::IS, "1"),
        s(tags::INSTANCE_NUMBER, VR::IS, &(k + 1).to_string()),
        multi(tags::IMAGE_POSITION_PATIENT, &ipp),
        multi(
            tags::IMAGE_ORIENTATION_PATIENT,
            &[geo.row, geo.col].concat(),
        ),
        multi(tags::PIXEL_SPACING, &[geo.dy, geo.dx]),
        multi(tags::SLICE_THICKNESS, &[geo.dz]),
        multi(tags::SPACING_BETWEEN_SLICES, &[geo.dz]),
        us(tags::SAMPLES_PER_PIXEL, 1),
        s(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, ny as u16),
        us(tags::COLUMNS, nx as u16),
        us(tags::BITS_ALLOCATED, 16),
        us(tags::BITS_STORED, 16),
        us(tags::HIGH_BIT, 15),
        us(tags::PIXEL_REPRESENTATION, 0),
        multi(tags::RESCALE_INTERCEPT, &[rescale.intercept]),
        multi(tags::RESCALE_SLOPE, &[rescale.slope]),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(C::from_vec(pixels)),
        ),
    ]);
    obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .map_err(|e| Error::config(format!("building the DICOM meta group for slice {k}: {e}")))
}

/// A decimal string (DS) of at most 16 characters, as precise as fits.
pub(super) fn ds(x: f64) -> String {
    let x = if x == 0.0 { 0.0 } else { x }; // no "-0"
    for prec in (0..=12).rev() {
        let s = format!("{x:.prec$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.len() <= 16 {
            return if s == "-0" { "0".into() } else { s };
        }
    }
    format!("{x:.6e}")
}

/// `<parent>.<n>` when that fits in 64 characters, otherwise a `2.25.` UID derived from both.
fn child_uid(parent: &str, n: u64) -> String {
    let uid = format!("{parent}.{n}");
    if uid.len() <= 64 {
        return uid;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
    for b in parent.bytes().chain(n.to_le_bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("2.25.{h}")
}

fn valid_uid(uid: &str) -> bool {
    !uid.is_empty() && uid.len() <= 64 && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn refuse_non_empty(dir: &Path) -> Result<()> {
    let non_empty = dir.is_dir()
        && std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .next()
            .is_some();
    if non_empty || (dir.exists() && !dir.is_dir()) {
        return Err(Error::invalid(
            dir,
            "already exists and is not an empty folder; refusing to overwrite",
        ));
    }
    Ok(())
}

/// A fresh hidden folder beside `dir`.
fn temp_dir(dir: &Path) -> Result<PathBuf> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "series".into());
    let tmp = dir.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    fsio::create_dir(&tmp)?;
    Ok(tmp)
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}
