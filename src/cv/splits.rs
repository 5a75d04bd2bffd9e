//! The folds of a cross-validation: which cases each fold holds out, stratified so every fold
//! mixes the strata (NCI-ISBI's two scanner styles, `Prostate3T` and `ProstateDx`, read from the
//! case ids), deterministic in the seed, written once as `splits.json` in nnU-Net's
//! `splits_final.json` layout and reused, never re-drawn.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::util::fsio;
use crate::util::rng::Rng;

/// One fold: the cases it trains on and the ones it holds out (nnU-Net's keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldSplit {
    pub train: Vec<String>,
    pub val: Vec<String>,
}

/// The stratum of a case id: its part before the first `-` (`Prostate3T-01-0001` →
/// `Prostate3T`); ids without one form one stratum.
pub fn stratum(id: &str) -> &str {
    id.split_once('-').map_or("", |(s, _)| s)
}

/// `folds` folds over `ids`: each stratum shuffled with `seed` and dealt round-robin, continuing
/// where the previous stratum stopped, so fold sizes differ by at most one and every fold gets
/// every stratum that has enough cases.
pub fn make_splits(ids: &[String], folds: usize, seed: u64) -> Result<Vec<FoldSplit>> {
    if folds < 2 || folds > ids.len() {
        return Err(Error::config(format!(
            "cross-validation needs 2 <= folds <= cases, got {folds} folds for {} cases",
            ids.len()
        )));
    }
    let mut strata: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for id in ids {
        strata.entry(stratum(id)).or_default().push(id.clone());
    }
    let mut held_out: Vec<Vec<String>> = vec![Vec::new(); folds];
    let mut next = 0;
    for (i, members) in strata.values_mut().enumerate() {
        members.sort();
        Rng::new(seed).fork(i as u64).shuffle(members);
        for id in members.iter() {
            held_out[next % folds].push(id.clone());
            next += 1;
        }
    }
    Ok(held_out
        .into_iter()
        .map(|mut val| {
            val.sort();
            let mut train: Vec<String> = ids.iter().filter(|i| !val.contains(i)).cloned().collect();
            train.sort();
            FoldSplit { train, val }
        })
        .collect())
}

/// Reads `splits.json`.
pub fn load_splits(path: &Path) -> Result<Vec<FoldSplit>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::invalid(path, format!("not a list of folds: {e}")))
}

/// Writes `splits.json` atomically.
pub fn save_splits(path: &Path, splits: &[FoldSplit]) -> Result<()> {
    let json = serde_json::to_string_pretty(splits).expect("splits serialise");
    fsio::write_atomic(path, json.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        (1..=7)
            .map(|i| format!("ProstateDx-01-{i:04}"))
            .chain((1..=5).map(|i| format!("Prostate3T-01-{i:04}")))
            .collect()
    }

    #[test]
    fn splits_are_deterministic_stratified_and_partition_the_cases() {
        let a = make_splits(&ids(), 3, 42).unwrap();
        assert_eq!(
            a,
            make_splits(&ids(), 3, 42).unwrap(),
            "same seed, same split"
        );
        assert_ne!(
            a,
            make_splits(&ids(), 3, 43).unwrap(),
            "another seed, another split"
        );
        let mut all: Vec<String> = a.iter().flat_map(|f| f.val.clone()).collect();
        all.sort();
        let mut want = ids();
        want.sort();
        assert_eq!(all, want, "every case held out exactly once");
        for f in &a {
            assert_eq!(f.train.len() + f.val.len(), 12);
            assert!(f.train.iter().all(|t| !f.val.contains(t)));
            assert!((3..=5).contains(&f.val.len()), "sizes {}", f.val.len());
            for s in ["ProstateDx", "Prostate3T"] {
                assert!(
                    f.val.iter().any(|v| stratum(v) == s),
                    "{s} in every fold: {f:?}"
                );
            }
        }
        assert!(make_splits(&ids(), 1, 0).is_err());
        assert!(make_splits(&ids(), 13, 0).is_err());
        // Leave-one-out: one case per fold.
        assert!(
            make_splits(&ids(), 12, 0)
                .unwrap()
                .iter()
                .all(|f| f.val.len() == 1)
        );
    }
}
