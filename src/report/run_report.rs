//! `unet3d report`: one readable account of a training run — which data, what was trained and how, the
//! holdout results, and how they sit beside the paper's tables and the published NCI-ISBI 2013 results —
//! written as `report.md` (figures copied beside it, linked relatively) and a standalone `report.html`
//! (figures embedded). Every number of ours is read from the run, evaluation and explore folders; the
//! only typed-in numbers are the cited published ones (`published.rs`). The output carries no date, so
//! the same inputs always give the same files.

mod base64;
mod doc;
mod fmt;
mod html;
mod markdown;
mod provenance;
mod published;
mod results;
mod setup;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use doc::Doc;
use provenance::DataId;

use super::explore::ExploreSummary;
use crate::error::{Error, Result};
use crate::infer::evaluate::{Evaluation, load_evaluation};
use crate::train::TrainConfig;
use crate::train::checkpoint::{self, TrainState};
use crate::train::history::Record;
use crate::train::trainer::{RunInfo, checkpoints_dir, load_run_info};
use crate::util::fsio;

/// The two files [`write_report`] writes.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportPaths {
    pub markdown: PathBuf,
    pub html: PathBuf,
}

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
    /// The training data, and the evaluated data when an evaluation is given.
    pub train_data: DataId,
    pub eval_data: Option<DataId>,
}

impl Inputs {
    /// Reads the run folder (config.json and run.json required; checkpoint state and metrics log
    /// optional) and the optional evaluation and explore folders. A corrupt file is an error naming it.
    pub fn load(run: &Path, eval: Option<&Path>, explore: Option<&Path>) -> Result<Self> {
        let config = TrainConfig::load(&run.join("config.json"))?;
        let info = load_run_info(run)?;
        let ckpts = checkpoints_dir(run);
        let mut state = None;
        for dir in [ckpts.join("last"), ckpts.join("best")] {
            if dir.join(checkpoint::STATE_FILE).exists() {
                state = Some(checkpoint::load_state(&dir)?);
                break;
            }
        }
        let records = read_records(&run.join("metrics.jsonl"))?;
        let eval = eval
            .map(|d| load_evaluation(d).map(|e| (d.to_path_buf(), e)))
            .transpose()?;
        let explore = explore
            .map(|d| load_explore(d).map(|e| (d.to_path_buf(), e)))
            .transpose()?;
        let train_data = DataId::identify(&info.dataset);
        let eval_data = eval.as_ref().map(|(_, e)| DataId::identify(&e.dataset));
        Ok(Inputs {
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

/// Reads the training log read-only (`History::open` would rewrite it); a missing log is empty.
fn read_records(path: &Path) -> Result<Vec<Record>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| Error::invalid(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// Writes `out/report.md`, `out/report.html` and the figures the Markdown links to. Everything is
/// read and rendered before the first file is written, and every file is written atomically.
pub fn write_report(
    run: &Path,
    eval: Option<&Path>,
    explore: Option<&Path>,
    out: &Path,
) -> Result<ReportPaths> {
    let inputs = Inputs::load(run, eval, explore)?;
    let doc = build(&inputs)?;
    let md = markdown::render(&doc);
    let page = html::render(&doc);
    fsio::create_dir(out)?;
    for (name, bytes) in &doc.images {
        fsio::write_atomic(&out.join(name), bytes)?;
    }
    let paths = ReportPaths {
        markdown: out.join("report.md"),
        html: out.join("report.html"),
    };
    fsio::write_atomic(&paths.markdown, md.as_bytes())?;
    fsio::write_atomic(&paths.html, page.as_bytes())?;
    Ok(paths)
}

/// The report's sections, in reading order.
fn build(inputs: &Inputs) -> Result<Doc> {
    let name = inputs.run.file_name().map_or_else(
        || inputs.run.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut doc = Doc::new(&format!("3D U-Net run report: {name}"));
    if let Some((_, e)) = &inputs.eval {
        doc.para(headline(e));
    }
    provenance::section(&mut doc, inputs);
    setup::data_summary(&mut doc, inputs)?;
    setup::model_and_training(&mut doc, inputs)?;
    results::holdout(&mut doc, inputs)?;
    results::comparison(&mut doc, inputs);
    results::reproduce(&mut doc, inputs);
    Ok(doc)
}

/// One line with the holdout Dice per class, the case count and the data, e.g. "Holdout Dice:
/// peripheral zone 0.871, central gland 0.912 (n = 4, synthetic phantoms)".
pub fn headline(eval: &Evaluation) -> String {
    let dice: Vec<String> = eval
        .summary
        .classes
        .iter()
        .filter(|c| c.class != 0)
        .map(|c| {
            let v = c
                .dice
                .as_ref()
                .map_or("–".to_string(), |s| format!("{:.3}", s.mean));
            format!("{} {v}", c.name)
        })
        .collect();
    format!(
        "Holdout Dice: {} (n = {}, {})",
        dice.join(", "),
        eval.summary.n_cases,
        DataId::identify(&eval.dataset).label()
    )
}
