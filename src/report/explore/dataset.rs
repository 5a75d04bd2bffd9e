//! Dataset-level figures of `explore` from the per-case rows: cases per split, median geometry and
//! anisotropy, class balance, median label volumes, and the label-mapping sentence (with the PZ/CG
//! volume ratio) that lets a user confirm which value is which structure.

use std::collections::BTreeMap;

use super::summary::{CaseSummary, ClassSummary, ExploreSummary, Figures, label_name};
use crate::data::dataset::DatasetSpec;
use crate::plot::montage::{label_color, label_color_name};
use crate::util::stats::median;

/// Builds the summary (figures left empty) from at least one case row and the dataset's voxel
/// counts per label value.
pub(crate) fn summarise_dataset(
    spec: &DatasetSpec,
    cases: Vec<CaseSummary>,
    counts: &[u64; 256],
) -> ExploreSummary {
    let mut cases_per_split: BTreeMap<String, usize> = ["train", "validation", "test"]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    for c in &cases {
        *cases_per_split.entry(c.split.clone()).or_default() += 1;
    }
    let med = |f: &dyn Fn(&CaseSummary) -> f64| median(cases.iter().map(f)).unwrap_or(f64::NAN);
    let median_spacing: [f64; 3] = std::array::from_fn(|a| med(&|c| c.spacing[a]));
    let median_dims: [f64; 3] = std::array::from_fn(|a| med(&|c| c.dims[a] as f64));
    let lo = median_spacing.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = median_spacing
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let anisotropy = if lo > 0.0 { hi / lo } else { f64::NAN };

    let total: u64 = counts.iter().sum();
    let declared = spec.label_values();
    let values: Vec<u8> = (0..=255u8)
        .filter(|v| declared.contains(v) || counts[*v as usize] > 0)
        .collect();
    let classes: Vec<ClassSummary> = values
        .iter()
        .map(|&v| ClassSummary {
            value: v,
            name: label_name(spec, v),
            // Background is never drawn.
            color: if v == 0 { [0, 0, 0] } else { label_color(v) },
            color_name: if v == 0 {
                "none".into()
            } else {
                label_color_name(v).into()
            },
            voxel_fraction: if total > 0 {
                counts[v as usize] as f64 / total as f64
            } else {
                0.0
            },
            median_ml: (v != 0).then(|| {
                let ml =
                    |c: &CaseSummary| c.labels.iter().find(|l| l.value == v).map_or(0.0, |l| l.ml);
                med(&ml)
            }),
        })
        .collect();
    let (pz_cg_ratio, label_mapping) = label_mapping(&classes);
    ExploreSummary {
        dataset: spec.name.clone(),
        n_cases: cases.len(),
        cases_per_split,
        median_spacing,
        anisotropy,
        median_dims,
        classes,
        pz_cg_ratio,
        label_mapping,
        figures: Figures::default(),
        cases,
    }
}

fn is_pz(name: &str) -> bool {
    let n = name.to_lowercase();
    n.contains("peripheral") || n == "pz"
}

fn is_cg(name: &str) -> bool {
    let n = name.to_lowercase();
    n.contains("central") || n.contains("transition") || n == "cg" || n == "tz"
}

/// The PZ/CG median volume ratio (when both are named) and the sentence stating the mapping.
fn label_mapping(classes: &[ClassSummary]) -> (Option<f64>, String) {
    let structures: Vec<&ClassSummary> = classes
        .iter()
        .filter(|c| c.value != 0 && c.value != 255)
        .collect();
    let parts: Vec<String> = structures
        .iter()
        .map(|c| {
            format!(
                "{} = {} ({}, median {:.2} mL)",
                c.value,
                c.name,
                c.color_name,
                c.median_ml.unwrap_or(0.0)
            )
        })
        .collect();
    let mut text = format!("Label mapping: {}.", parts.join(", "));
    let pz = structures
        .iter()
        .find(|c| is_pz(&c.name))
        .and_then(|c| c.median_ml);
    let cg = structures
        .iter()
        .find(|c| is_cg(&c.name))
        .and_then(|c| c.median_ml);
    let ratio = match (pz, cg) {
        (Some(pz), Some(cg)) if cg > 0.0 => Some(pz / cg),
        _ => None,
    };
    match ratio {
        Some(r) if r < 1.0 => text.push_str(&format!(
            " PZ/CG median volume ratio {r:.2}: the central gland is the larger structure, as expected in this \
             population; confirm on the overlays that the PZ label is the thin posterior rim."
        )),
        Some(r) => text.push_str(&format!(
            " PZ/CG median volume ratio {r:.2}: the PZ label is the larger one, which is unusual; the labels may \
             be swapped, check the overlays."
        )),
        None => text.push_str(" No peripheral zone / central gland pair to compare by name."),
    }
    (ratio, text)
}
