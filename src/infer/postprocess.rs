//! Post-processing of a label map: keep only the largest 26-connected component of a class
//! (nnU-Net's optional step), removing small false-positive islands far from the organ — and the
//! decision, per class, whether to: as nnU-Net's `determine_postprocessing`, removal is kept
//! only for the classes where it raises the Dice on cases with labels (validation or
//! cross-validation predictions), because it removes real anatomy wherever one class has
//! several parts (a left and a right organ, multifocal lesions). The decision is recorded as
//! `postprocessing.json` beside the model and applied by `predict` and `evaluate`.

use std::collections::VecDeque;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::labels::Counts;
use crate::error::{Error, Result};
use crate::util::fsio;

/// The file a decision is kept in, in a run or cross-validation folder.
pub const POSTPROCESSING_FILE: &str = "postprocessing.json";

/// Which classes keep only their largest connected component, and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Postprocessing {
    /// Classes whose smaller components are removed.
    pub largest_component: Vec<u8>,
    /// What the decision was made on, e.g. "2 validation cases".
    pub decided_on: String,
    /// The measurements behind it, per class.
    #[serde(default)]
    pub evidence: Vec<ClassEvidence>,
}

/// Summed Dice over the cases a class was measured on, without and with removal (sums, so the
/// evidence of several folds pools exactly).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassEvidence {
    pub class: u8,
    pub cases: usize,
    pub dice_sum_raw: f64,
    pub dice_sum_removed: f64,
}

impl ClassEvidence {
    fn gain(&self) -> f64 {
        (self.dice_sum_removed - self.dice_sum_raw) / self.cases.max(1) as f64
    }
}

/// How `predict` and `evaluate` post-process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PostprocessChoice {
    /// The decision recorded with the model (none recorded: every component kept).
    #[default]
    Auto,
    /// Keep every component.
    None,
    /// Keep only the largest component of every class.
    Largest,
}

impl Postprocessing {
    /// No removal, with the reason.
    pub fn keep_all(reason: &str) -> Self {
        Postprocessing {
            largest_component: Vec::new(),
            decided_on: reason.to_string(),
            evidence: Vec::new(),
        }
    }

    /// Removal for every class in `classes`.
    pub fn largest_for(classes: &[u8], reason: &str) -> Self {
        Postprocessing {
            largest_component: classes.to_vec(),
            decided_on: reason.to_string(),
            evidence: Vec::new(),
        }
    }

    /// Decides per class from `cases` (raw prediction, reference, dims `[nx, ny, nz]`): removal
    /// is kept where it raises the mean Dice over the cases whose reference or prediction has the
    /// class (voxels labelled `ignore` do not count). `what` names the cases for the record.
    pub fn decide(
        cases: &[(&[u8], &[u8], [usize; 3])],
        classes: &[u8],
        ignore: Option<u8>,
        what: &str,
    ) -> Self {
        let evidence = classes
            .iter()
            .map(|&class| {
                let mut e = ClassEvidence {
                    class,
                    ..ClassEvidence::default()
                };
                for &(pred, reference, dims) in cases {
                    let has = |l: &[u8]| l.iter().any(|&v| v == class);
                    if !has(reference) && !has(pred) {
                        continue;
                    }
                    let mut removed = pred.to_vec();
                    keep_largest_component(&mut removed, dims, &[class]);
                    e.cases += 1;
                    e.dice_sum_raw += Counts::of(pred, reference, class, ignore).dice();
                    e.dice_sum_removed += Counts::of(&removed, reference, class, ignore).dice();
                }
                e
            })
            .collect();
        Self::from_evidence(evidence, what)
    }

    /// The decision the (pooled) evidence supports: removal where it raised the mean Dice.
    pub fn from_evidence(evidence: Vec<ClassEvidence>, what: &str) -> Self {
        Postprocessing {
            largest_component: evidence
                .iter()
                .filter(|e| e.cases > 0 && e.gain() > 1e-9)
                .map(|e| e.class)
                .collect(),
            decided_on: what.to_string(),
            evidence,
        }
    }

    /// Pools the evidence of several decisions (e.g. the folds of a cross-validation).
    pub fn pool(parts: &[Postprocessing], what: &str) -> Self {
        let mut pooled: Vec<ClassEvidence> = Vec::new();
        for e in parts.iter().flat_map(|p| &p.evidence) {
            match pooled.iter_mut().find(|p| p.class == e.class) {
                Some(p) => {
                    p.cases += e.cases;
                    p.dice_sum_raw += e.dice_sum_raw;
                    p.dice_sum_removed += e.dice_sum_removed;
                }
                None => pooled.push(e.clone()),
            }
        }
        pooled.sort_by_key(|e| e.class);
        Self::from_evidence(pooled, what)
    }

    /// Applies the decision to a label map (`dims = [nx, ny, nz]`).
    pub fn apply(&self, labels: &mut [u8], dims: [usize; 3]) {
        keep_largest_component(labels, dims, &self.largest_component);
    }

    /// One line for logs: what is removed for which class, and on what it was decided.
    pub fn describe(&self, label_names: &[String]) -> String {
        let name = |c: u8| {
            label_names
                .get(c as usize)
                .cloned()
                .unwrap_or_else(|| format!("label {c}"))
        };
        let kept: Vec<String> = self.largest_component.iter().map(|&c| name(c)).collect();
        let what = if kept.is_empty() {
            "every connected component kept".to_string()
        } else {
            format!("largest component only for {}", kept.join(", "))
        };
        format!("post-processing: {what} ({})", self.decided_on)
    }

    /// Reads `DIR/postprocessing.json`; `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(POSTPROCESSING_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::invalid(&path, format!("not a post-processing decision: {e}")))
    }

    /// Writes `DIR/postprocessing.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("decision serialises");
        fsio::write_atomic(&dir.join(POSTPROCESSING_FILE), json.as_bytes())
    }
}

/// For each class in `classes`, keeps its largest connected component (26-connectivity); voxels of
/// smaller components become background (0). `dims` = `[nx, ny, nz]`, x fastest.
pub fn keep_largest_component(labels: &mut [u8], dims: [usize; 3], classes: &[u8]) {
    for &class in classes {
        let comps = components(labels, dims, class);
        if comps.len() <= 1 {
            continue;
        }
        let largest = comps
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| c.len())
            .map(|(i, _)| i)
            .unwrap_or(0);
        for (i, comp) in comps.iter().enumerate() {
            if i != largest {
                for &v in comp {
                    labels[v] = 0;
                }
            }
        }
    }
}

/// Voxel lists of the 26-connected components of `class`.
pub fn components(labels: &[u8], dims: [usize; 3], class: u8) -> Vec<Vec<usize>> {
    let [nx, ny, nz] = dims;
    let mut seen = vec![false; labels.len()];
    let mut out = Vec::new();
    let mut queue = VecDeque::new();
    for start in 0..labels.len() {
        if labels[start] != class || seen[start] {
            continue;
        }
        seen[start] = true;
        queue.push_back(start);
        let mut comp = Vec::new();
        while let Some(v) = queue.pop_front() {
            comp.push(v);
            let (x, y, z) = (v % nx, (v / nx) % ny, v / (nx * ny));
            for dz in -1i64..=1 {
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let (xx, yy, zz) = (x as i64 + dx, y as i64 + dy, z as i64 + dz);
                        if xx < 0
                            || yy < 0
                            || zz < 0
                            || xx >= nx as i64
                            || yy >= ny as i64
                            || zz >= nz as i64
                        {
                            continue;
                        }
                        let n = xx as usize + nx * (yy as usize + ny * zz as usize);
                        if labels[n] == class && !seen[n] {
                            seen[n] = true;
                            queue.push_back(n);
                        }
                    }
                }
            }
        }
        out.push(comp);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_islands_are_removed_and_diagonal_neighbours_connect() {
        let dims = [6, 6, 3];
        let mut l = vec![0u8; 108];
        let idx = |x: usize, y: usize, z: usize| x + 6 * (y + 6 * z);
        for x in 0..3 {
            for y in 0..3 {
                l[idx(x, y, 1)] = 1; // 9 voxels
            }
        }
        l[idx(3, 3, 2)] = 1; // touches (2,2,1) diagonally: same component
        l[idx(5, 0, 0)] = 1; // an island
        l[idx(5, 5, 2)] = 2;
        assert_eq!(components(&l, dims, 1).len(), 2);
        keep_largest_component(&mut l, dims, &[1, 2]);
        assert_eq!(l[idx(5, 0, 0)], 0);
        assert_eq!(l[idx(3, 3, 2)], 1);
        assert_eq!(
            l[idx(5, 5, 2)],
            2,
            "a single component of another class stays"
        );
        assert_eq!(l.iter().filter(|&&v| v == 1).count(), 10);
    }

    #[test]
    fn removal_is_kept_only_for_classes_where_it_raises_the_dice() {
        // Two cases of 8×1×1: class 1 is one organ with a false island (removal helps), class 2
        // two real parts (removal hurts).
        let dims = [8, 1, 1];
        let reference: [u8; 8] = [1, 1, 1, 0, 2, 0, 0, 2];
        let pred: [u8; 8] = [1, 1, 1, 0, 2, 0, 1, 2];
        let cases = [
            (&pred[..], &reference[..], dims),
            (&pred[..], &reference[..], dims),
        ];
        let d = Postprocessing::decide(&cases, &[1, 2], None, "2 cases");
        assert_eq!(d.largest_component, [1]);
        assert_eq!(d.evidence[0].cases, 2);
        let mut p = pred;
        d.apply(&mut p, dims);
        assert_eq!(p, reference);
        // Pooling the evidence of two folds decides as one pool of all their cases.
        let pooled = Postprocessing::pool(&[d.clone(), d.clone()], "4 cases");
        assert_eq!(pooled.largest_component, [1]);
        assert_eq!(pooled.evidence[0].cases, 4);
        // A class that is nowhere decides nothing.
        let none = Postprocessing::decide(&cases, &[3], None, "x");
        assert!(none.largest_component.is_empty());
        let names = ["bg".to_string(), "PZ".into(), "CG".into()];
        assert!(d.describe(&names).contains("largest component only for PZ"));
    }
}
