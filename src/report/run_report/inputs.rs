//! What a report is made from: the run folder, and the optional evaluation and explore folders,
//! read once and checked (a corrupt file is an error naming it).

use std::path::{Path, PathBuf};

use super::provenance::{self, DataId};
use crate::cv::{CvSummary, load_summary};
use crate::error::{Error, Result};
use crate::metrics::evaluate::{Evaluation, load_evaluation};
use crate::report::explore::ExploreSummary;
use crate::run::checkpoint::{self, TrainState};
use crate::run::history::{Record, read_records};
use crate::run::{RunDir, RunInfo, TrainConfig};

/// Everything read from the input folders.
pub(crate) struct Inputs {
    pub run: PathBuf,
    pub config: TrainConfig,
    pub info: RunInfo,
    /// The last checkpoint's state (else the best one's); `None` before the first checkpoint.
    pub state: Option<TrainState>,
    /// `metrics.jsonl`, empty when the run has none.
    pub records: Vec<Record>,
    pub eval: Option<(PathBuf, Evaluation)>,
    pub explore: Option<(PathBuf, ExploreSummary)>,
    /// Cross-validation folders given with `--cv`, with their summaries.
    pub cvs: Vec<(PathBuf, CvSummary)>,
    /// The training data, and the evaluated data when an evaluation is given.
    pub train_data: DataId,
    pub eval_data: Option<DataId>,
}

impl Inputs {
    /// Reads the run folder (config.json and run.json required; checkpoint state and metrics log
    /// optional) and the optional evaluation and explore folders. A corrupt file is an error naming it.
    pub fn load(
        run: &Path,
        eval: Option<&Path>,
        explore: Option<&Path>,
        cvs: &[&Path],
    ) -> Result<Self> {
        let dir = RunDir::new(run);
        let config = TrainConfig::load(&dir.config())?;
        let info = RunInfo::load(&dir)?;
        let mut state = None;
        for dir in [dir.last(), dir.best()] {
            if dir.join(checkpoint::STATE_FILE).exists() {
                state = Some(checkpoint::load_state(&dir)?);
                break;
            }
        }
        let records = read_records(&RunDir::new(run).metrics())?;
        let eval = eval
            .map(|d| load_evaluation(d).map(|e| (d.to_path_buf(), e)))
            .transpose()?;
        let explore = explore
            .map(|d| load_explore(d).map(|e| (d.to_path_buf(), e)))
            .transpose()?;
        let train_data = DataId::identify(&info.dataset);
        let eval_data = eval.as_ref().map(|(_, e)| DataId::identify(&e.dataset));
        let cvs = cvs
            .iter()
            .map(|d| load_summary(d).map(|s| (d.to_path_buf(), s)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Inputs {
            cvs,
            run: run.to_path_buf(),
            config,
            info,
            state,
            records,
            eval,
            explore,
            train_data,
            eval_data,
        })
    }

    /// Whether any of the data involved are synthetic phantoms.
    pub fn phantom(&self) -> bool {
        self.train_data.is_phantom()
            || self.eval_data.as_ref().is_some_and(DataId::is_phantom)
            || self
                .explore
                .as_ref()
                .is_some_and(|(_, s)| provenance::phantom_name(&s.dataset))
    }
}

/// Reads `DIR/explore.json`.
pub fn load_explore(dir: &Path) -> Result<ExploreSummary> {
    let path = dir.join("explore.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::invalid(&path, format!("not an explore summary: {e}")))
}
