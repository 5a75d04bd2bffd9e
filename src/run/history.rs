//! The training log: one JSON line per iteration in `RUN/metrics.jsonl`, appended as training goes
//! so it survives a crash; [`read_records`] reads it without touching it (for reports).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::layout::RunDir;
use crate::error::{Error, Result};
use crate::util::fsio;

/// One iteration of training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 1-based iteration number.
    pub step: usize,
    pub lr: f64,
    pub loss: f64,
    pub ce: f64,
    pub dice_loss: f64,
    /// Seconds the step waited for its batch.
    pub data_wait_s: f64,
    /// Seconds the whole step took.
    pub step_s: f64,
    /// Validation Dice per foreground class, when validated at this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_dice: Option<Vec<f64>>,
}

/// The log of a run being trained.
pub struct History {
    path: PathBuf,
    pub records: Vec<Record>,
}

impl History {
    /// Opens `RUN/metrics.jsonl`, keeping only records up to `keep_until` (the resumed step), so a resumed
    /// run's log has no duplicate or orphaned steps.
    pub fn open(run: &Path, keep_until: usize) -> Result<Self> {
        let path = RunDir::new(run).metrics();
        let mut records = read_records(&path)?;
        records.retain(|r| r.step <= keep_until);
        let mut text = String::new();
        for r in &records {
            text.push_str(&serde_json::to_string(r).expect("record serialises"));
            text.push('\n');
        }
        fsio::write_atomic(&path, text.as_bytes())?;
        Ok(History { path, records })
    }

    pub fn append(&mut self, record: Record) -> Result<()> {
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        writeln!(
            f,
            "{}",
            serde_json::to_string(&record).expect("record serialises")
        )
        .map_err(|e| Error::io(&self.path, e))?;
        self.records.push(record);
        Ok(())
    }

    /// Loss smoothed over a trailing window, for display.
    pub fn smoothed_loss(&self, window: usize) -> Option<f64> {
        let n = self.records.len().min(window.max(1));
        (n > 0).then(|| {
            self.records[self.records.len() - n..]
                .iter()
                .map(|r| r.loss)
                .sum::<f64>()
                / n as f64
        })
    }

    /// Share of wall time spent waiting for data over the last `window` steps.
    pub fn data_wait_share(&self, window: usize) -> f64 {
        let tail = &self.records[self.records.len().saturating_sub(window)..];
        let step: f64 = tail.iter().map(|r| r.step_s).sum();
        if step > 0.0 {
            tail.iter().map(|r| r.data_wait_s).sum::<f64>() / step
        } else {
            0.0
        }
    }
}

/// Reads a training log read-only (`History::open` would rewrite it); a missing log is empty. A bad
/// line is an error naming the file and the line.
pub fn read_records(path: &Path) -> Result<Vec<Record>> {
    let text = match fs::read_to_string(path) {
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
