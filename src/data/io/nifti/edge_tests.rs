//! Legal but unusual headers and hostile values: spatial units, a sform that disagrees with
//! pixdim, no geometry at all, singular matrices, dims beyond the signed 16-bit range, float64
//! values beyond float32.

use ::nifti::{Endianness, NiftiHeader};

use super::geometry::header_geometry;
use super::header::header_bytes;
use super::read_nifti;

fn header(dims: [u16; 3]) -> NiftiHeader {
    let mut h = NiftiHeader::default();
    h.dim = [3, dims[0], dims[1], dims[2], 1, 1, 1, 1];
    (h.datatype, h.bitpix, h.magic) = (16, 32, *nifti::header::MAGIC_CODE_NIP1);
    h.vox_offset = 352.0;
    h.endianness = Endianness::Little;
    (h.sform_code, h.qform_code) = (0, 0);
    (h.quatern_b, h.quatern_c, h.quatern_d) = (0.0, 0.0, 0.0);
    h.srow_x = [0.0; 4];
    h.srow_y = [0.0; 4];
    h.srow_z = [0.0; 4];
    h
}

fn write(dir: &std::path::Path, name: &str, h: &NiftiHeader, data: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut bytes = header_bytes(h);
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(data);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn spatial_units_are_converted_to_millimetres() {
    let mut h = header([2, 2, 2]);
    h.pixdim = [1.0, 500.0, 500.0, 3000.0, 0.0, 0.0, 0.0, 0.0];
    h.xyzt_units = 3; // micron
    let (a, _) = header_geometry(&h);
    assert_eq!(a.spacing(), [0.5, 0.5, 3.0]);
    h.pixdim = [1.0, 0.0005, 0.0005, 0.003, 0.0, 0.0, 0.0, 0.0];
    h.xyzt_units = 1 | 8; // metre (and seconds, which must not matter)
    let (a, _) = header_geometry(&h);
    assert!((a.spacing()[2] - 3.0).abs() < 1e-6, "{:?}", a.spacing());
    h.pixdim = [1.0, 0.5, 0.5, 3.0, 0.0, 0.0, 0.0, 0.0];
    h.xyzt_units = 0; // unknown: millimetres, as nibabel and ITK read it
    assert_eq!(header_geometry(&h).0.spacing(), [0.5, 0.5, 3.0]);
}

#[test]
fn fallbacks_are_taken_in_order_and_said() {
    let mut h = header([2, 2, 2]);
    h.pixdim = [1.0, 0.5, 0.5, 3.0, 0.0, 0.0, 0.0, 0.0];
    h.sform_code = 1; // all-zero sform
    h.qform_code = 1; // identity quaternion with pixdim
    let (a, warnings) = header_geometry(&h);
    assert_eq!(a.spacing(), [0.5, 0.5, 3.0]);
    assert!(
        warnings[0].contains("sform") && warnings[0].contains("qform"),
        "{warnings:?}"
    );
    h.quatern_b = f32::NAN;
    let (a, warnings) = header_geometry(&h);
    assert_eq!(a.spacing(), [0.5, 0.5, 3.0]);
    assert!(
        warnings.iter().any(|w| w.contains("using the pixdim")),
        "{warnings:?}"
    );
    // No geometry at all: 1 mm, with a warning rather than silently.
    let mut h = header([2, 2, 2]);
    h.pixdim = [0.0; 8];
    let (a, warnings) = header_geometry(&h);
    assert_eq!(a.spacing(), [1.0, 1.0, 1.0]);
    assert!(warnings.iter().any(|w| w.contains("1 mm")), "{warnings:?}");
}

#[test]
fn the_spacing_is_the_sforms_even_where_pixdim_disagrees() {
    let tmp = tempfile::tempdir().unwrap();
    let mut h = header([2, 2, 2]);
    h.pixdim = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
    h.sform_code = 1;
    h.srow_x = [2.0, 0.0, 0.0, 0.0];
    h.srow_y = [0.0, 2.0, 0.0, 0.0];
    h.srow_z = [0.0, 0.0, 4.0, 0.0];
    let path = write(tmp.path(), "s.nii", &h, &[0; 32]);
    assert_eq!(read_nifti(&path).unwrap().spacing, [2.0, 2.0, 4.0]);
}

#[test]
fn dims_and_values_beyond_their_ranges_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "d.nii", &header([65535, 2, 2]), &[0; 64]);
    let err = read_nifti(&path).unwrap_err().to_string();
    assert!(
        err.contains("-1 (stored as 65535)") && err.contains("32767"),
        "{err}"
    );
    let mut h = header([2, 1, 1]);
    (h.datatype, h.bitpix) = (64, 64);
    let data: Vec<u8> = [1.5f64, 1e300]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let path = write(tmp.path(), "f.nii", &h, &data);
    let err = read_nifti(&path).unwrap_err().to_string();
    assert!(
        err.contains("1e300") && err.contains("float32 range"),
        "{err}"
    );
}
