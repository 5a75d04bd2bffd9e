//! `run.json`: the facts about a run that inference needs besides its config (label names, the
//! spacing volumes are resampled to), and a few that reports show (backend, sizes).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::layout::RunDir;
use crate::error::{Error, Result};
use crate::util::fsio;

/// Facts about a run that inference needs besides the config: written once as `RUN/run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub dataset: PathBuf,
    /// Label names by value (index = label value).
    pub label_names: Vec<String>,
    /// The spacing (mm, i/j/k) volumes are resampled to before the network.
    pub target_spacing: [f64; 3],
    pub backend: String,
    pub parameters: usize,
    pub train_cases: usize,
    pub validation_cases: usize,
}

impl RunInfo {
    /// Reads `RUN/run.json`.
    pub fn load(run: &RunDir) -> Result<Self> {
        let path = run.info();
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::invalid(&path, format!("not a run description: {e}")))
    }

    /// Writes `RUN/run.json` atomically.
    pub fn save(&self, run: &RunDir) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("run info serialises");
        fsio::write_atomic(&run.info(), json.as_bytes())
    }
}
