//! numpy's `.npy` format (version 1.0, C order), for probability maps: nnU-Net saves its
//! probabilities as numpy arrays, so unet3d's can be compared with them directly.

use std::path::Path;

use crate::error::{Error, Result};
use crate::util::{fsio, limits};

/// Writes `data` as a little-endian float32 array of `shape` (C order), atomically.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let n: usize = shape.iter().product();
    if n != data.len() {
        return Err(Error::config(format!(
            "{}: shape {shape:?} needs {n} values, got {}",
            path.display(),
            data.len()
        )));
    }
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + 4 * n);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    fsio::write_atomic(path, &bytes)
}

/// Reads a C-order `<f4` or `<f2` array as float32 with its shape.
pub fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = fsio::read_at_most(path, limits::max_file_bytes())?;
    let bad = |msg: String| Error::invalid(path, msg);
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file (no \\x93NUMPY magic)".into()));
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(format!(".npy version {v} is not supported"))),
    };
    let header = bytes
        .get(start..start.saturating_add(len))
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad(format!("header of {len} bytes runs past the file")))?;
    let field = |key: &str| {
        let at = header.find(&format!("'{key}':"))? + key.len() + 3;
        Some(header[at..].trim_start())
    };
    let descr = field("descr")
        .and_then(|d| d.split('\'').nth(1))
        .unwrap_or("");
    let width = match descr {
        "<f4" => 4,
        "<f2" => 2,
        other => {
            return Err(bad(format!(
                "dtype {other:?} is not supported (<f4, <f2 are)"
            )));
        }
    };
    if field("fortran_order").is_some_and(|f| f.starts_with("True")) {
        return Err(bad("Fortran-order arrays are not supported".into()));
    }
    let shape_text = field("shape")
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("header has no shape".into()))?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(format!("shape entry {s:?} is not a size")))
        })
        .collect::<Result<_>>()?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    let data = &bytes[start + len..];
    if data.len() != n * width {
        return Err(bad(format!(
            "shape {shape:?} needs {} data bytes, the file has {}",
            n * width,
            data.len()
        )));
    }
    let values = match width {
        4 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        _ => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
    };
    Ok((shape, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.npy");
        let data: Vec<f32> = (0..24).map(|v| v as f32 * 0.5).collect();
        write_npy_f32(&path, &[2, 3, 4], &data).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!((bytes.len() - 24 * 4) % 64, 0, "header padded to 64 bytes");
        assert_eq!(read_npy_f32(&path).unwrap(), (vec![2, 3, 4], data));
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let err = read_npy_f32(&path).unwrap_err().to_string();
        assert!(err.contains("p.npy") && err.contains("data bytes"), "{err}");
    }
}
