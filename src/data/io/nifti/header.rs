//! Writing a NIfTI-1 header: a fresh one from a volume's affine, and its 348 bytes (little-endian;
//! the `nifti` crate reads headers but does not write them without its `ndarray` feature).

use ::nifti::{Endianness, NiftiHeader};

use super::geometry::affine_to_quatern;
use crate::data::Volume;

/// A fresh header for `vol`: scanner sform and qform from the affine, pixdim from spacing, mm.
pub(super) fn header_from_affine<T>(vol: &Volume<T>) -> NiftiHeader {
    let mut h = NiftiHeader::default();
    h.dim = [
        3,
        vol.dims[0] as u16,
        vol.dims[1] as u16,
        vol.dims[2] as u16,
        1,
        1,
        1,
        1,
    ];
    let (quat, qfac) = affine_to_quatern(&vol.affine);
    h.pixdim = [qfac as f32, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
    for c in 0..3 {
        h.pixdim[c + 1] = vol.spacing[c] as f32;
    }
    h.xyzt_units = 2; // NIFTI_UNITS_MM
    h.qform_code = 1;
    h.sform_code = 1;
    [h.quatern_b, h.quatern_c, h.quatern_d] = quat.map(|q| q as f32);
    let o = vol.affine.origin();
    [h.quatern_x, h.quatern_y, h.quatern_z] = o.map(|v| v as f32);
    let row = |r: usize| std::array::from_fn(|c| vol.affine.0[r][c] as f32);
    (h.srow_x, h.srow_y, h.srow_z) = (row(0), row(1), row(2));
    let _ = h.set_description_str("unet3d");
    h.endianness = Endianness::Little;
    h
}

/// The 348-byte little-endian NIfTI-1 header.
pub(super) fn header_bytes(h: &NiftiHeader) -> Vec<u8> {
    let mut b = Vec::with_capacity(348);
    let f32s =
        |b: &mut Vec<u8>, v: &[f32]| v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
    let fixed = |b: &mut Vec<u8>, v: &[u8], n: usize| {
        b.extend((0..n).map(|i| v.get(i).copied().unwrap_or(0)));
    };
    b.extend_from_slice(&h.sizeof_hdr.to_le_bytes());
    fixed(&mut b, &h.data_type, 10);
    fixed(&mut b, &h.db_name, 18);
    b.extend_from_slice(&h.extents.to_le_bytes());
    b.extend_from_slice(&h.session_error.to_le_bytes());
    b.extend_from_slice(&[h.regular, h.dim_info]);
    h.dim
        .iter()
        .for_each(|d| b.extend_from_slice(&d.to_le_bytes()));
    f32s(&mut b, &[h.intent_p1, h.intent_p2, h.intent_p3]);
    for v in [h.intent_code, h.datatype, h.bitpix, h.slice_start] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    f32s(&mut b, &h.pixdim);
    f32s(&mut b, &[h.vox_offset, h.scl_slope, h.scl_inter]);
    b.extend_from_slice(&h.slice_end.to_le_bytes());
    b.extend_from_slice(&[h.slice_code, h.xyzt_units]);
    f32s(&mut b, &[h.cal_max, h.cal_min, h.slice_duration, h.toffset]);
    b.extend_from_slice(&h.glmax.to_le_bytes());
    b.extend_from_slice(&h.glmin.to_le_bytes());
    fixed(&mut b, &h.descrip, 80);
    fixed(&mut b, &h.aux_file, 24);
    b.extend_from_slice(&h.qform_code.to_le_bytes());
    b.extend_from_slice(&h.sform_code.to_le_bytes());
    f32s(
        &mut b,
        &[
            h.quatern_b,
            h.quatern_c,
            h.quatern_d,
            h.quatern_x,
            h.quatern_y,
            h.quatern_z,
        ],
    );
    f32s(&mut b, &h.srow_x);
    f32s(&mut b, &h.srow_y);
    f32s(&mut b, &h.srow_z);
    fixed(&mut b, &h.intent_name, 16);
    fixed(&mut b, &h.magic, 4);
    debug_assert_eq!(b.len(), 348);
    b
}
