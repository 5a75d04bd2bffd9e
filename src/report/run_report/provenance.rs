//! The data statement: which dataset the run was trained and evaluated on, read from its
//! `dataset.json`, and whether it is the synthetic phantoms. Phantom case ids deliberately mimic the
//! NCI-ISBI ids (`ProstateDx-01-0001`, …), so ids cannot tell the two apart: the dataset's name and
//! description (written by `unet3d synth`: "Synthetic prostate T2 phantoms (seed …)") decide.

use std::path::{Path, PathBuf};

use crate::data::dataset::{Dataset, DatasetSpec};

/// The warning every phantom report carries (also beside the published comparison).
pub(crate) const PHANTOM_WARNING: &str = "These are synthetic prostate phantoms (from `unet3d synth`), \
not patient scans. The phantoms are not NCI-ISBI: numbers on them are not comparable to published results.";

/// A dataset folder and what its `dataset.json` says, if it could be read here.
#[derive(Clone, Debug)]
pub(crate) struct DataId {
    pub path: PathBuf,
    pub spec: Option<DatasetSpec>,
    /// Why `dataset.json` could not be read.
    pub problem: Option<String>,
}

/// Whether a dataset name is the phantoms' ("synthetic-prostate").
pub(crate) fn phantom_name(name: &str) -> bool {
    name.to_lowercase().contains("synthetic")
}

impl DataId {
    pub fn identify(path: &Path) -> Self {
        match Dataset::open(path) {
            Ok(ds) => DataId {
                path: path.to_path_buf(),
                spec: Some(ds.spec),
                problem: None,
            },
            Err(e) => DataId {
                path: path.to_path_buf(),
                spec: None,
                problem: Some(e.to_string()),
            },
        }
    }

    pub fn is_phantom(&self) -> bool {
        self.spec.as_ref().is_some_and(|s| {
            phantom_name(&s.name) || s.description.to_lowercase().contains("phantom")
        })
    }

    /// A short name for tables: "synthetic phantoms", the dataset name, or the folder name.
    pub fn label(&self) -> String {
        if self.is_phantom() {
            return "synthetic phantoms".into();
        }
        match &self.spec {
            Some(s) if !s.name.is_empty() => s.name.clone(),
            _ => self.path.file_name().map_or_else(
                || self.path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
        }
    }

    /// One sentence: the folder, and the dataset's name and description (or why they are unknown).
    pub fn sentence(&self) -> String {
        match (&self.spec, &self.problem) {
            (Some(s), _) if s.description.is_empty() => {
                format!(
                    "`{}` (dataset \"{}\", no description)",
                    self.path.display(),
                    s.name
                )
            }
            (Some(s), _) => format!(
                "`{}` (dataset \"{}\": {})",
                self.path.display(),
                s.name,
                s.description
            ),
            (None, p) => format!(
                "`{}` (its dataset.json could not be read here: {}; the data are unidentified)",
                self.path.display(),
                p.as_deref().unwrap_or("unknown reason")
            ),
        }
    }
}
