//! The synthetic phantoms of `synth::synth_dataset` written the way NCI-ISBI 2013 is distributed by
//! TCIA, quirks included, so the importer can be tested end to end without the real download:
//!
//! ```text
//! out/images/<case>/<study uid>/<series uid>/IM*.dcm   (one MR file per slice, shuffled names)
//! out/labels/training/<case>.nrrd
//! out/labels/leaderboard/<case>_truth.nrrd
//! out/labels/test/<case>_truth.nrrd
//! ```
//!
//! Same generator, ids and splits as `synth_dataset(out, n, seed, cfg)`, so importing this layout must
//! give exactly that dataset. Quirks (each on one case): a label cropped to its labelled slices and
//! placed by its space origin; a wrong `<case>.nrrd` beside the right `<case>_correctedLabels.nrrd`; a
//! label stored with its axes swapped and one reversed (valid NRRD, other order than DICOM); a PatientID
//! that is not the folder name. Labels are written in LPS with full space directions and origin.

use std::path::{Path, PathBuf};

use crate::data::dataset::Split;
use crate::data::io::dicom::{SeriesMeta, write_series};
use crate::data::io::nrrd::{NrrdSpace, NrrdWriteOptions, write_nrrd};
use crate::data::synth::phantom::{PhantomConfig, case_id, make_phantom};
use crate::data::synth::split_of;
use crate::data::{Affine, LabelMap, Volume};
use crate::error::{Error, Result};

/// Where [`write_tcia_layout`] put things: the DICOM root and the label folders (training,
/// leaderboard, test), ready for the importer.
#[derive(Clone, Debug, PartialEq)]
pub struct TciaLayout {
    pub images: PathBuf,
    pub label_dirs: Vec<PathBuf>,
}

/// UID root for the synthetic series (digits only, short enough for seed and case suffixes).
const UID_ROOT: &str = "1.2.826.0.1.3680043.10.543";

/// Writes `n_cases` phantoms (at least 3) in the TCIA layout under `out`, which must not exist or be empty.
pub fn write_tcia_layout(
    out: &Path,
    n_cases: usize,
    seed: u64,
    cfg: &PhantomConfig,
) -> Result<TciaLayout> {
    if n_cases < 3 {
        return Err(Error::config(format!(
            "synth tcia: need at least 3 cases (one each for training, leaderboard and test), got {n_cases}"
        )));
    }
    cfg.validate()?;
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_some()
    {
        return Err(Error::invalid(
            out,
            "already exists and is not empty; refusing to overwrite",
        ));
    }
    let images = out.join("images");
    let label_dirs: Vec<PathBuf> = ["training", "leaderboard", "test"]
        .iter()
        .map(|d| out.join("labels").join(d))
        .collect();
    let splits: Vec<Split> = (0..n_cases).map(|i| split_of(i, n_cases)).collect();
    let last_train = splits.iter().rposition(|&s| s == Split::Train).unwrap_or(0);
    let quirks = Quirks {
        corrected: last_train,
        reordered: splits
            .iter()
            .position(|&s| s == Split::Validation)
            .unwrap_or(n_cases - 1),
        renamed_patient: n_cases - 1,
    };
    let mut cropped_done = false;
    for (i, &split) in splits.iter().enumerate() {
        let id = case_id(i);
        let (image, label) = make_phantom(cfg, seed, i);
        let study_uid = format!("{UID_ROOT}.{}.{}.1", seed % 1_000_000_000, i + 1);
        let series_uid = format!("{UID_ROOT}.{}.{}.2", seed % 1_000_000_000, i + 1);
        let meta = SeriesMeta {
            patient_id: if i == quirks.renamed_patient {
                format!("ISBI{:04}", i + 1)
            } else {
                id.clone()
            },
            series_uid: series_uid.clone(),
            study_uid: study_uid.clone(),
            description: "T2 TSE AX".into(),
            shuffle_seed: Some(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        };
        write_series(
            &images.join(&id).join(&study_uid).join(&series_uid),
            &image,
            &meta,
        )?;

        let mut stored = label.clone();
        if !cropped_done && i != quirks.corrected {
            if let Some(c) = crop_to_labelled(&label) {
                stored = c;
                cropped_done = true;
            }
        }
        if i == quirks.reordered {
            stored = swap_and_reverse(&stored);
        }
        let dir = &label_dirs[split as usize];
        let write = |name: String, l: &LabelMap| write_nrrd(&dir.join(name), l, &NRRD);
        if i == quirks.corrected {
            write(format!("{id}.nrrd"), &swap_classes(&stored))?;
            write(format!("{id}_correctedLabels.nrrd"), &stored)?;
        } else if split == Split::Train {
            write(format!("{id}.nrrd"), &stored)?;
        } else {
            write(format!("{id}_truth.nrrd"), &stored)?;
        }
    }
    if !cropped_done {
        log::warn!("synth tcia: no phantom has unlabelled end slices, so no label was cropped");
    }
    Ok(TciaLayout { images, label_dirs })
}

const NRRD: NrrdWriteOptions = NrrdWriteOptions {
    gzip: true,
    space: NrrdSpace::Lps,
    detached: false,
};

/// Case indices carrying the fixed quirks (the crop goes to the first other case that allows it).
struct Quirks {
    corrected: usize,
    reordered: usize,
    renamed_patient: usize,
}

/// The label restricted to its labelled slices, with the origin of the first kept slice; `None` when
/// every slice is labelled (nothing to crop) or none is.
fn crop_to_labelled(l: &LabelMap) -> Option<LabelMap> {
    let plane = l.dims[0] * l.dims[1];
    let labelled: Vec<usize> = (0..l.dims[2])
        .filter(|&k| l.data[k * plane..(k + 1) * plane].iter().any(|&v| v != 0))
        .collect();
    let (&k0, &k1) = (labelled.first()?, labelled.last()?);
    if k0 == 0 && k1 + 1 == l.dims[2] {
        return None;
    }
    let mut affine = l.affine;
    let o = l.affine.apply([0.0, 0.0, k0 as f64]);
    (0..3).for_each(|r| affine.0[r][3] = o[r]);
    let data = l.data[k0 * plane..(k1 + 1) * plane].to_vec();
    Some(Volume {
        data,
        dims: [l.dims[0], l.dims[1], k1 - k0 + 1],
        spacing: l.spacing,
        affine,
        nifti_header: None,
    })
}

/// The same voxels in space, stored with axes (j, reversed i, k): new (a, b, c) = old (nx−1−b, a, c).
fn swap_and_reverse(l: &LabelMap) -> LabelMap {
    let [nx, ny, nz] = l.dims;
    let (c0, c1, c2) = (l.affine.column(0), l.affine.column(1), l.affine.column(2));
    let cols = [c1, c0.map(|v| -v), c2];
    let origin = l.affine.apply([(nx - 1) as f64, 0.0, 0.0]);
    let mut affine = Affine::identity();
    for r in 0..3 {
        for (c, col) in cols.iter().enumerate() {
            affine.0[r][c] = col[r];
        }
        affine.0[r][3] = origin[r];
    }
    let spacing = [l.spacing[1], l.spacing[0], l.spacing[2]];
    let mut out: LabelMap = Volume::zeros([ny, nx, nz], spacing, affine);
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                out.set(j, nx - 1 - i, k, l.get(i, j, k));
            }
        }
    }
    out
}

/// The deliberately wrong original: PZ and CG exchanged.
fn swap_classes(l: &LabelMap) -> LabelMap {
    let mut w = l.clone();
    w.data.iter_mut().for_each(|v| {
        *v = match *v {
            1 => 2,
            2 => 1,
            x => x,
        }
    });
    w
}

#[cfg(test)]
mod tests;
