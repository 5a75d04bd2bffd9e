//! Per-case, per-class metrics at native resolution: Dice, IoU, HD95, ASSD, maximum Hausdorff distance
//! and structure volumes, as reported for NCI-ISBI 2013.
//!
//! Convention for empty structures (so that no metric is ever NaN or infinite):
//! - both reference and prediction empty → Dice = IoU = 1 and all distances 0 (`empty = Some(Both)`);
//! - exactly one empty → Dice = IoU = 0 and every distance (HD95, ASSD, HD) set to the diagonal of the
//!   field of view, `sqrt(Σ (n_d · s_d)²)` mm. That is longer than any distance between two voxel centres
//!   of the grid, so it is a finite worst-case penalty (`empty = Some(Reference)` or `Some(Prediction)`).
//!   For 400×400×34 voxels of 0.4×0.4×3 mm it is about 250 mm.
//!
//! `ignore`: voxels whose *reference* value equals it (unlabelled voxels) are left out of everything —
//! counts, volumes, and surfaces (they count as background for both masks).

use serde::{Deserialize, Serialize};

use super::surface::mask_surface_distances;
use crate::data::LabelMap;
use crate::data::labels::Counts;
use crate::error::{Error, Result};

/// Which mask was empty when a class is missing from a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyKind {
    /// Neither reference nor prediction contain the class (a perfect, trivial match).
    Both,
    /// The reference is empty but the prediction is not (a hallucinated structure).
    Reference,
    /// The prediction is empty but the reference is not (a missed structure).
    Prediction,
}

impl EmptyKind {
    /// Short name used in CSV files and tables.
    pub fn as_str(&self) -> &'static str {
        match self {
            EmptyKind::Both => "both",
            EmptyKind::Reference => "reference",
            EmptyKind::Prediction => "prediction",
        }
    }
}

/// The metrics of one class in one case. Distances in mm, volumes in mL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// The label value.
    pub class: u8,
    pub dice: f64,
    pub iou: f64,
    /// 95th percentile of both directed surface-distance lists together (see `metrics::surface`).
    pub hd95_mm: f64,
    /// Mean of all surface distances of both directions.
    pub assd_mm: f64,
    /// Maximum Hausdorff distance.
    pub hd_max_mm: f64,
    pub volume_ref_ml: f64,
    pub volume_pred_ml: f64,
    /// Prediction minus reference.
    pub volume_diff_ml: f64,
    /// `(pred − ref) / ref`; `None` when the reference is empty (undefined).
    pub volume_diff_rel: Option<f64>,
    /// Set when the reference or the prediction (or both) is empty; see the module doc.
    pub empty: Option<EmptyKind>,
}

/// Length of the field-of-view diagonal in mm: the worst-case distance penalty.
pub fn diagonal_mm(dims: [usize; 3], spacing: [f64; 3]) -> f64 {
    (0..3)
        .map(|d| (dims[d] as f64 * spacing[d]).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Metrics of each class in `classes` between a prediction and a reference on the same grid.
///
/// Errors when the grids differ (dims, spacing, or affine by more than 1e-3 mm) or when a class equals
/// the ignore value.
pub fn evaluate_case(
    pred: &LabelMap,
    reference: &LabelMap,
    classes: &[u8],
    ignore: Option<u8>,
) -> Result<Vec<ClassMetrics>> {
    check_grids(pred, reference)?;
    if let Some(c) = classes.iter().find(|&&c| Some(c) == ignore) {
        return Err(Error::config(format!(
            "class {c} is also the ignore value; cannot evaluate it"
        )));
    }
    let voxel_ml = reference.voxel_ml();
    let keep = |idx: usize| Some(reference.data[idx]) != ignore;
    let mut out = Vec::with_capacity(classes.len());
    for &class in classes {
        let counts = Counts::of(&pred.data, &reference.data, class, ignore);
        let p: Vec<bool> = (0..pred.data.len())
            .map(|i| pred.data[i] == class && keep(i))
            .collect();
        let r: Vec<bool> = reference.data.iter().map(|&v| v == class).collect();
        let n_pred = counts.tp + counts.fp;
        let n_ref = counts.tp + counts.fn_;
        let empty = match (n_ref == 0, n_pred == 0) {
            (true, true) => Some(EmptyKind::Both),
            (true, false) => Some(EmptyKind::Reference),
            (false, true) => Some(EmptyKind::Prediction),
            (false, false) => None,
        };
        let (hd95, assd, hd_max) = match empty {
            Some(EmptyKind::Both) => (0.0, 0.0, 0.0),
            Some(_) => {
                let diag = diagonal_mm(reference.dims, reference.spacing);
                (diag, diag, diag)
            }
            None => {
                let sd = mask_surface_distances(&p, &r, reference.dims, reference.spacing);
                // Both masks are non-empty, so both surfaces are and every value is defined.
                (
                    sd.hd95().unwrap_or(0.0),
                    sd.assd().unwrap_or(0.0),
                    sd.hd_max().unwrap_or(0.0),
                )
            }
        };
        let volume_ref_ml = n_ref as f64 * voxel_ml;
        let volume_pred_ml = n_pred as f64 * voxel_ml;
        let volume_diff_ml = volume_pred_ml - volume_ref_ml;
        out.push(ClassMetrics {
            class,
            dice: counts.dice(),
            iou: counts.iou(),
            hd95_mm: hd95,
            assd_mm: assd,
            hd_max_mm: hd_max,
            volume_ref_ml,
            volume_pred_ml,
            volume_diff_ml,
            volume_diff_rel: (n_ref > 0).then(|| volume_diff_ml / volume_ref_ml),
            empty,
        });
    }
    Ok(out)
}

/// Prediction and reference must share dims, spacing and affine (within 1e-3 mm).
fn check_grids(pred: &LabelMap, reference: &LabelMap) -> Result<()> {
    let n = reference.dims.iter().product::<usize>();
    if pred.dims != reference.dims || pred.data.len() != n || reference.data.len() != n {
        return Err(Error::config(format!(
            "prediction grid {:?} ({} voxels) differs from reference grid {:?} ({} voxels)",
            pred.dims,
            pred.data.len(),
            reference.dims,
            reference.data.len()
        )));
    }
    let ds = (0..3)
        .map(|d| (pred.spacing[d] - reference.spacing[d]).abs())
        .fold(0.0, f64::max);
    let da = pred.affine.max_abs_diff(&reference.affine);
    if ds > 1e-3 || da > 1e-3 {
        return Err(Error::config(format!(
            "prediction geometry differs from the reference on grid {:?}: spacing {:?} vs {:?} mm, \
             affine differs by {da:.4} mm",
            reference.dims, pred.spacing, reference.spacing
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Affine, Volume};

    fn grid(dims: [usize; 3], spacing: [f64; 3]) -> LabelMap {
        Volume::zeros(
            dims,
            spacing,
            Affine::from_spacing_origin(spacing, [0.0; 3]),
        )
    }

    fn fill(v: &mut LabelMap, lo: [usize; 3], hi: [usize; 3], value: u8) {
        for k in lo[2]..hi[2] {
            for j in lo[1]..hi[1] {
                for i in lo[0]..hi[0] {
                    v.set(i, j, k, value);
                }
            }
        }
    }

    #[test]
    fn shifted_cube_metrics_by_hand() {
        let spacing = [2.0, 1.0, 1.0];
        let (mut r, mut p) = (grid([8, 6, 6], spacing), grid([8, 6, 6], spacing));
        fill(&mut r, [1, 1, 1], [4, 4, 4], 1);
        fill(&mut p, [2, 1, 1], [5, 4, 4], 1);
        fill(&mut p, [0, 5, 0], [1, 6, 1], 2); // one stray class-2 voxel: reference empty
        let m = evaluate_case(&p, &r, &[1, 2, 3], None).unwrap();
        let c1 = &m[0];
        assert!((c1.dice - 2.0 / 3.0).abs() < 1e-12 && (c1.iou - 0.5).abs() < 1e-12);
        assert_eq!((c1.hd95_mm, c1.hd_max_mm, c1.empty), (2.0, 2.0, None));
        assert!((c1.assd_mm - 38.0 / 52.0).abs() < 1e-12);
        // 27 voxels of 2 mm³ = 0.054 mL each side.
        assert!((c1.volume_ref_ml - 0.054).abs() < 1e-12 && c1.volume_diff_ml.abs() < 1e-12);
        assert_eq!(c1.volume_diff_rel, Some(0.0));
        let diag = (16.0f64 * 16.0 + 36.0 + 36.0).sqrt();
        let c2 = &m[1];
        assert_eq!(
            (c2.dice, c2.iou, c2.empty),
            (0.0, 0.0, Some(EmptyKind::Reference))
        );
        assert_eq!((c2.hd95_mm, c2.assd_mm, c2.hd_max_mm), (diag, diag, diag));
        assert_eq!(c2.volume_diff_rel, None);
        let c3 = &m[2];
        assert_eq!(
            (c3.dice, c3.iou, c3.hd95_mm, c3.empty),
            (1.0, 1.0, 0.0, Some(EmptyKind::Both))
        );
    }

    #[test]
    fn empty_prediction_is_penalised() {
        let (mut r, p) = (grid([4, 4, 4], [1.0; 3]), grid([4, 4, 4], [1.0; 3]));
        fill(&mut r, [1, 1, 1], [3, 3, 3], 1);
        let m = &evaluate_case(&p, &r, &[1], None).unwrap()[0];
        assert_eq!(
            (m.dice, m.empty, m.volume_diff_rel),
            (0.0, Some(EmptyKind::Prediction), Some(-1.0))
        );
        assert_eq!(m.hd95_mm, 48f64.sqrt());
        let json = serde_json::to_string(m).unwrap();
        assert!(json.contains("\"empty\":\"prediction\""), "{json}");
    }

    #[test]
    fn ignored_reference_voxels_are_left_out() {
        let (mut r, mut p) = (grid([6, 3, 3], [1.0; 3]), grid([6, 3, 3], [1.0; 3]));
        fill(&mut r, [0, 0, 0], [2, 3, 3], 1);
        fill(&mut r, [2, 0, 0], [6, 3, 3], 255);
        fill(&mut p, [0, 0, 0], [6, 3, 3], 1); // predicts class 1 everywhere, also on unlabelled voxels
        let m = &evaluate_case(&p, &r, &[1], Some(255)).unwrap()[0];
        assert_eq!(
            (m.dice, m.hd95_mm, m.volume_pred_ml),
            (1.0, 0.0, m.volume_ref_ml)
        );
        assert!(evaluate_case(&p, &r, &[255], Some(255)).is_err());
    }

    #[test]
    fn different_grids_are_an_error_naming_the_dims() {
        let (r, p) = (grid([4, 4, 4], [1.0; 3]), grid([4, 4, 5], [1.0; 3]));
        let msg = evaluate_case(&p, &r, &[1], None).unwrap_err().to_string();
        assert!(
            msg.contains("[4, 4, 5]") && msg.contains("[4, 4, 4]"),
            "{msg}"
        );
        let q = grid([4, 4, 4], [1.0, 1.0, 3.0]);
        assert!(evaluate_case(&q, &r, &[1], None).is_err());
    }
}
