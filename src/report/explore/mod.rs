//! `unet3d explore`: per-case and dataset-level figures a user should see before training —
//! geometry (dims, spacing, anisotropy), intensity ranges, class balance, label volumes in mL, and
//! which label value is which structure (volumes and coloured overlays) — written as `explore.json`,
//! `explore.md` and PNG figures. Cases stream through one at a time so a large dataset never sits
//! in memory; figures are kept encoded until the end, so a failing case leaves no output at all.

use std::path::Path;

mod dataset;
pub mod figures;
mod markdown;
pub mod summary;

use crate::data::dataset::{Case, Dataset, DatasetSpec, check_label_on_image};
use crate::error::{Error, Result};
use crate::util::{fsio, stats};
use dataset::summarise_dataset;
use figures::FigureSource;
pub use summary::{
    CaseSummary, ClassSummary, ExploreSummary, Figures, IntensityStats, LabelVolume, label_name,
};

/// What `explore` draws.
#[derive(Clone, Debug, PartialEq)]
pub struct ExploreOptions {
    /// Montages are drawn for the first this many cases.
    pub montage_cases: usize,
    /// Slices per montage, spread over the labelled extent.
    pub montage_slices: usize,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            montage_cases: 8,
            montage_slices: 9,
        }
    }
}

/// Loads every case of `dataset` (split order) and explores it into `out` with default options.
pub fn explore(dataset: &Dataset, out: &Path) -> Result<ExploreSummary> {
    explore_with(dataset, out, &ExploreOptions::default())
}

/// [`explore`] with explicit options.
pub fn explore_with(
    dataset: &Dataset,
    out: &Path,
    opts: &ExploreOptions,
) -> Result<ExploreSummary> {
    let cases = dataset
        .all_cases()
        .into_iter()
        .map(|id| dataset.load_case(&id));
    explore_cases_with(&dataset.spec, cases, out, opts)
}

/// Explores already-loaded (or streamed) cases with default options.
pub fn explore_cases(
    spec: &DatasetSpec,
    cases: impl Iterator<Item = Result<Case>>,
    out: &Path,
) -> Result<ExploreSummary> {
    explore_cases_with(spec, cases, out, &ExploreOptions::default())
}

/// Computes the summary and writes figures, `explore.json` and `explore.md` into `out`.
pub fn explore_cases_with(
    spec: &DatasetSpec,
    cases: impl Iterator<Item = Result<Case>>,
    out: &Path,
    opts: &ExploreOptions,
) -> Result<ExploreSummary> {
    let mut rows = Vec::new();
    let mut sources = FigureSource::default();
    let mut counts = [0u64; 256];
    for case in cases {
        let case = case?;
        log::info!("explore: case {} ({} so far)", case.id, rows.len() + 1);
        let (row, case_counts) = summarise_case(spec, &case)?;
        for (total, n) in counts.iter_mut().zip(case_counts) {
            *total += n;
        }
        sources.add_case(
            spec,
            &case,
            &row,
            rows.len() < opts.montage_cases,
            opts.montage_slices,
        )?;
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(Error::config(format!(
            "dataset {}: there are no cases to explore",
            spec.name
        )));
    }
    let mut summary = summarise_dataset(spec, rows, &counts);
    let figures = sources.render(&summary)?;
    summary.figures = figures.names.clone();
    for (name, png) in &figures.files {
        fsio::write_atomic(&out.join(name), png)?;
    }
    let json = serde_json::to_string_pretty(&summary)
        .map_err(|e| Error::config(format!("explore.json: {e}")))?;
    fsio::write_atomic(&out.join("explore.json"), json.as_bytes())?;
    fsio::write_atomic(
        &out.join("explore.md"),
        markdown::markdown(spec, &summary).as_bytes(),
    )?;
    Ok(summary)
}

/// The split a case is listed in.
fn split_of(spec: &DatasetSpec, id: &str) -> &'static str {
    let s = &spec.splits;
    let has = |list: &[String]| list.iter().any(|c| c == id);
    if has(&s.train) {
        "train"
    } else if has(&s.validation) {
        "validation"
    } else if has(&s.test) {
        "test"
    } else {
        "unlisted"
    }
}

/// The per-case row, and the case's voxel count per label value.
fn summarise_case(spec: &DatasetSpec, case: &Case) -> Result<(CaseSummary, [u64; 256])> {
    let where_ = format!("case {}", case.id);
    let (image, label) = (&case.image, &case.label);
    if image.data.len() != image.len() || image.is_empty() {
        return Err(Error::invalid(
            &where_,
            format!(
                "image buffer of {} voxels for dims {:?}",
                image.data.len(),
                image.dims
            ),
        ));
    }
    check_label_on_image(Path::new(&where_), image, label)?;
    if label.data.len() != label.len() {
        return Err(Error::invalid(
            &where_,
            "label buffer does not match its dims",
        ));
    }
    let values = || image.data.iter().map(|&v| v as f64);
    let p = stats::percentiles(values(), &[0.5, 50.0, 99.5])
        .ok_or_else(|| Error::invalid(&where_, "the image has no finite intensities"))?;
    let finite = || values().filter(|v| v.is_finite());
    let intensity = IntensityStats {
        p0_5: p[0],
        p50: p[1],
        p99_5: p[2],
        min: finite().fold(f64::INFINITY, f64::min),
        max: finite().fold(f64::NEG_INFINITY, f64::max),
    };
    let mut counts = [0u64; 256];
    for &v in &label.data {
        counts[v as usize] += 1;
    }
    let voxel_ml = image.spacing.iter().product::<f64>() / 1000.0;
    let declared = spec.label_values();
    let labels = (1..=255u8)
        .filter(|v| declared.contains(v) || counts[*v as usize] > 0)
        .map(|v| LabelVolume {
            value: v,
            name: label_name(spec, v),
            voxels: counts[v as usize],
            ml: counts[v as usize] as f64 * voxel_ml,
        })
        .collect();
    let fg: u64 = counts[1..255].iter().sum();
    let row = CaseSummary {
        id: case.id.clone(),
        split: split_of(spec, &case.id).into(),
        dims: image.dims,
        spacing: image.spacing,
        intensity,
        foreground_fraction: fg as f64 / image.len() as f64,
        labels,
    };
    Ok((row, counts))
}

#[cfg(test)]
mod tests;
