//! NIfTI-1 volumes (`.nii`, `.nii.gz`): reading any scalar datatype to `f32`, writing `u8` / `f32`.
//!
//! The header is parsed by the `nifti` crate (which handles byte order); the voxel data is decoded here,
//! because the crate's volume API needs its `ndarray` feature. For the same reason the 348-byte header is
//! serialised here (little-endian). A header read from a file is kept in `Volume::nifti_header` so a
//! result written on the same grid carries the very same geometry fields as its source.

use std::io::{Read, Write};
use std::path::Path;

use ::nifti::NiftiHeader;

#[cfg(test)]
mod edge_tests;
mod geometry;
mod header;

use geometry::header_affine;
use header::{header_bytes, header_from_affine};

use super::gzip::is_gz;
use super::voxel::{Voxel, datatype_info, decode};
use crate::data::{Image, Volume};
use crate::error::{Error, Result};
use crate::util::{fsio, limits};

/// Reads a `.nii` or `.nii.gz` (gzip is detected from the content) as an `f32` image, with
/// `scl_slope`/`scl_inter` applied and the RAS affine in mm from the sform, else the qform, else
/// pixdim (see [`geometry::header_geometry`]; every fallback is logged as a warning).
///
/// Bounded by [`limits`]: the file, the grid its header declares and the decompressed stream (which
/// is never inflated beyond the bytes the header declares).
pub fn read_nifti(path: &Path) -> Result<Image> {
    read_nifti_bytes(path, &fsio::read(path)?)
}

/// [`read_nifti`] on the bytes of a file (`path` names it in messages).
pub fn read_nifti_bytes(path: &Path, file: &[u8]) -> Result<Image> {
    let bad = |msg: String| Error::invalid(path, msg);
    if file.is_empty() {
        return Err(bad("empty file".into()));
    }
    let gz = file.starts_with(&[0x1f, 0x8b]);
    let mut stream: Box<dyn Read + '_> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut bytes = Vec::with_capacity(352);
    let gz_error = |e: std::io::Error| bad(format!("corrupt or truncated gzip data ({e})"));
    (&mut stream)
        .take(352)
        .read_to_end(&mut bytes)
        .map_err(gz_error)?;
    if bytes.len() < 348 {
        return Err(bad(format!(
            "not a NIfTI-1 file (only {} bytes, header needs 348)",
            bytes.len()
        )));
    }
    let size = i32::from_le_bytes(bytes[0..4].try_into().unwrap());
    if size == 540 || size.swap_bytes() == 540 {
        return Err(bad("NIfTI-2 files are not supported".into()));
    }
    let header = NiftiHeader::from_reader(&bytes[..])
        .map_err(|e| bad(format!("not a NIfTI-1 file ({e})")))?;
    if &header.magic != nifti::header::MAGIC_CODE_NIP1 {
        return Err(bad(
            "header-only NIfTI (ni1 magic, .hdr/.img pair) is not supported".into(),
        ));
    }
    let dims = volume_dims(&header).map_err(bad)?;
    limits::check_grid(path, &dims)?;
    let (name, width) = datatype_info(header.datatype);
    if width == 0 {
        return Err(bad(format!(
            "unsupported NIfTI datatype {name} (code {})",
            header.datatype
        )));
    }
    let offset = header.vox_offset;
    if !(offset.is_finite() && (0.0..=limits::max_file_bytes() as f32).contains(&offset)) {
        return Err(bad(format!("invalid vox_offset {offset}")));
    }
    let offset = (offset as usize).max(352);
    let need = dims.iter().product::<usize>() * width;
    let end = offset + need;
    limits::check_bytes(path, end as u64)?;
    // Never inflate more than the header declares: a gzip bomb stops here.
    (&mut stream)
        .take((end - bytes.len()) as u64)
        .read_to_end(&mut bytes)
        .map_err(gz_error)?;
    let raw = bytes.get(offset..end).ok_or_else(|| {
        bad(format!(
            "truncated: {need} data bytes expected at offset {offset}, {} has {}",
            if gz { "the gzip stream" } else { "the file" },
            bytes.len()
        ))
    })?;
    let mut data = decode(raw, header.datatype, header.endianness).map_err(bad)?;
    let slope = header.scl_slope;
    if slope != 0.0 && slope.is_finite() && (slope != 1.0 || header.scl_inter != 0.0) {
        let (s, i) = (slope as f64, header.scl_inter as f64);
        data.iter_mut()
            .for_each(|v| *v = (*v as f64 * s + i) as f32);
    }
    let (affine, mut warnings) = geometry::header_geometry(&header);
    warnings.dedup();
    for w in &warnings {
        log::warn!("{}: {w}", path.display());
    }
    Ok(Volume {
        data,
        dims,
        spacing: affine.spacing(),
        affine,
        nifti_header: Some(Box::new(header)),
    })
}

/// `[nx, ny, nz]` from `dim`, refusing 4-D and higher volumes. NIfTI-1 stores dims as signed
/// 16-bit numbers; a value above 32767 reads as negative, and the message gives both readings.
fn volume_dims(h: &NiftiHeader) -> Result<[usize; 3], String> {
    let rank = h.dim[0] as i16;
    if !(1..=7).contains(&rank) {
        return Err(format!("invalid dim[0] = {rank} (must be 1..7)"));
    }
    let rank = rank as usize;
    let dim = |a: usize| if a <= rank { h.dim[a] as i16 } else { 1 };
    if let Some(a) = (1..=rank).find(|&a| dim(a) <= 0) {
        let shown = if dim(a) < 0 {
            format!("{} (stored as {})", dim(a), h.dim[a])
        } else {
            "0".into()
        };
        return Err(format!(
            "invalid dim[{a}] = {shown}; NIfTI-1 dims are 1..=32767"
        ));
    }
    if dim(4) > 1 {
        return Err(format!(
            "4-D image (dim4 = {}); expected a 3-D volume",
            dim(4)
        ));
    }
    if let Some(a) = (5..=rank).find(|&a| dim(a) > 1) {
        return Err(format!(
            "{a}-D image (dim{a} = {}); expected a 3-D volume",
            dim(a)
        ));
    }
    Ok([dim(1) as usize, dim(2) as usize, dim(3) as usize])
}

/// Writes `vol` as `.nii.gz` (gzipped) or `.nii`, atomically. The geometry comes from
/// `vol.nifti_header` when it still describes this grid, else from `vol.affine`.
pub fn write_nifti<T: Voxel>(path: &Path, vol: &Volume<T>) -> Result<()> {
    let bad = |msg: String| Error::invalid(path, msg);
    if vol.data.len() != vol.len() {
        return Err(bad(format!(
            "{} voxels for dims {:?}",
            vol.data.len(),
            vol.dims
        )));
    }
    if let Some(&d) = vol.dims.iter().find(|&&d| d == 0 || d > i16::MAX as usize) {
        return Err(bad(format!(
            "dimension {d} cannot be stored in NIfTI-1 (1..=32767)"
        )));
    }
    let mut h = match vol.nifti_header.as_deref().filter(|h| describes(h, vol)) {
        Some(h) => h.clone(),
        None => header_from_affine(vol),
    };
    h.sizeof_hdr = 348;
    h.datatype = T::DATATYPE;
    h.bitpix = T::BITPIX;
    h.scl_slope = 1.0;
    h.scl_inter = 0.0;
    h.vox_offset = 352.0;
    h.magic = *nifti::header::MAGIC_CODE_NIP1;
    let finite = vol
        .data
        .iter()
        .map(|v| v.to_f64())
        .filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    (h.cal_min, h.cal_max) = if lo <= hi {
        (lo as f32, hi as f32)
    } else {
        (0.0, 0.0)
    };
    let head = header_bytes(&h);
    fsio::write_atomic_with(path, |w| {
        if is_gz(path) {
            let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::default());
            write_body(&mut gz, &head, &vol.data)?;
            gz.finish().map(|_| ())
        } else {
            write_body(w, &head, &vol.data)
        }
    })
}

/// True when `h` has this volume's dims and (within 1e-4 mm) its affine.
fn describes<T>(h: &NiftiHeader, vol: &Volume<T>) -> bool {
    volume_dims(h).is_ok_and(|d| d == vol.dims) && header_affine(h).max_abs_diff(&vol.affine) < 1e-4
}

/// Header, 4 zero extension bytes, then the voxels little-endian, in chunks.
fn write_body<T: Voxel>(w: &mut dyn Write, head: &[u8], data: &[T]) -> std::io::Result<()> {
    w.write_all(head)?;
    w.write_all(&[0; 4])?;
    let mut buf = Vec::with_capacity(1 << 16);
    for chunk in data.chunks(1 << 14) {
        buf.clear();
        chunk.iter().for_each(|v| v.put_le(&mut buf));
        w.write_all(&buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::geometry::*;
    use super::*;
    use crate::data::Affine;
    use crate::data::io::testdir::TestDir;
    use ::nifti::Endianness;

    /// Rotation 30° about z then 20° about x, spacing (0.6, 0.7, 3.0), with an offset.
    fn oblique() -> Affine {
        let (a, b) = (30f64.to_radians(), 20f64.to_radians());
        let rz = [
            [a.cos(), -a.sin(), 0.0],
            [a.sin(), a.cos(), 0.0],
            [0.0, 0.0, 1.0],
        ];
        let rx = [
            [1.0, 0.0, 0.0],
            [0.0, b.cos(), -b.sin()],
            [0.0, b.sin(), b.cos()],
        ];
        let sp = [0.6, 0.7, 3.0];
        let mut aff = Affine::identity();
        for r in 0..3 {
            for c in 0..3 {
                aff.0[r][c] = (0..3).map(|k| rx[r][k] * rz[k][c]).sum::<f64>() * sp[c];
            }
        }
        (aff.0[0][3], aff.0[1][3], aff.0[2][3]) = (-12.5, 30.25, -7.0);
        aff
    }

    fn volume<T: Copy + Default>(
        dims: [usize; 3],
        affine: Affine,
        f: impl Fn(usize) -> T,
    ) -> Volume<T> {
        let mut v = Volume::zeros(dims, affine.spacing(), affine);
        v.data = (0..v.len()).map(f).collect();
        v
    }

    fn qform_affine(h: &NiftiHeader) -> Affine {
        let mut q = h.clone();
        q.sform_code = 0;
        header_affine(&q)
    }

    /// A file made of `h`, the extension flag and `data`.
    fn craft(path: &Path, h: &NiftiHeader, data: &[u8]) {
        let mut bytes = header_bytes(h);
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(data);
        std::fs::write(path, bytes).unwrap();
    }

    fn base_header(datatype: i16, bitpix: i16, dims: [u16; 3]) -> NiftiHeader {
        let mut h = NiftiHeader::default();
        h.dim = [3, dims[0], dims[1], dims[2], 1, 1, 1, 1];
        (h.datatype, h.bitpix, h.magic) = (datatype, bitpix, *nifti::header::MAGIC_CODE_NIP1);
        h.endianness = Endianness::Little;
        h
    }

    #[test]
    fn round_trip_keeps_data_and_geometry() {
        let dir = TestDir::new("nifti-rt");
        let mut improper = oblique();
        (0..3).for_each(|r| improper.0[r][0] = -improper.0[r][0]);
        for affine in [
            oblique(),
            improper,
            Affine::from_spacing_origin([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]),
        ] {
            for name in ["f.nii", "f.nii.gz"] {
                let path = dir.path(name);
                let image = volume([5, 4, 3], affine, |i| i as f32 * 0.37 - 2.0);
                write_nifti(&path, &image).unwrap();
                let back = read_nifti(&path).unwrap();
                assert_eq!(back.data, image.data);
                assert_eq!(back.dims, image.dims);
                (0..3).for_each(|c| assert!((back.spacing[c] - image.spacing[c]).abs() < 1e-6));
                assert!(
                    back.affine.max_abs_diff(&affine) < 1e-5,
                    "{name}: {:?}",
                    back.affine
                );
                let h = back.nifti_header.as_deref().unwrap();
                assert_eq!(
                    (h.sform_code, h.qform_code, h.xyzt_units, h.datatype),
                    (1, 1, 2, 16)
                );
                assert!(
                    qform_affine(h).max_abs_diff(&affine) < 1e-5,
                    "qform agrees with sform"
                );
                assert_eq!((h.cal_min, h.cal_max), (-2.0, 59.0 * 0.37 - 2.0));

                let labels = volume([4, 3, 2], affine, |i| (i * 37 % 256) as u8);
                write_nifti(&path, &labels).unwrap();
                let back = read_nifti(&path).unwrap();
                assert_eq!(
                    back.data,
                    labels.data.iter().map(|&v| v as f32).collect::<Vec<_>>()
                );
                assert_eq!(back.nifti_header.unwrap().datatype, 2);
                assert!(back.affine.max_abs_diff(&affine) < 1e-5);
            }
        }
        assert_eq!(dir.files(), ["f.nii", "f.nii.gz"]);
        let plain = std::fs::read(dir.path("f.nii")).unwrap();
        assert_eq!(plain.len(), 352 + 24, "vox_offset 352 then u8 data");
    }

    #[test]
    fn quaternions_round_trip_rotations() {
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let rotations = [
            [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]], // 180° about x
            [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]], // 180° about y
            [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]], // 180° about z
            [[0.0, s, s], [0.0, s, -s], [-1.0, 0.0, 0.0]],
            [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], // improper (x flipped)
            [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],  // axes permuted
        ];
        for rot in rotations {
            let mut aff = Affine::from_spacing_origin([0.5, 0.75, 2.5], [1.0, -2.0, 3.0]);
            for r in 0..3 {
                (0..3).for_each(|c| aff.0[r][c] = rot[r][c] * [0.5, 0.75, 2.5][c]);
            }
            let h = header_from_affine(&volume::<u8>([2, 2, 2], aff, |_| 0));
            assert!(
                qform_affine(&h).max_abs_diff(&aff) < 1e-6,
                "{rot:?}: {:?}",
                qform_affine(&h)
            );
        }
    }

    #[test]
    fn reference_header_geometry_is_kept_exactly() {
        let dir = TestDir::new("nifti-ref");
        let mut h = base_header(4, 16, [5, 4, 3]);
        h.dim = [4, 5, 4, 3, 1, 1, 1, 1];
        h.pixdim = [-1.0, 0.8, 0.9, 2.5, 2.0, 0.0, 0.0, 0.0];
        (h.xyzt_units, h.dim_info, h.slice_code, h.slice_end) = (10, 0b110001, 1, 2);
        (h.qform_code, h.sform_code) = (1, 2);
        (h.quatern_b, h.quatern_c, h.quatern_d) = (0.1, -0.2, 0.3);
        (h.quatern_x, h.quatern_y, h.quatern_z) = (1.5, -2.5, 3.5);
        h.srow_x = [0.79, 0.05, 0.01, -100.25];
        h.srow_y = [-0.04, 0.88, 0.2, 20.5];
        h.srow_z = [0.0, -0.18, 2.45, 33.0];
        h.set_description_str("reference scan").unwrap();
        (h.scl_slope, h.scl_inter) = (2.0, 7.0);
        let affine = header_affine(&h);
        let mut image = volume([5, 4, 3], affine, |i| i as f32);
        image.nifti_header = Some(Box::new(h.clone()));
        let geometry = |g: &NiftiHeader| {
            let f = (
                g.dim,
                g.pixdim,
                g.xyzt_units,
                g.dim_info,
                g.slice_code,
                g.slice_end,
                g.qform_code,
            );
            let q = (
                g.sform_code,
                g.quatern_b,
                g.quatern_c,
                g.quatern_d,
                g.quatern_x,
                g.quatern_y,
            );
            format!(
                "{f:?}{q:?}{:?}{:?}",
                (g.quatern_z, g.srow_x, g.srow_y, g.srow_z),
                g.descrip
            )
        };
        let first = dir.path("img.nii.gz");
        write_nifti(&first, &image).unwrap();
        let back = read_nifti(&first).unwrap();
        let g = back.nifti_header.as_deref().unwrap();
        assert_eq!(geometry(g), geometry(&h));
        assert_eq!(
            (g.datatype, g.bitpix, g.scl_slope, g.scl_inter, g.vox_offset),
            (16, 32, 1.0, 0.0, 352.0)
        );
        assert_eq!(back.data, image.data, "no scaling applied twice");
        assert_eq!(back.affine, affine);

        // a label map on the read grid carries the same header again
        let mut labels: Volume<u8> = back.same_grid();
        labels
            .data
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = (i % 3) as u8);
        let second = dir.path("seg.nii");
        write_nifti(&second, &labels).unwrap();
        let g2 = read_nifti(&second).unwrap().nifti_header.unwrap();
        assert_eq!(geometry(&g2), geometry(&h));
        assert_eq!(
            (g2.datatype, g2.bitpix, g2.cal_min, g2.cal_max),
            (2, 8, 0.0, 2.0)
        );

        // a header that no longer describes the grid is replaced by one built from the affine
        let mut moved = image.clone();
        moved.affine.0[0][3] += 5.0;
        write_nifti(&first, &moved).unwrap();
        let g3 = read_nifti(&first).unwrap();
        assert_eq!(g3.nifti_header.unwrap().sform_code, 1);
        assert!(g3.affine.max_abs_diff(&moved.affine) < 1e-5);
    }

    #[test]
    fn scaled_int16_and_pixdim_only_geometry() {
        let dir = TestDir::new("nifti-i16");
        let mut h = base_header(4, 16, [3, 2, 1]);
        (h.scl_slope, h.scl_inter, h.sform_code, h.qform_code) = (0.5, -10.0, 0, 0);
        h.pixdim = [1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0];
        let raw: [i16; 6] = [-4, 0, 2, 100, i16::MAX, i16::MIN];
        let path = dir.path("s.nii");
        craft(
            &path,
            &h,
            &raw.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
        );
        let image = read_nifti(&path).unwrap();
        assert_eq!(
            image.data,
            raw.iter()
                .map(|&v| v as f32 * 0.5 - 10.0)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            image.affine,
            Affine::from_spacing_origin([2.0, 3.0, 4.0], [0.0; 3])
        );
        assert_eq!(image.spacing, [2.0, 3.0, 4.0]);

        h.scl_slope = 0.0; // zero slope: no scaling
        craft(
            &path,
            &h,
            &raw.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
        );
        assert_eq!(read_nifti(&path).unwrap().data, raw.map(|v| v as f32));
    }

    #[test]
    fn qform_only_geometry() {
        let dir = TestDir::new("nifti-qform");
        let mut h = base_header(2, 8, [2, 2, 2]);
        (h.sform_code, h.qform_code) = (0, 1);
        h.srow_x = [9.0; 4]; // ignored: sform_code 0
        h.quatern_d = std::f32::consts::FRAC_1_SQRT_2; // 90° about z
        (h.quatern_x, h.quatern_y, h.quatern_z) = (10.0, 20.0, 30.0);
        for qfac in [1.0, -1.0] {
            h.pixdim = [qfac, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0];
            let path = dir.path("q.nii");
            craft(&path, &h, &[0; 8]);
            let a = read_nifti(&path).unwrap().affine;
            let expect = [
                [0.0, -3.0, 0.0, 10.0],
                [2.0, 0.0, 0.0, 20.0],
                [0.0, 0.0, 4.0 * qfac as f64, 30.0],
            ];
            for r in 0..3 {
                (0..4).for_each(|c| assert!((a.0[r][c] - expect[r][c]).abs() < 1e-6, "{a:?}"));
            }
        }
    }

    #[test]
    fn bad_files_give_errors_naming_the_file() {
        let dir = TestDir::new("nifti-bad");
        let good = dir.path("good.nii");
        write_nifti(&good, &volume([4, 3, 2], oblique(), |i| i as f32)).unwrap();
        let bytes = std::fs::read(&good).unwrap();
        let patched = |name: &str, at: usize, with: &[u8]| {
            let mut b = bytes.clone();
            b[at..at + with.len()].copy_from_slice(with);
            std::fs::write(dir.path(name), b).unwrap();
        };
        patched("magic.nii", 344, b"abcd");
        let mut b = bytes.clone();
        b[40..42].copy_from_slice(&4u16.to_le_bytes());
        b[48..50].copy_from_slice(&2u16.to_le_bytes());
        std::fs::write(dir.path("fourd.nii"), b).unwrap();
        patched("complex.nii", 70, &32i16.to_le_bytes());
        patched("rgb.nii", 70, &128i16.to_le_bytes());
        std::fs::write(dir.path("short.nii"), &bytes[..bytes.len() - 10]).unwrap();
        std::fs::write(dir.path("tiny.nii"), &bytes[..100]).unwrap();
        std::fs::write(dir.path("empty.nii"), b"").unwrap();
        write_nifti(
            &dir.path("t.nii.gz"),
            &volume([30, 30, 30], oblique(), |i| (i % 97) as f32),
        )
        .unwrap();
        let gz = std::fs::read(dir.path("t.nii.gz")).unwrap();
        std::fs::write(dir.path("cut.nii.gz"), &gz[..gz.len() / 2]).unwrap();
        let cases = [
            ("magic.nii", "not a NIfTI-1 file"),
            ("fourd.nii", "4-D image (dim4 = 2); expected a 3-D volume"),
            ("complex.nii", "unsupported NIfTI datatype complex64"),
            ("rgb.nii", "unsupported NIfTI datatype RGB24"),
            ("short.nii", "truncated"),
            ("tiny.nii", "not a NIfTI-1 file"),
            ("empty.nii", "empty file"),
            ("cut.nii.gz", "gzip"),
            ("missing.nii", ""),
        ];
        let before = dir.files();
        for (name, expect) in cases {
            let err = read_nifti(&dir.path(name)).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
        }
        assert_eq!(dir.files(), before, "reading leaves no files behind");

        let mut wrong = volume([4, 3, 2], oblique(), |i| i as f32);
        wrong.data.pop();
        assert!(write_nifti(&dir.path("wrong.nii"), &wrong).is_err());
        assert!(!dir.path("wrong.nii").exists());
    }
}
