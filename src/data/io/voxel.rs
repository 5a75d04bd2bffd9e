//! Voxel types: the one trait the NIfTI and NRRD writers store (`u8` label maps, `f32` images), and
//! the decoding of every scalar datatype the readers accept to `f32`, by NIfTI datatype code (the
//! NRRD reader maps its type names to the same codes).

use nifti::Endianness;

/// A voxel type the writers can store.
pub trait Voxel: Copy + Default {
    /// NIfTI `datatype` code.
    const DATATYPE: i16;
    /// Bits per voxel.
    const BITPIX: i16;
    /// NRRD `type` name.
    const NRRD_TYPE: &'static str;
    /// Appends the little-endian bytes of `self`.
    fn put_le(self, out: &mut Vec<u8>);
    /// The value as a number (for `cal_min` / `cal_max`).
    fn to_f64(self) -> f64;
}

impl Voxel for u8 {
    const DATATYPE: i16 = 2;
    const BITPIX: i16 = 8;
    const NRRD_TYPE: &'static str = "uint8";
    fn put_le(self, out: &mut Vec<u8>) {
        out.push(self);
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Voxel for f32 {
    const DATATYPE: i16 = 16;
    const BITPIX: i16 = 32;
    const NRRD_TYPE: &'static str = "float";
    fn put_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// Name and byte width of a datatype code; width 0 when not a supported scalar type.
pub fn datatype_info(code: i16) -> (&'static str, usize) {
    match code {
        2 => ("uint8", 1),
        256 => ("int8", 1),
        4 => ("int16", 2),
        512 => ("uint16", 2),
        8 => ("int32", 4),
        768 => ("uint32", 4),
        16 => ("float32", 4),
        64 => ("float64", 8),
        1024 => ("int64", 8),
        1280 => ("uint64", 8),
        1 => ("binary", 0),
        32 => ("complex64", 0),
        128 => ("RGB24", 0),
        1536 => ("float128", 0),
        1792 => ("complex128", 0),
        2048 => ("complex256", 0),
        2304 => ("RGBA32", 0),
        _ => ("unknown", 0),
    }
}

/// Decodes raw voxels of a supported datatype (see `datatype_info`) to `f32`. A finite float64
/// beyond the float32 range is an error naming the value and its position, not an infinity.
pub fn decode(raw: &[u8], code: i16, endian: Endianness) -> Result<Vec<f32>, String> {
    macro_rules! conv {
        ($t:ty) => {
            raw.chunks_exact(size_of::<$t>())
                .map(|c| {
                    let b = c.try_into().unwrap();
                    let v = match endian {
                        Endianness::Little => <$t>::from_le_bytes(b),
                        Endianness::Big => <$t>::from_be_bytes(b),
                    };
                    v as f32
                })
                .collect()
        };
    }
    Ok(match code {
        2 => conv!(u8),
        256 => conv!(i8),
        4 => conv!(i16),
        512 => conv!(u16),
        8 => conv!(i32),
        768 => conv!(u32),
        16 => conv!(f32),
        64 => {
            let mut out = Vec::with_capacity(raw.len() / 8);
            for (n, c) in raw.chunks_exact(8).enumerate() {
                let b = c.try_into().unwrap();
                let v = match endian {
                    Endianness::Little => f64::from_le_bytes(b),
                    Endianness::Big => f64::from_be_bytes(b),
                };
                if v.is_finite() && v.abs() > f32::MAX as f64 {
                    return Err(format!(
                        "voxel {n} is {v:e}, beyond the float32 range (±{:e}) images are kept in",
                        f32::MAX
                    ));
                }
                out.push(v as f32);
            }
            out
        }
        1024 => conv!(i64),
        1280 => conv!(u64),
        other => return Err(format!("datatype code {other} cannot be decoded")),
    })
}
