//! Seeded mutation fuzzing of the three readers (NIfTI, NRRD, DICOM series): thousands of valid
//! files with flipped bits, overwritten bytes, truncations and fields set to extreme values. Every
//! one must give `Ok` or a clean `Err` — never a panic — and no single allocation may go beyond
//! what the size limit allows (a tracking allocator records the largest request of this test
//! binary). Each reader gets a time budget, so the suite stays fast on slow machines;
//! `UNET3D_FUZZ=N[,SEED]` runs N mutations per file from another seed instead.

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use unet3d::data::io::dicom::{SeriesMeta, read_series, write_series};
use unet3d::data::io::nifti::read_nifti_bytes;
use unet3d::data::io::nrrd::read_nrrd_bytes;
use unet3d::data::io::write_image;
use unet3d::data::{Affine, Image, Volume};
use unet3d::util::limits;
use unet3d::util::rng::Rng;

/// Records the largest single allocation request.
struct Tracking;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// The voxel limit while fuzzing: small, so an allocation a header talks the reader into shows.
const MAX_VOXELS: u64 = 1 << 16;
const BUDGET: Duration = Duration::from_secs(40);

fn setup() {
    limits::set_max_voxels(MAX_VOXELS);
}

/// Twice what reading any allowed file may take (a vector may double while it grows).
fn allocation_bound() -> usize {
    2 * limits::max_file_bytes() as usize
}

fn image() -> Image {
    let affine = Affine::from_lps(
        [[0.5, 0.05, 0.0], [0.0, 0.5, 0.0], [0.0, 0.1, 3.0]],
        [12.0, -8.0, 40.0],
    );
    let mut img: Image = Volume::zeros([9, 7, 4], affine.spacing(), affine);
    for (i, v) in img.data.iter_mut().enumerate() {
        *v = ((i * 31) % 400) as f32;
    }
    img
}

/// One seeded mutation of `bytes`: bit flips, special bytes, a truncation, or (for text headers)
/// a number swapped for an extreme one.
fn mutate(bytes: &[u8], rng: &mut Rng, header_len: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let len = b.len();
    let region = |rng: &mut Rng| {
        if rng.chance(0.8) {
            rng.below(header_len.min(len).max(1))
        } else {
            rng.below(len.max(1))
        }
    };
    match rng.below(5) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let at = region(rng);
                b[at] ^= 1 << rng.below(8);
            }
        }
        1 => {
            const SPECIAL: [u8; 6] = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE];
            for _ in 0..1 + rng.below(4) {
                let at = region(rng);
                b[at] = SPECIAL[rng.below(SPECIAL.len())];
            }
        }
        2 => b.truncate(rng.below(b.len().max(1))),
        3 => {
            // A 2- or 4-byte field set to an extreme value (lengths, dims, offsets).
            let at = region(rng).min(b.len().saturating_sub(4));
            let v: u32 = [u32::MAX, 0x7FFF_FFFF, 0xFFFF, 0x8000_0000, 0][rng.below(5)];
            let n = if rng.chance(0.5) { 2 } else { 4 };
            b[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
        }
        _ => {
            // Text: a number replaced by a huge, negative or not-a-number one.
            let text = String::from_utf8_lossy(&b[..header_len.min(b.len())]).into_owned();
            let digits: Vec<usize> = text
                .char_indices()
                .filter(|(_, c)| c.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            if let Some(&at) = digits.get(rng.below(digits.len().max(1))) {
                let with = ["99999999999", "-1", "nan", "1e308", "0", "4294967296"][rng.below(6)];
                let end = text[at..]
                    .find(|c: char| !c.is_ascii_digit() && c != '.')
                    .map_or(text.len(), |e| at + e);
                let mut t = text.clone();
                t.replace_range(at..end, with);
                let rest = &b[header_len.min(b.len())..];
                b = [t.as_bytes(), rest].concat();
            }
        }
    }
    b
}

/// Runs `read` on mutations of `valid` until `count` or the time budget; checks no panic and the
/// allocation bound. Returns how many ran.
fn fuzz(
    name: &str,
    valid: &[u8],
    header_len: usize,
    seed: u64,
    count: usize,
    mut read: impl FnMut(&[u8]) -> bool,
) -> usize {
    assert!(read(valid), "{name}: the unmutated file must read");
    // `UNET3D_FUZZ=N[,SEED]` runs N mutations (no time budget) from another seed, for long runs.
    let long: Option<(usize, u64)> = std::env::var("UNET3D_FUZZ").ok().map(|v| {
        let mut parts = v.split(',');
        let n = parts.next().and_then(|n| n.parse().ok()).unwrap_or(count);
        (n, parts.next().and_then(|s| s.parse().ok()).unwrap_or(seed))
    });
    let (count, seed, budget) = match long {
        Some((n, s)) => (n, s, Duration::MAX),
        None => (count, seed, BUDGET),
    };
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let mut ran = 0;
    while ran < count && started.elapsed() < budget {
        let bytes = mutate(valid, &mut rng, header_len);
        let outcome = catch_unwind(AssertUnwindSafe(|| read(&bytes)));
        assert!(
            outcome.is_ok(),
            "{name}: mutation {ran} (seed {seed}) panicked"
        );
        let largest = LARGEST.load(Ordering::Relaxed);
        if largest > allocation_bound() {
            let dump = std::env::temp_dir().join(format!("unet3d-fuzz-{seed}-{ran}"));
            let _ = std::fs::write(&dump, &bytes);
            panic!(
                "{name}: mutation {ran} (seed {seed}, saved as {}) made an allocation of \
                 {largest} bytes, above the bound of {}",
                dump.display(),
                allocation_bound()
            );
        }
        ran += 1;
    }
    assert!(ran >= 200, "{name}: only {ran} mutations in {BUDGET:?}");
    ran
}

#[test]
fn nifti_reader_never_panics_or_overallocates() {
    setup();
    let tmp = tempfile::tempdir().unwrap();
    for name in ["f.nii", "f.nii.gz"] {
        let path = tmp.path().join(name);
        write_image(&path, &image()).unwrap();
        let valid = std::fs::read(&path).unwrap();
        let header = if name.ends_with(".gz") {
            valid.len()
        } else {
            352
        };
        let ran = fuzz(name, &valid, header, 7, 2000, |b| {
            read_nifti_bytes(Path::new(name), b).is_ok()
        });
        eprintln!("{name}: {ran} mutations");
    }
}

#[test]
fn nrrd_reader_never_panics_or_overallocates() {
    setup();
    let tmp = tempfile::tempdir().unwrap();
    for name in ["a.nrrd", "d.nhdr"] {
        let path = tmp.path().join(name);
        write_image(&path, &image()).unwrap();
        let valid = std::fs::read(&path).unwrap();
        let header = valid
            .windows(2)
            .position(|w| w == b"\n\n")
            .map_or(valid.len(), |p| p + 2);
        // The reader reads a detached data file from beside `path`.
        let ran = fuzz(name, &valid, header, 11, 2000, |b| {
            read_nrrd_bytes(&path, b).is_ok()
        });
        eprintln!("{name}: {ran} mutations");
    }
}

#[test]
fn dicom_series_reader_never_panics_or_overallocates() {
    setup();
    let tmp = tempfile::tempdir().unwrap();
    let series = tmp.path().join("s");
    let meta = SeriesMeta {
        patient_id: "P".into(),
        series_uid: "1.2.3.4.5".into(),
        study_uid: "1.2.3.4".into(),
        description: "T2".into(),
        shuffle_seed: None,
    };
    // DICOM slices cannot be sheared: an axis-aligned grid.
    let mut img = image();
    img.affine = Affine::from_lps(
        [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 3.0]],
        [12.0, -8.0, 40.0],
    );
    write_series(&series, &img, &meta).unwrap();
    let mut slices: Vec<_> = std::fs::read_dir(&series)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    slices.sort();
    let victim = slices[1].clone();
    let valid = std::fs::read(&victim).unwrap();
    // Mutations mostly land in the header part (before the pixel data).
    let header = valid.len().saturating_sub(9 * 7 * 2);
    let ran = fuzz("DICOM series", &valid, header, 13, 1000, |b| {
        std::fs::write(&victim, b).unwrap();
        read_series(&series, None).is_ok()
    });
    eprintln!("DICOM: {ran} mutations");
}

/// Whether GDCM's `gdcmconv` is here (required where `UNET3D_REQUIRE_CODEC_TOOLS` is set, as in CI).
fn gdcmconv_available() -> bool {
    let found = std::process::Command::new("gdcmconv")
        .arg("--version")
        .output()
        .is_ok();
    assert!(
        found || std::env::var_os("UNET3D_REQUIRE_CODEC_TOOLS").is_none(),
        "gdcmconv is required (UNET3D_REQUIRE_CODEC_TOOLS is set): apt-get install libgdcm-tools"
    );
    found
}

#[test]
fn compressed_dicom_decoders_never_panic_or_overallocate() {
    setup();
    if !gdcmconv_available() {
        eprintln!("skipping: gdcmconv not found (apt-get install libgdcm-tools)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let native = tmp.path().join("native");
    let mut img = image();
    img.affine = Affine::from_lps(
        [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 3.0]],
        [12.0, -8.0, 40.0],
    );
    let meta = SeriesMeta {
        patient_id: "P".into(),
        series_uid: "1.2.3.4.6".into(),
        study_uid: "1.2.3.4".into(),
        description: "T2".into(),
        shuffle_seed: None,
    };
    write_series(&native, &img, &meta).unwrap();
    for (seed, flag) in [(17u64, "--jpeg"), (19, "--rle"), (23, "--j2k")] {
        let series = tmp.path().join(&flag[2..]);
        std::fs::create_dir_all(&series).unwrap();
        for entry in std::fs::read_dir(&native).unwrap() {
            let path = entry.unwrap().path();
            let out = series.join(path.file_name().unwrap());
            let ok = std::process::Command::new("gdcmconv")
                .arg(flag)
                .arg(&path)
                .arg(&out)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let mut slices: Vec<_> = std::fs::read_dir(&series)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        slices.sort();
        let victim = slices[1].clone();
        let valid = std::fs::read(&victim).unwrap();
        // Mutations land anywhere: in the compressed stream as much as in the header.
        let ran = fuzz(flag, &valid, valid.len(), seed, 700, |b| {
            std::fs::write(&victim, b).unwrap();
            read_series(&series, None).is_ok()
        });
        eprintln!("{flag}: {ran} mutations");
    }
}
