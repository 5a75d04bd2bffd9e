//! File access that a hostile path cannot turn into harm: atomic output (a temporary file beside the
//! target, then a rename, so a crash or an error never leaves a partial file), a guard that refuses
//! any output that would write over an input, and reads of regular files only (never a pipe or a
//! device that blocks or never ends), bounded in size.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically (temp file in the same folder, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Calls `fill` with a writer on a temporary file beside `path`, then renames it onto `path`.
/// On any error the temporary file is removed and `path` is untouched.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let tmp = temp_path(path);
    let result = (|| {
        let file = fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// The file `path` names, with links and `..` resolved, whether or not it exists yet (a new
/// file's folder is resolved, its name appended).
pub fn resolve(path: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(path) {
        return p;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => resolve(parent).join(name),
        _ => absolute,
    }
}

/// Errors when any of `outputs` would write over any of `inputs`: paths are compared after
/// resolving links and `..`, and files that exist also by device and inode (hard links).
pub fn refuse_overwrite(outputs: &[PathBuf], inputs: &[PathBuf]) -> Result<()> {
    let inputs: Vec<(PathBuf, Option<(u64, u64)>)> =
        inputs.iter().map(|p| (resolve(p), file_id(p))).collect();
    for out in outputs {
        let (resolved, id) = (resolve(out), file_id(out));
        if let Some((input, _)) = inputs
            .iter()
            .find(|(p, i)| *p == resolved || (id.is_some() && *i == id))
        {
            return Err(Error::invalid(
                out,
                format!(
                    "would write over {}, which the input reads; choose another output",
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Device and inode of an existing file.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The name of the temporary file [`write_atomic`] writes beside `path` (for overwrite checks).
pub fn temp_file_for(path: &Path) -> PathBuf {
    temp_path(path)
}

/// Opens `path` for reading if it is a regular file (after following links): a named pipe, a
/// device or a folder is an error, never a read that blocks or never ends.
pub fn open_regular(path: &Path) -> Result<fs::File> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::invalid(
            path,
            format!("is not a regular file ({})", file_kind(&meta)),
        ));
    }
    fs::File::open(path).map_err(|e| Error::io(path, e))
}

/// Whether `path` is a regular file (after following links).
pub fn is_regular(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file())
}

fn file_kind(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a named pipe";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() { "a folder" } else { "not a file" }
}

/// Reads a regular file of at most `max` bytes; a larger one is an error naming the size and the
/// limit (the size is checked again while reading, for files that grow or report no size).
pub fn read_at_most(path: &Path, max: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = open_regular(path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    limit_error(path, size, max)?;
    let mut out = Vec::with_capacity(size as usize);
    file.take(max.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, e))?;
    limit_error(path, out.len() as u64, max)?;
    Ok(out)
}

/// Reads the first `max` bytes of a regular file (all of it when shorter): for data whose length
/// a header declares, so a larger file is never read further than needed.
pub fn read_prefix(path: &Path, max: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = open_regular(path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut out = Vec::with_capacity(size.min(max) as usize);
    file.take(max)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, e))?;
    Ok(out)
}

fn limit_error(path: &Path, size: u64, max: u64) -> Result<()> {
    if size > max {
        return Err(Error::invalid(
            path,
            format!(
                "is {size} bytes, above the limit of {max}; set {} or --max-voxels to raise it",
                crate::util::limits::MAX_VOXELS_ENV
            ),
        ));
    }
    Ok(())
}

/// Checks that a file can be created at `path`: its nearest existing folder accepts a new file
/// (tried with a temporary file, removed at once), so an unwritable output is found before the
/// work that produces it.
pub fn check_writable_folder(path: &Path) -> Result<()> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut folder = absolute.parent();
    while let Some(f) = folder.filter(|f| !f.exists()) {
        folder = f.parent();
    }
    let folder = folder.unwrap_or(Path::new("/"));
    if !folder.is_dir() {
        return Err(Error::invalid(
            path,
            format!("{} is not a folder", folder.display()),
        ));
    }
    let probe = folder.join(format!(".unet3d-write-test-{}", std::process::id()));
    match fs::File::create(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(Error::invalid(
            path,
            format!("cannot write in {} ({e})", folder.display()),
        )),
    }
}

/// Creates a folder (and parents), with the path in the error.
pub fn create_dir(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io(path, e))
}

/// Reads a whole regular file of at most the size limit ([`limits::max_file_bytes`]), with the
/// path in the error.
///
/// [`limits::max_file_bytes`]: crate::util::limits::max_file_bytes
pub fn read(path: &Path) -> Result<Vec<u8>> {
    read_at_most(path, crate::util::limits::max_file_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_no_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let target = dir.join("out.bin");
        let err = write_atomic_with(&target, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert!(!target.exists());
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            0,
            "temp file left behind"
        );
        write_atomic(&target, b"ok").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"ok");
        assert!(refuse_overwrite(&[target.clone()], &[target.clone()]).is_err());
    }
}
