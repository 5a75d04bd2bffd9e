//! NRRD volumes (NRRD0001–NRRD0005): a small reader and writer, since no crate exists.
//!
//! Reads attached (`.nrrd`) and detached (`.nhdr` + data file) headers, `raw` and `gzip` encodings, every
//! integer and float type, either byte order, and the world geometry (`space`, `space directions`,
//! `space origin`, else `spacings`). NRRD stores the fastest axis first, which is our `i` axis. World
//! frames are converted to the RAS affine of [`Volume`]; a file without `space` is taken as LPS, as ITK
//! does. Writes `u8` / `f32` with full-precision geometry, so reading back gives the same affine.

use std::io::Write;
use std::path::{Path, PathBuf};

use nifti::Endianness;

use super::gzip;
use super::voxel::{Voxel, datatype_info, decode};
use crate::data::{Affine, Image, Volume};
use crate::error::{Error, Result};
use crate::util::{fsio, limits};

/// World frame of a written NRRD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NrrdSpace {
    /// `left-posterior-superior` (DICOM, ITK, Slicer).
    Lps,
    /// `right-anterior-superior` (NIfTI).
    Ras,
}

/// How [`write_nrrd`] stores a volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NrrdWriteOptions {
    /// gzip-compress the data.
    pub gzip: bool,
    /// World frame of `space directions` / `space origin`.
    pub space: NrrdSpace,
    /// Header only at `path`; data in `<stem>.raw` / `<stem>.raw.gz` beside it.
    pub detached: bool,
}

impl Default for NrrdWriteOptions {
    fn default() -> Self {
        NrrdWriteOptions {
            gzip: true,
            space: NrrdSpace::Lps,
            detached: false,
        }
    }
}

/// The fields of a header that this reader uses, validated.
struct Header {
    /// NIfTI datatype code of the voxel type (shares the decoder with `nifti_io`).
    datatype: i16,
    dims: [usize; 3],
    gzip: bool,
    endian: Endianness,
    affine: Affine,
    byte_skip: i64,
    line_skip: usize,
    data_file: Option<String>,
}

/// Reads a `.nrrd` or `.nhdr` volume as an `f32` image. Bounded by [`limits`]: the header's grid
/// is checked before anything is decoded, a detached data file must be a regular file, and no more
/// bytes are read or inflated than the header declares.
pub fn read_nrrd(path: &Path) -> Result<Image> {
    read_nrrd_bytes(path, &fsio::read(path)?)
}

/// [`read_nrrd`] on the bytes of the header file (`path` names it in messages and locates a
/// detached data file).
pub fn read_nrrd_bytes(path: &Path, bytes: &[u8]) -> Result<Image> {
    let bad = |msg: String| Error::invalid(path, msg);
    let (fields, data_start) = split_header(bytes).map_err(bad)?;
    let h = parse_fields(&fields).map_err(bad)?;
    limits::check_grid(path, &h.dims)?;
    let width = datatype_info(h.datatype).1;
    let need = h.dims.iter().product::<usize>() * width;
    if h.byte_skip == -1 && h.gzip {
        return Err(bad("byte skip -1 is only valid with raw encoding".into()));
    }
    let skip = h.byte_skip.max(0) as usize;
    limits::check_bytes(path, (skip + need) as u64)?;
    let (detached, detached_path);
    let (source, mut data): (&Path, &[u8]) = match &h.data_file {
        Some(name) => {
            detached_path = data_path(path, name).map_err(bad)?;
            // Raw data is the first lines, skip and voxels of the file: read no more than that.
            let max = if h.gzip || h.byte_skip == -1 {
                limits::max_file_bytes()
            } else {
                let lines = if h.line_skip > 0 { 1 << 20 } else { 0 };
                (skip + need + lines) as u64
            };
            detached = fsio::read_prefix(&detached_path, max)
                .map_err(|e| bad(format!("data file {e}")))?;
            (&detached_path, &detached)
        }
        None => (path, &bytes[data_start..]),
    };
    for _ in 0..h.line_skip {
        let nl = data
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("line skip past end of data".into()))?;
        data = &data[nl + 1..];
    }
    let inflated;
    if h.gzip {
        inflated = gzip::gunzip_at_most(source, data, (skip + need) as u64)?;
        data = &inflated;
    }
    let skip = match h.byte_skip {
        -1 => data.len().saturating_sub(need),
        _ => skip,
    };
    let raw = data.get(skip..skip.saturating_add(need)).ok_or_else(|| {
        bad(format!(
            "truncated: {need} data bytes expected after a {skip}-byte skip, found {}",
            data.len()
        ))
    })?;
    let data = decode(raw, h.datatype, h.endian).map_err(bad)?;
    Ok(Volume {
        data,
        dims: h.dims,
        spacing: h.affine.spacing(),
        affine: h.affine,
        nifti_header: None,
    })
}

/// The detached data file a NRRD header names, if any (for checks that outputs never write over an
/// input's files).
pub fn detached_data_file(path: &Path) -> Result<Option<PathBuf>> {
    let bytes = fsio::read(path)?;
    let bad = |msg: String| Error::invalid(path, msg);
    let (fields, _) = split_header(&bytes).map_err(bad)?;
    let h = parse_fields(&fields).map_err(bad)?;
    h.data_file
        .map(|name| data_path(path, &name).map_err(bad))
        .transpose()
}

/// Splits the header into `(field, value)` pairs (keys lower-case; comments and `key:=value` pairs
/// dropped) and returns the offset where attached data starts (after the blank line).
fn split_header(bytes: &[u8]) -> Result<(Vec<(String, String)>, usize), String> {
    if bytes.is_empty() {
        return Err("empty file".into());
    }
    let magic_ok =
        bytes.len() >= 8 && bytes.starts_with(b"NRRD000") && (b'1'..=b'5').contains(&bytes[7]);
    if !magic_ok {
        return Err("not a NRRD file (first line is not NRRD0001..NRRD0005)".into());
    }
    let mut fields = Vec::new();
    let mut pos = 0;
    let mut first = true;
    while pos < bytes.len() {
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |n| pos + n);
        let line = String::from_utf8_lossy(&bytes[pos..end]);
        let line = line.trim_end_matches('\r');
        pos = (end + 1).min(bytes.len());
        if std::mem::take(&mut first) || line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            return Ok((fields, pos));
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("malformed header line '{line}'"))?;
        if !value.starts_with('=') {
            fields.push((key.trim().to_lowercase(), value.trim().to_string()));
        }
    }
    Ok((fields, bytes.len()))
}

/// Validates the fields this reader needs and computes the RAS affine.
fn parse_fields(fields: &[(String, String)]) -> Result<Header, String> {
    let get = |names: &[&str]| {
        fields
            .iter()
            .rev()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
    };
    let need = |name: &str| get(&[name]).ok_or_else(|| format!("missing '{name}' field"));
    let dimension = need("dimension")?;
    if dimension.trim() != "3" {
        return Err(format!(
            "dimension {dimension} (expected a 3-D volume, dimension 3)"
        ));
    }
    let datatype = nrrd_type(need("type")?)?;
    let sizes = need("sizes")?;
    let parsed: Option<Vec<usize>> = sizes.split_whitespace().map(|t| t.parse().ok()).collect();
    let dims: [usize; 3] = parsed
        .and_then(|v| v.try_into().ok())
        .filter(|d: &[usize; 3]| d.iter().all(|&s| s >= 1))
        .filter(|d| {
            d.iter()
                .try_fold(8usize, |acc, &s| acc.checked_mul(s))
                .is_some()
        })
        .ok_or_else(|| format!("sizes '{sizes}' must be 3 positive integers of sane size"))?;
    let gzip = match need("encoding")?.to_lowercase().as_str() {
        "raw" => false,
        "gzip" | "gz" => true,
        other => {
            return Err(format!(
                "unsupported NRRD encoding '{other}' (supported: raw, gzip)"
            ));
        }
    };
    let endian = match get(&["endian"]).map(str::to_lowercase).as_deref() {
        None | Some("little") => Endianness::Little,
        Some("big") => Endianness::Big,
        Some(other) => return Err(format!("unknown endian '{other}'")),
    };
    let lps = match get(&["space"]).map(str::to_lowercase).as_deref() {
        None | Some("left-posterior-superior") | Some("lps") => true,
        Some("right-anterior-superior") | Some("ras") | Some("3d-right-handed") => false,
        Some(other) => {
            return Err(format!(
                "unsupported NRRD space '{other}' (supported: LPS, RAS)"
            ));
        }
    };
    if let Some(sd) = get(&["space dimension"]).filter(|s| s.trim() != "3") {
        return Err(format!("space dimension {sd} (expected 3)"));
    }
    let origin = match get(&["space origin"]) {
        Some(v) => vector(v).ok_or_else(|| format!("bad space origin '{v}'"))?,
        None => [0.0; 3],
    };
    let columns = match get(&["space directions"]) {
        Some(v) => directions(v)?,
        None => {
            // no world directions: axis-aligned grid with `spacings` (1 where absent or NaN)
            let sp = get(&["spacings"])
                .map(|v| numbers(v, "spacings"))
                .transpose()?
                .unwrap_or_default();
            let step = |c: usize| {
                sp.get(c)
                    .copied()
                    .filter(|s| s.is_finite() && *s != 0.0)
                    .unwrap_or(1.0)
            };
            std::array::from_fn(|c| std::array::from_fn(|r| if r == c { step(c) } else { 0.0 }))
        }
    };
    let affine = if lps {
        Affine::from_lps(columns, origin)
    } else {
        let mut a = Affine::identity();
        for r in 0..3 {
            (0..3).for_each(|c| a.0[r][c] = columns[c][r]);
            a.0[r][3] = origin[r];
        }
        a
    };
    if let Some(why) = affine.defect() {
        return Err(format!(
            "space directions {} {why}: the volume cannot be placed in space",
            get(&["space directions"]).unwrap_or("(from spacings)")
        ));
    }
    let byte_skip = match get(&["byte skip", "byteskip"]) {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|&s| s >= -1)
            .ok_or_else(|| format!("bad byte skip '{v}'"))?,
        None => 0,
    };
    let line_skip = match get(&["line skip", "lineskip"]) {
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| format!("bad line skip '{v}'"))?,
        None => 0,
    };
    let data_file = get(&["data file", "datafile"]).map(str::to_string);
    Ok(Header {
        datatype,
        dims,
        gzip,
        endian,
        affine,
        byte_skip,
        line_skip,
        data_file,
    })
}

/// NIfTI datatype code of an NRRD type name (all spellings of the specification).
fn nrrd_type(name: &str) -> Result<i16, String> {
    let words = name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    Ok(match words.as_str() {
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => 2,
        "signed char" | "int8" | "int8_t" => 256,
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => 4,
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => 512,
        "int" | "signed int" | "int32" | "int32_t" => 8,
        "uint" | "unsigned int" | "uint32" | "uint32_t" => 768,
        "longlong"
        | "long long"
        | "long long int"
        | "signed long long"
        | "signed long long int"
        | "int64"
        | "int64_t" => 1024,
        "ulonglong" | "unsigned long long" | "unsigned long long int" | "uint64" | "uint64_t" => {
            1280
        }
        "float" => 16,
        "double" => 64,
        _ => return Err(format!("unsupported NRRD type '{name}'")),
    })
}

/// Whitespace-separated numbers (`nan` allowed).
fn numbers(v: &str, what: &str) -> Result<Vec<f64>, String> {
    v.split_whitespace()
        .map(|t| t.parse::<f64>().map_err(|_| format!("bad {what} '{v}'")))
        .collect()
}

/// A `(x,y,z)` vector.
fn vector(v: &str) -> Option<[f64; 3]> {
    let inner = v.trim().strip_prefix('(')?.strip_suffix(')')?;
    let parts = inner
        .split(',')
        .map(|t| t.trim().parse::<f64>().ok())
        .collect::<Option<Vec<_>>>()?;
    parts
        .try_into()
        .ok()
        .filter(|p: &[f64; 3]| p.iter().all(|x| x.is_finite()))
}

/// The three `space directions` vectors (world step of each axis, in the file's frame).
fn directions(v: &str) -> Result<[[f64; 3]; 3], String> {
    let mut cols = Vec::new();
    let mut rest = v.trim();
    while !rest.is_empty() {
        if rest.starts_with("none") {
            return Err(format!(
                "space directions '{v}' has 'none' for a spatial axis"
            ));
        } else if rest.starts_with('(') {
            let end = rest
                .find(')')
                .ok_or_else(|| format!("bad space directions '{v}'"))?;
            cols.push(vector(&rest[..=end]).ok_or_else(|| format!("bad space directions '{v}'"))?);
            rest = rest[end + 1..].trim_start();
        } else {
            return Err(format!("bad space directions '{v}'"));
        }
    }
    cols.try_into()
        .map_err(|_| format!("space directions '{v}' must have 3 vectors"))
}

/// Data file named in a detached header, relative to the header's folder.
fn data_path(header: &Path, name: &str) -> Result<PathBuf, String> {
    if name == "LIST" || name.contains('%') && name.split_whitespace().count() > 1 {
        return Err(format!(
            "multi-file data ('data file: {name}') is not supported"
        ));
    }
    let p = Path::new(name);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        header.parent().unwrap_or(Path::new("")).join(p)
    })
}

/// The data file the writer puts beside a detached header: `<stem>.raw[.gz]`.
pub fn detached_data_path(header: &Path, gzip: bool) -> PathBuf {
    let name = header
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".nhdr")
        .or_else(|| name.strip_suffix(".nrrd"))
        .unwrap_or(&name);
    header.with_file_name(format!("{stem}.raw{}", if gzip { ".gz" } else { "" }))
}

/// Writes `vol` as NRRD0004 with `space`, `space directions` and `space origin` in full precision.
/// Attached: header and data in `path`. Detached: header in `path`, data in `<stem>.raw[.gz]` beside it.
pub fn write_nrrd<T: Voxel>(path: &Path, vol: &Volume<T>, opts: &NrrdWriteOptions) -> Result<()> {
    if vol.data.len() != vol.len() || vol.is_empty() {
        return Err(Error::invalid(
            path,
            format!("{} voxels for dims {:?}", vol.data.len(), vol.dims),
        ));
    }
    let flip = match opts.space {
        NrrdSpace::Lps => [-1.0, -1.0, 1.0],
        NrrdSpace::Ras => [1.0, 1.0, 1.0],
    };
    let fmt = |v: [f64; 3]| format!("({},{},{})", v[0] * flip[0], v[1] * flip[1], v[2] * flip[2]);
    let dirs = (0..3)
        .map(|c| fmt(vol.affine.column(c)))
        .collect::<Vec<_>>()
        .join(" ");
    let mut head = format!(
        "NRRD0004\n# Complete NRRD file format specification at:\n# http://teem.sourceforge.net/nrrd/format.html\n\
         type: {}\ndimension: 3\nspace: {}\nsizes: {} {} {}\nspace directions: {dirs}\n\
         kinds: domain domain domain\n",
        T::NRRD_TYPE,
        match opts.space {
            NrrdSpace::Lps => "left-posterior-superior",
            NrrdSpace::Ras => "right-anterior-superior",
        },
        vol.dims[0],
        vol.dims[1],
        vol.dims[2],
    );
    if size_of::<T>() > 1 {
        head += "endian: little\n";
    }
    head += &format!(
        "encoding: {}\nspace origin: {}\n",
        if opts.gzip { "gzip" } else { "raw" },
        fmt(vol.affine.origin())
    );
    if !opts.detached {
        head += "\n";
        return fsio::write_atomic_with(path, |w| {
            w.write_all(head.as_bytes())?;
            write_data(w, &vol.data, opts.gzip)
        });
    }
    let data_file = detached_data_path(path, opts.gzip);
    let data_name = data_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    head += &format!("data file: {data_name}\n\n");
    fsio::write_atomic_with(&data_file, |w| write_data(w, &vol.data, opts.gzip))?;
    fsio::write_atomic(path, head.as_bytes()).inspect_err(|_| {
        let _ = std::fs::remove_file(&data_file);
    })
}

/// The voxels little-endian, optionally gzipped, in chunks.
fn write_data<T: Voxel>(w: &mut dyn Write, data: &[T], gzip: bool) -> std::io::Result<()> {
    let put = |w: &mut dyn Write| -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(1 << 16);
        for chunk in data.chunks(1 << 14) {
            buf.clear();
            chunk.iter().for_each(|v| v.put_le(&mut buf));
            w.write_all(&buf)?;
        }
        Ok(())
    };
    if gzip {
        let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::default());
        put(&mut gz)?;
        gz.finish().map(|_| ())
    } else {
        put(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::io::testdir::TestDir;

    fn oblique() -> Affine {
        let mut a = Affine::from_lps(
            [[0.0, 0.7, 0.05], [0.69, 0.0, -0.1], [0.1, 0.02, 3.3]],
            [-81.3, 112.07, -40.125],
        );
        a.0[2][0] = 1.0 / 3.0; // a value with no short decimal form
        a
    }

    fn volume<T: Copy + Default>(dims: [usize; 3], f: impl Fn(usize) -> T) -> Volume<T> {
        let mut v = Volume::zeros(dims, oblique().spacing(), oblique());
        v.data = (0..v.len()).map(f).collect();
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn every_write_option_round_trips_exactly() {
        let image = volume([5, 4, 3], |i| i as f32 * 0.37 - 2.0);
        let labels = volume([5, 4, 3], |i| (i * 11 % 256) as u8);
        for gzip in [false, true] {
            for space in [NrrdSpace::Lps, NrrdSpace::Ras] {
                for detached in [false, true] {
                    let dir = TestDir::new("nrrd-rt");
                    let name = if detached { "v.nhdr" } else { "v.nrrd" };
                    let path = dir.path(name);
                    let opts = NrrdWriteOptions {
                        gzip,
                        space,
                        detached,
                    };
                    write_nrrd(&path, &image, &opts).unwrap();
                    let back = read_nrrd(&path).unwrap();
                    assert_eq!(back.data, image.data, "{opts:?}");
                    assert_eq!(back.dims, image.dims);
                    assert_eq!(back.affine, image.affine, "{opts:?}");
                    assert_eq!(back.spacing, image.affine.spacing());
                    let data_file = if gzip { "v.raw.gz" } else { "v.raw" };
                    let expect: Vec<&str> = if detached {
                        vec![name, data_file]
                    } else {
                        vec![name]
                    };
                    assert_eq!(dir.files(), expect);
                    write_nrrd(&path, &labels, &opts).unwrap();
                    let back = read_nrrd(&path).unwrap();
                    assert_eq!(
                        back.data,
                        labels.data.iter().map(|&v| v as f32).collect::<Vec<_>>()
                    );
                    assert_eq!(back.affine, labels.affine);
                }
            }
        }
    }

    #[test]
    fn detached_big_endian_short_with_skips() {
        let dir = TestDir::new("nrrd-be");
        let values: [i16; 12] = [-300, -1, 0, 1, 2, 3, 255, 256, 1000, i16::MAX, i16::MIN, 7];
        let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        std::fs::create_dir_all(dir.path("sub")).unwrap();
        let mut data = b"JUNK PREFIX\n".to_vec();
        data.extend_from_slice(&be);
        std::fs::write(dir.path("sub/be.dat"), &data).unwrap();
        let header = "NRRD0005\n# a comment\ntype: short int\ndimension: 3\nspace: right-anterior-superior\n\
            sizes: 3 2 2\nspace directions: (0,1.5,0) (-2,0,0) (0,0,3)\nspace origin: (10,-20,30)\n\
            endian: big\nencoding: raw\nbyte skip: -1\norigin:=ignored pair\ndatafile: sub/be.dat\n";
        std::fs::write(dir.path("be.nhdr"), header).unwrap();
        let image = read_nrrd(&dir.path("be.nhdr")).unwrap();
        assert_eq!(image.data, values.map(|v| v as f32));
        let expect = [
            [0.0, -2.0, 0.0, 10.0],
            [1.5, 0.0, 0.0, -20.0],
            [0.0, 0.0, 3.0, 30.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        assert_eq!(image.affine, Affine(expect));
        assert_eq!(image.spacing, [1.5, 2.0, 3.0]);

        // the same data by line skip instead of byte skip, in LPS
        let lps = header
            .replace("byte skip: -1", "line skip: 1")
            .replace("right-anterior-superior", "LPS");
        std::fs::write(dir.path("lps.nhdr"), lps).unwrap();
        let image = read_nrrd(&dir.path("lps.nhdr")).unwrap();
        assert_eq!(image.data, values.map(|v| v as f32));
        let expect = Affine::from_lps(
            [[0.0, 1.5, 0.0], [-2.0, 0.0, 0.0], [0.0, 0.0, 3.0]],
            [10.0, -20.0, 30.0],
        );
        assert_eq!(image.affine, expect);

        // attached gzip with a byte skip applied after decompression
        let mut body = vec![9u8, 9];
        body.extend_from_slice(&be);
        let mut file = header
            .replace("datafile: sub/be.dat\n", "")
            .replace("raw", "gzip");
        file = file.replace("byte skip: -1", "byte skip: 2") + "\n";
        let mut bytes = file.into_bytes();
        bytes.extend_from_slice(&gz(&body));
        std::fs::write(dir.path("att.nrrd"), bytes).unwrap();
        assert_eq!(
            read_nrrd(&dir.path("att.nrrd")).unwrap().data,
            values.map(|v| v as f32)
        );
    }

    #[test]
    fn spacings_fallback_and_right_handed_space() {
        let dir = TestDir::new("nrrd-sp");
        let mut bytes = b"NRRD0001\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nspacings: 0.5 0.5 2\nencoding: raw\n\n".to_vec();
        bytes.extend(0..8u8);
        std::fs::write(dir.path("sp.nrrd"), &bytes).unwrap();
        let image = read_nrrd(&dir.path("sp.nrrd")).unwrap();
        assert_eq!(
            image.affine,
            Affine::from_spacing_origin([-0.5, -0.5, 2.0], [0.0; 3]),
            "LPS when no space"
        );
        assert_eq!(image.spacing, [0.5, 0.5, 2.0]);
        assert_eq!(image.data, (0..8).map(|v| v as f32).collect::<Vec<_>>());

        let mut bytes = b"NRRD0004\r\ntype: double\r\ndimension: 3\r\nspace: 3D-right-handed\r\nsizes: 1 1 2\r\n\
            space directions: (2,0,0) (0,2,0) (0,0,2)\r\nendian: little\r\nencoding: raw\r\n\r\n"
            .to_vec();
        bytes.extend([1.5f64, -2.25].iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(dir.path("rh.nrrd"), &bytes).unwrap();
        let image = read_nrrd(&dir.path("rh.nrrd")).unwrap();
        assert_eq!(
            image.affine,
            Affine::from_spacing_origin([2.0; 3], [0.0; 3])
        );
        assert_eq!(image.data, [1.5, -2.25]);
    }

    #[test]
    fn bad_files_give_errors_naming_the_file() {
        let dir = TestDir::new("nrrd-bad");
        let good =
            "NRRD0004\ntype: float\ndimension: 3\nsizes: 2 2 1\nendian: little\nencoding: raw\n\n";
        let write = |name: &str, text: &str, data: &[u8]| {
            let mut bytes = text.as_bytes().to_vec();
            bytes.extend_from_slice(data);
            std::fs::write(dir.path(name), bytes).unwrap();
        };
        let sixteen = [0u8; 16];
        write("ok.nrrd", good, &sixteen);
        assert!(read_nrrd(&dir.path("ok.nrrd")).is_ok());
        write(
            "bzip.nrrd",
            &good.replace("encoding: raw", "encoding: bzip2"),
            &sixteen,
        );
        write(
            "fourd.nrrd",
            &good.replace("dimension: 3\nsizes: 2 2 1", "dimension: 4\nsizes: 2 2 1 1"),
            &sixteen,
        );
        write(
            "none.nrrd",
            &good.replace(
                "encoding",
                "space: LPS\nspace directions: (1,0,0) none (0,0,1)\nencoding",
            ),
            &sixteen,
        );
        write("short.nrrd", good, &sixteen[..10]);
        write("type.nrrd", &good.replace("float", "block"), &sixteen);
        let huge = "sizes: 9999999999999 9999999999999 9999999";
        write("huge.nrrd", &good.replace("sizes: 2 2 1", huge), &sixteen);
        write(
            "space.nrrd",
            &good.replace("encoding", "space: scanner-xyz\nencoding"),
            &sixteen,
        );
        write("gzbad.nrrd", &good.replace("raw", "gzip"), &sixteen);
        write("magic.nrrd", "NRRX0004\n", &[]);
        write("empty.nrrd", "", &[]);
        write(
            "nodata.nhdr",
            &good.replace("encoding: raw\n", "encoding: raw\ndata file: gone.raw\n"),
            &[],
        );
        let cases = [
            ("bzip.nrrd", "unsupported NRRD encoding 'bzip2'"),
            ("fourd.nrrd", "dimension 4"),
            ("none.nrrd", "'none'"),
            ("short.nrrd", "truncated"),
            ("type.nrrd", "unsupported NRRD type 'block'"),
            ("huge.nrrd", "sizes"),
            ("space.nrrd", "scanner-xyz"),
            ("gzbad.nrrd", "gzip"),
            ("magic.nrrd", "not a NRRD file"),
            ("empty.nrrd", "empty file"),
            ("nodata.nhdr", "gone.raw"),
            ("missing.nrrd", ""),
        ];
        let before = dir.files();
        for (name, expect) in cases {
            let err = read_nrrd(&dir.path(name)).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
        }
        assert_eq!(dir.files(), before, "reading leaves no files behind");
        let mut wrong = volume([2, 2, 2], |_| 0.0f32);
        wrong.data.pop();
        assert!(
            write_nrrd(
                &dir.path("w.nhdr"),
                &wrong,
                &NrrdWriteOptions {
                    detached: true,
                    ..Default::default()
                }
            )
            .is_err()
        );
        assert_eq!(dir.files(), before, "a failed write leaves no file");
    }
}
