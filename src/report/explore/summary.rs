//! What `explore` found: the per-case rows and the dataset summary (`explore.json`), as plain
//! types every part of `explore` (and the run report) reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::dataset::DatasetSpec;

/// File names (relative to the output folder) of the figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// One per montaged case, in case order.
    pub montages: Vec<String>,
    pub intensity_histogram: String,
    pub label_volumes: String,
}

/// Robust intensity figures of one image (percentiles interpolate between closest ranks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntensityStats {
    pub p0_5: f64,
    pub p50: f64,
    pub p99_5: f64,
    pub min: f64,
    pub max: f64,
}

/// Size of one label in one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelVolume {
    pub value: u8,
    pub name: String,
    pub voxels: u64,
    /// Voxels × voxel volume (product of spacing) in millilitres.
    pub ml: f64,
}

/// One row of the per-case table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub id: String,
    /// "train", "validation", "test", or "unlisted".
    pub split: String,
    pub dims: [usize; 3],
    /// Voxel size in mm along i, j, k.
    pub spacing: [f64; 3],
    pub intensity: IntensityStats,
    /// Share of voxels with a structure label (not background, not the ignore value 255).
    pub foreground_fraction: f64,
    /// Every declared structure (and any other value present), background excluded.
    pub labels: Vec<LabelVolume>,
}

/// One label value over the whole dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassSummary {
    pub value: u8,
    pub name: String,
    /// Overlay colour and its name in the figures.
    pub color: [u8; 3],
    pub color_name: String,
    /// Share of all voxels of all cases.
    pub voxel_fraction: f64,
    /// Median over cases of the volume in mL (cases without the label count as 0); `None` for
    /// background.
    pub median_ml: Option<f64>,
}

/// Everything `explore` found; the content of `explore.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExploreSummary {
    pub dataset: String,
    pub n_cases: usize,
    pub cases_per_split: BTreeMap<String, usize>,
    /// Per-axis median of the case spacings (mm).
    pub median_spacing: [f64; 3],
    /// Largest over smallest component of the median spacing.
    pub anisotropy: f64,
    pub median_dims: [f64; 3],
    pub classes: Vec<ClassSummary>,
    /// Median PZ volume over median CG volume, when labels with those names exist.
    pub pz_cg_ratio: Option<f64>,
    /// One sentence stating which value is which structure, with volumes, for the user to confirm.
    pub label_mapping: String,
    pub figures: Figures,
    pub cases: Vec<CaseSummary>,
}

/// The name shown for a label value (255 is the ignore value).
pub fn label_name(spec: &DatasetSpec, value: u8) -> String {
    if value == 255 && !spec.labels.contains_key("255") {
        "ignore".into()
    } else {
        spec.label_name(value)
    }
}
