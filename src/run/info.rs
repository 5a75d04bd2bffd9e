//! `run.json`: the facts about a run that inference needs besides its config (label names, the
//! spacing volumes are resampled to), and a few that reports show (backend, sizes).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::config::{FORMAT_VERSION, check_format_version};
use super::layout::RunDir;
use crate::error::{Error, Result};
use crate::util::fsio;

/// Facts about a run that inference needs besides the config: written once as `RUN/run.json`.
/// Inference needs the label names and the target spacing; the rest has defaults, so a file from
/// an earlier version loads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run-folder format ([`FORMAT_VERSION`] when written; 0 for files from before it).
    #[serde(default)]
    pub format_version: u32,
    #[serde(default)]
    pub dataset: PathBuf,
    /// Label names by value (index = label value).
    pub label_names: Vec<String>,
    /// The spacing (mm, i/j/k) volumes are resampled to before the network.
    pub target_spacing: [f64; 3],
    #[serde(default)]
    pub backend: String,
    #[serde(default)]
    pub parameters: usize,
    #[serde(default)]
    pub train_cases: usize,
    #[serde(default)]
    pub validation_cases: usize,
}

impl RunInfo {
    /// Reads `RUN/run.json`.
    pub fn load(run: &RunDir) -> Result<Self> {
        let path = run.info();
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let info: RunInfo = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(&path, format!("not a run description: {e}")))?;
        check_format_version(&path, info.format_version)?;
        Ok(info)
    }

    /// Writes `RUN/run.json` atomically.
    pub fn save(&self, run: &RunDir) -> Result<()> {
        let current = RunInfo {
            format_version: FORMAT_VERSION,
            ..self.clone()
        };
        let json = serde_json::to_string_pretty(&current).expect("run info serialises");
        fsio::write_atomic(&run.info(), json.as_bytes())
    }
}
