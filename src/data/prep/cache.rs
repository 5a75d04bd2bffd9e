//! Disk cache of preprocessed cases: `<cache_dir>/<id>.json` (header with the fingerprint) + `<id>-<fingerprint>.bin` (raw
//! little-endian image f32, label u8, class locations u32). The bin is written first and named by its
//! fingerprint, the header last, both atomically, so a crash never pairs a header with the wrong data.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::preprocess::{PreprocessConfig, Preprocessed, preprocess_case};
use crate::data::Affine;
use crate::data::dataset::{Case, Dataset};
use crate::error::{Error, Result};
use crate::util::fsio;

/// Bumped whenever the preprocessing or the cache layout changes, so old caches are recomputed.
const CACHE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct CacheHeader {
    version: u32,
    fingerprint: String,
    bin: String,
    id: String,
    dims: [usize; 3],
    spacing: [f64; 3],
    crop: ([usize; 3], [usize; 3]),
    original_dims: [usize; 3],
    original_affine: Affine,
    original_spacing: [f64; 3],
    /// Number of stored indices per label value.
    class_counts: Vec<usize>,
}

/// Loads the preprocessed cases `ids` from `cache_dir`, preprocessing (and caching) every case whose
/// fingerprint (config, target spacing, size + mtime of its image and label files) changed. Cases are
/// processed in parallel; the result is in `ids` order.
pub fn load_or_preprocess(
    dataset: &Dataset,
    ids: &[String],
    cfg: &PreprocessConfig,
    target_spacing: [f64; 3],
    cache_dir: &Path,
) -> Result<Vec<Preprocessed>> {
    cached_preprocess(
        ids,
        |id| vec![dataset.image_path(id), dataset.label_path(id)],
        |id| dataset.load_case(id),
        cfg,
        target_spacing,
        cache_dir,
    )
}

/// [`load_or_preprocess`] with the case source abstracted (the files that fingerprint a case, and how to
/// load it), so the cache logic is testable without image files.
fn cached_preprocess(
    ids: &[String],
    sources: impl Fn(&str) -> Vec<PathBuf> + Sync,
    load: impl Fn(&str) -> Result<Case> + Sync,
    cfg: &PreprocessConfig,
    target: [f64; 3],
    cache_dir: &Path,
) -> Result<Vec<Preprocessed>> {
    fsio::create_dir(cache_dir)?;
    let one = |id: &str| -> Result<Preprocessed> {
        let fp = fingerprint(id, &sources(id), cfg, target)?;
        if let Some(hit) = read_cached(cache_dir, id, &fp) {
            return Ok(hit);
        }
        let p = preprocess_case(&load(id)?, cfg, target)?;
        write_cached(cache_dir, &p, &fp)?;
        log::info!(
            "preprocessed {id}: {:?} voxels at {:.3?} mm",
            p.dims,
            p.spacing
        );
        Ok(p)
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Preprocessed>>>> =
        Mutex::new((0..ids.len()).map(|_| None).collect());
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(ids.len())
        .max(1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= ids.len() {
                        break;
                    }
                    let r = one(&ids[n]);
                    results.lock().unwrap_or_else(|e| e.into_inner())[n] = Some(r);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results
        .into_iter()
        .map(|r| r.expect("every case was processed"))
        .collect()
}

/// Hex FNV-1a-64 over the cache version, config, target spacing, case id, and each source file's size and
/// modification time (a hash that is stable across Rust versions, unlike `DefaultHasher`).
fn fingerprint(
    id: &str,
    sources: &[PathBuf],
    cfg: &PreprocessConfig,
    target: [f64; 3],
) -> Result<String> {
    let cfg_json = serde_json::to_string(cfg).expect("config serialises");
    let mut text = format!(
        "v{CACHE_VERSION}|{cfg_json}|{:?}|{id}",
        target.map(f64::to_bits)
    );
    for path in sources {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        text.push_str(&format!("|{}|{mtime}", meta.len()));
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    Ok(format!("{h:016x}"))
}

/// The cached case when its header matches `fp` and its data file has the expected size; `None` on any
/// mismatch or read problem (the case is then recomputed).
fn read_cached(dir: &Path, id: &str, fp: &str) -> Option<Preprocessed> {
    let header: CacheHeader =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{id}.json"))).ok()?).ok()?;
    if header.version != CACHE_VERSION || header.fingerprint != fp || header.id != id {
        return None;
    }
    let bytes = std::fs::read(dir.join(&header.bin)).ok()?;
    let n = header.dims.iter().product::<usize>();
    let n_loc: usize = header.class_counts.iter().sum();
    if bytes.len() != n * 5 + n_loc * 4 {
        return None;
    }
    let image = bytes[..4 * n]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let label = bytes[4 * n..5 * n].to_vec();
    let mut locs = bytes[5 * n..]
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    let class_locations = header
        .class_counts
        .iter()
        .map(|&c| locs.by_ref().take(c).collect())
        .collect();
    Some(Preprocessed {
        id: header.id,
        image,
        label,
        dims: header.dims,
        spacing: header.spacing,
        crop: header.crop,
        original_dims: header.original_dims,
        original_affine: header.original_affine,
        original_spacing: header.original_spacing,
        class_locations,
    })
}

fn write_cached(dir: &Path, p: &Preprocessed, fp: &str) -> Result<()> {
    let bin = format!("{}-{fp}.bin", p.id);
    fsio::write_atomic_with(&dir.join(&bin), |w| {
        for chunk in p.image.chunks(1 << 16) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|x| x.to_le_bytes()).collect();
            w.write_all(&bytes)?;
        }
        w.write_all(&p.label)?;
        for locs in &p.class_locations {
            let bytes: Vec<u8> = locs.iter().flat_map(|x| x.to_le_bytes()).collect();
            w.write_all(&bytes)?;
        }
        Ok(())
    })?;
    let header_path = dir.join(format!("{}.json", p.id));
    let old_bin = std::fs::read(&header_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<CacheHeader>(&b).ok())
        .map(|h| h.bin)
        .filter(|b| *b != bin);
    let header = CacheHeader {
        version: CACHE_VERSION,
        fingerprint: fp.to_string(),
        bin,
        id: p.id.clone(),
        dims: p.dims,
        spacing: p.spacing,
        crop: p.crop,
        original_dims: p.original_dims,
        original_affine: p.original_affine,
        original_spacing: p.original_spacing,
        class_counts: p.class_locations.iter().map(Vec::len).collect(),
    };
    let json = serde_json::to_vec_pretty(&header).expect("header serialises");
    fsio::write_atomic(&header_path, &json)?;
    if let Some(old) = old_bin {
        let _ = std::fs::remove_file(dir.join(old)); // stale data of an older fingerprint
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::prep::preprocess::tests::case;

    #[test]
    fn cache_hits_return_identical_data_and_changes_miss() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let src = dir.join("src");
        std::fs::create_dir_all(&src).unwrap();
        for id in ["a", "b"] {
            std::fs::write(src.join(id), b"v1").unwrap();
        }
        let ids = vec!["a".to_string(), "b".to_string()];
        let loads = AtomicUsize::new(0);
        let run = |cfg: &PreprocessConfig| {
            cached_preprocess(
                &ids,
                |id| vec![src.join(id)],
                |id| {
                    loads.fetch_add(1, Ordering::SeqCst);
                    Ok(case(id))
                },
                cfg,
                [0.5, 0.5, 3.0],
                &dir.join("cache"),
            )
            .unwrap()
        };
        let cfg = PreprocessConfig::default();
        let first = run(&cfg);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        assert_eq!(first[1].id, "b");
        let again = run(&cfg);
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "second run must hit the cache"
        );
        assert_eq!(again, first);
        run(&PreprocessConfig {
            body_threshold: 0.1,
            ..cfg.clone()
        });
        assert_eq!(
            loads.load(Ordering::SeqCst),
            4,
            "a changed config must miss"
        );
        std::fs::write(src.join("b"), b"version 2").unwrap();
        run(&PreprocessConfig {
            body_threshold: 0.1,
            ..cfg.clone()
        });
        assert_eq!(
            loads.load(Ordering::SeqCst),
            5,
            "a changed source file must miss (only that case)"
        );
        // Only the current data file of each case is kept.
        let bins = std::fs::read_dir(dir.join("cache")).unwrap().filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "bin")
        });
        assert_eq!(bins.count(), 2);
    }
}
