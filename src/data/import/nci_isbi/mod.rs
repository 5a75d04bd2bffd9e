//! Importer for the NCI-ISBI 2013 prostate challenge as distributed by TCIA: a DICOM folder tree per
//! case and one NRRD label per case in a folder per split, written out as this project's dataset layout
//! (`crate::data::dataset`).
//!
//! The known quirks of the distribution are handled (see /work/shared/reference/anchors.md): slices
//! ordered by position, not file name; `_truth` suffixes; `<case>_correctedLabels.nrrd` replacing
//! `<case>.nrrd`; a label with fewer slices than its image, placed by its NRRD space origin; NRRD axes in
//! another order than DICOM rows/columns; PatientID differing from the folder name (the folder name is
//! the case id). A case that cannot be reconciled is skipped with its reason; the rest are imported.
//!
//! Every output file is written atomically and `dataset.json` last, so a failed import leaves no
//! partial file and no dataset that claims cases it does not have.

mod discover;
mod place;
mod series;
mod summary;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use summary::{CaseRow, CaseStatus, ImportSummary};

use crate::data::LabelMap;
use crate::data::dataset::{Dataset, DatasetSpec, SPEC_FILE, Split, Splits};
use crate::data::io::{read_labels, write_image, write_labels};
use crate::error::{Error, Result};
use crate::util::fsio;

/// Label values of the NCI-ISBI NRRDs → dataset values: 1 = peripheral zone, 2 = central gland.
pub const DEFAULT_LABEL_MAPPING: [(u8, u8); 2] = [(1, 1), (2, 2)];

/// What to import and where.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportOptions {
    /// Root of the TCIA DICOM tree (case folders such as `Prostate3T-01-0001`, at any depth).
    pub images: PathBuf,
    /// Label folders: training → train, leaderboard → validation, test → test (by name, else in order).
    pub labels: Vec<PathBuf>,
    /// The dataset folder to create.
    pub out: PathBuf,
    /// Source label value → dataset value; any other non-zero source value skips the case.
    pub label_mapping: Vec<(u8, u8)>,
}

impl ImportOptions {
    /// Options with the default label mapping (1 → PZ, 2 → CG).
    pub fn new(images: impl Into<PathBuf>, labels: Vec<PathBuf>, out: impl Into<PathBuf>) -> Self {
        ImportOptions {
            images: images.into(),
            labels,
            out: out.into(),
            label_mapping: DEFAULT_LABEL_MAPPING.to_vec(),
        }
    }
}

/// Imports every case that has both a label and a DICOM folder; see the module docs.
///
/// Errors (nothing usable written) on bad options, unreadable folders, an existing dataset in `out`, a
/// write failure, or when no case at all could be imported.
pub fn import(opts: &ImportOptions) -> Result<ImportSummary> {
    check_mapping(&opts.label_mapping)?;
    if opts.labels.is_empty() {
        return Err(Error::config("give at least one label folder"));
    }
    let spec_path = opts.out.join(SPEC_FILE);
    if spec_path.exists() {
        return Err(Error::invalid(
            &spec_path,
            "a dataset already exists here; import into a new folder",
        ));
    }
    let inputs: Vec<PathBuf> = std::iter::once(opts.images.clone())
        .chain(opts.labels.iter().cloned())
        .collect();
    fsio::refuse_overwrite(std::slice::from_ref(&opts.out), &inputs)?;

    let labels = discover::find_labels(&opts.labels)?;
    let images = discover::find_image_folders(&opts.images, &|name| labels.contains_key(name))?;

    // Paths come from a dataset spec with every labelled case; dataset.json gets only the imported ones.
    let mut planned = Splits::default();
    for (case, label) in &labels {
        let split = match label {
            Ok(l) => l.split,
            Err((s, _)) => *s,
        };
        push(&mut planned, split, case);
    }
    let name = opts
        .out
        .file_name()
        .map_or("NCI-ISBI-2013".into(), |n| n.to_string_lossy().into_owned());
    let description = format!(
        "NCI-ISBI 2013 prostate (TCIA DICOM + NRRD labels), label mapping {}",
        mapping_text(&opts.label_mapping)
    );
    let mut dataset = Dataset {
        root: opts.out.clone(),
        spec: DatasetSpec::prostate(&name, &description, planned),
    };
    let mut rows = Vec::new();
    for (case, label) in &labels {
        let mut row = CaseRow {
            case_id: case.clone(),
            split: Some(match label {
                Ok(l) => l.split,
                Err((s, _)) => *s,
            }),
            dims: None,
            spacing: None,
            label_voxels: BTreeMap::new(),
            status: CaseStatus::Skipped {
                reason: String::new(),
            },
        };
        match (label, images.get(case)) {
            (Err((_, reason)), _) => {
                row.status = CaseStatus::Skipped {
                    reason: reason.clone(),
                }
            }
            (_, None) => {
                row.status = CaseStatus::Skipped {
                    reason: "no image folder with this name".into(),
                }
            }
            (_, Some(Err(reason))) => {
                row.status = CaseStatus::Skipped {
                    reason: reason.clone(),
                }
            }
            (Ok(label), Some(Ok(dir))) => {
                import_case(&dataset, case, dir, label, &opts.label_mapping, &mut row)?
            }
        }
        if let CaseStatus::Skipped { reason } = &row.status {
            log::warn!("{case}: skipped: {reason}");
        }
        rows.push(row);
    }
    for (case, _) in images.iter().filter(|(c, _)| !labels.contains_key(*c)) {
        rows.push(CaseRow {
            case_id: case.clone(),
            split: None,
            dims: None,
            spacing: None,
            label_voxels: BTreeMap::new(),
            status: CaseStatus::Skipped {
                reason: "no label file in the label folders".into(),
            },
        });
    }
    let order = |r: &CaseRow| (r.split.map_or(3, |s| s as u8), r.case_id.clone());
    rows.sort_by_key(order);
    let summary = ImportSummary {
        out: opts.out.clone(),
        rows,
    };
    if summary.imported() == 0 {
        let first = summary
            .rows
            .first()
            .map_or("no labelled case found".into(), |r| match &r.status {
                CaseStatus::Skipped { reason } => format!("{}: {reason}", r.case_id),
                CaseStatus::Imported { .. } => unreachable!(),
            });
        return Err(Error::invalid(
            &opts.out,
            format!(
                "no case could be imported ({} skipped; first: {first})",
                summary.skipped()
            ),
        ));
    }
    // Files were written with their folders; the empty ones complete the layout.
    for sub in ["imagesTr", "labelsTr", "imagesTs", "labelsTs"] {
        fsio::create_dir(&opts.out.join(sub))?;
    }
    dataset.spec.splits = summary.splits();
    dataset.save_spec()?;
    Ok(summary)
}

/// Reads, reconciles and writes one case; a reason to skip goes into `row`, only write failures are errors.
fn import_case(
    dataset: &Dataset,
    case: &str,
    dir: &Path,
    label_file: &discover::LabelFile,
    mapping: &[(u8, u8)],
    row: &mut CaseRow,
) -> Result<()> {
    let skip = |row: &mut CaseRow, reason: String| row.status = CaseStatus::Skipped { reason };
    let label_name = label_file.path.display();
    let mut label = match read_labels(&label_file.path) {
        Ok(label) => label,
        Err(e) => return Ok(skip(row, format!("label: {e}"))),
    };
    if let Err(reason) = apply_mapping(&mut label, mapping) {
        return Ok(skip(row, format!("{label_name}: {reason}")));
    }
    let (image, placed, mut notes) = match series::choose(dir, &label) {
        Ok(found) => found,
        Err(reason) => {
            if let Some((dims, spacing)) = reason.grid {
                (row.dims, row.spacing) = (Some(dims), Some(spacing));
            }
            return Ok(skip(
                row,
                reason.text.replace("{label}", &label_name.to_string()),
            ));
        }
    };
    row.dims = Some(image.dims);
    row.spacing = Some(image.spacing);
    if let Some(original) = &label_file.replaces {
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        notes.insert(
            0,
            format!("{} replaces {}", name(&label_file.path), name(original)),
        );
    }
    write_image(&dataset.image_path(case), &image)?;
    write_labels(&dataset.label_path(case), &placed)?;
    row.label_voxels = counts(&placed);
    row.status = CaseStatus::Imported { notes };
    Ok(())
}

/// Maps source values to dataset values in place; unknown non-zero values are the reason to skip.
fn apply_mapping(label: &mut LabelMap, mapping: &[(u8, u8)]) -> std::result::Result<(), String> {
    let mut lut: [Option<u8>; 256] = [None; 256];
    lut[0] = Some(0);
    for &(src, dst) in mapping {
        lut[src as usize] = Some(dst);
    }
    let mut unknown = [false; 256];
    for &v in &label.data {
        unknown[v as usize] |= lut[v as usize].is_none();
    }
    let unknown: Vec<usize> = (0..256).filter(|&v| unknown[v]).collect();
    if !unknown.is_empty() {
        return Err(format!(
            "label values {unknown:?} are not in the label mapping ({})",
            mapping_text(mapping)
        ));
    }
    for v in &mut label.data {
        *v = lut[*v as usize].unwrap();
    }
    Ok(())
}

fn check_mapping(mapping: &[(u8, u8)]) -> Result<()> {
    let declared = DatasetSpec::prostate("", "", Splits::default()).label_values();
    for (n, &(src, dst)) in mapping.iter().enumerate() {
        if src == 0 {
            return Err(Error::config(
                "label mapping: source value 0 is background and always maps to 0",
            ));
        }
        if !declared.contains(&dst) && dst != 255 {
            return Err(Error::config(format!(
                "label mapping {src}→{dst}: {dst} is not a dataset label (declared {declared:?}, or 255 = ignore)"
            )));
        }
        if mapping[..n].iter().any(|&(s, _)| s == src) {
            return Err(Error::config(format!(
                "label mapping: source value {src} is mapped twice"
            )));
        }
    }
    Ok(())
}

fn mapping_text(mapping: &[(u8, u8)]) -> String {
    mapping
        .iter()
        .map(|(s, d)| format!("{s}→{d}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn counts(label: &LabelMap) -> BTreeMap<u8, usize> {
    let mut c = BTreeMap::new();
    for &v in label.data.iter().filter(|&&v| v != 0) {
        *c.entry(v).or_insert(0) += 1;
    }
    c
}

fn push(splits: &mut Splits, split: Split, case: &str) {
    match split {
        Split::Train => splits.train.push(case.into()),
        Split::Validation => splits.validation.push(case.into()),
        Split::Test => splits.test.push(case.into()),
    }
}
