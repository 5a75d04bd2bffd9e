//! What one `unet3d bench` measured (the machine, the config, a row per target and workload) and
//! its three outputs: a Markdown table, `bench.json` and a PNG bar chart.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::{BenchConfig, Workload};
use super::profile::Profile;
use super::workloads::WorkloadResult;
use crate::error::{Error, Result};
use crate::plot::bar::{BarChart, BarGroup};
use crate::plot::chart::series_color;
use crate::run::TrainConfig;
use crate::util::fsio;

/// One (target, workload) measurement, or why it failed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchRow {
    pub target: String,
    /// Backend, adapter name, graphics API and type.
    pub backend: String,
    pub kernels: String,
    pub workload: Workload,
    /// Workload name, with the layer shape for conv workloads (rows with the same case compare).
    pub case: String,
    pub result: Option<WorkloadResult>,
    pub error: Option<String>,
    /// Why the row was not run (its target's time budget was spent); `None` = it ran.
    #[serde(default)]
    pub skipped: Option<String>,
    /// Baseline median / this median for the same workload (> 1: faster than the baseline).
    pub speedup: Option<f64>,
}

/// Where and with what a run was made.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    pub os: String,
    pub arch: String,
    pub cpu: String,
    pub threads: usize,
    pub unet3d_version: String,
    pub burn_version: String,
}

impl Machine {
    pub(super) fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            cpu,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            unet3d_version: env!("CARGO_PKG_VERSION").into(),
            burn_version: "0.22.1".into(),
        }
    }
}

/// Everything one `unet3d bench` measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchRun {
    pub machine: Machine,
    pub config: BenchConfig,
    /// The preset's training config after its pooling plan: exactly the network, patches and
    /// batches the U-Net workloads timed (what `benches/pytorch_peer.py --bench-json` rebuilds).
    /// `None` in files written before it was recorded.
    #[serde(default)]
    pub planned_train: Option<TrainConfig>,
    /// Target label the speed-ups are relative to.
    pub baseline: String,
    pub rows: Vec<BenchRow>,
    /// Per-op profiles (`--profile`), one per target; empty without it and in older files.
    #[serde(default)]
    pub profiles: Vec<Profile>,
    pub total_s: f64,
    /// False in the copies saved while the run is still going (after every row).
    #[serde(default = "yes")]
    pub finished: bool,
}

fn yes() -> bool {
    true
}

impl BenchRun {
    /// Baseline median / row median for every row whose case the baseline target measured.
    pub(super) fn compute_speedups(&mut self) {
        for i in 0..self.rows.len() {
            let base_median = self
                .rows
                .iter()
                .find(|r| r.target == self.baseline && r.case == self.rows[i].case)
                .and_then(|r| r.result.as_ref())
                .map(|r| r.measurement.median());
            if let (Some(b), Some(r)) = (base_median, self.rows[i].result.as_ref()) {
                self.rows[i].speedup = Some(b / r.measurement.median());
            }
        }
    }

    /// The table: one line per (target, workload).
    pub fn to_markdown(&self) -> String {
        let m = &self.machine;
        let mut s = format!(
            "unet3d bench — {} ({} threads, {} {}), unet3d {}, burn {}; preset {}, up to {} timed reps after {} warm-up{}{}; speed-up vs {}\n\n",
            m.cpu,
            m.threads,
            m.os,
            m.arch,
            m.unet3d_version,
            m.burn_version,
            self.config.preset,
            self.config.reps,
            self.config.warmup,
            self.config.row_budget_s.map_or(String::new(), |b| format!(
                ", rows stop after {b:.0} s of timed calls"
            )),
            self.config.tune_samples.map_or(String::new(), |n| format!(
                ", cubecl autotune {n} sample(s) per candidate"
            )) + &self
                .config
                .target_budget_s
                .map_or(String::new(), |b| format!(", targets stop after {b:.0} s")),
            self.baseline
        );
        s += "| target | workload | shape | n | median s | min s | max s | first call s | Mvoxel/s | GFLOP/s | device MB reserved so far | speed-up |\n";
        s += "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        for r in &self.rows {
            match &r.result {
                Some(res) => {
                    let me = &res.measurement;
                    let med = me.median();
                    s += &format!(
                        "| {} | {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.2} | {:.2} | {:.2} | {} | {} |\n",
                        r.target,
                        r.case,
                        res.shape,
                        me.samples_s.len(),
                        med,
                        me.min(),
                        me.max(),
                        me.first_call_s,
                        res.voxels / med / 1e6,
                        res.flops / med / 1e9,
                        res.reserved_bytes
                            .map_or("–".into(), |b| format!("{:.0}", b as f64 / 1e6)),
                        r.speedup.map_or("–".into(), |x| format!("{x:.2}×")),
                    )
                }
                None => {
                    let why = match &r.skipped {
                        Some(reason) => format!("skipped: {reason}"),
                        None => format!("failed: {}", r.error.as_deref().unwrap_or("?")),
                    };
                    s += &format!(
                        "| {} | {} | {} | | | | | | | | | |\n",
                        r.target,
                        r.case,
                        why.replace('|', "/")
                    )
                }
            }
        }
        for p in &self.profiles {
            s += "\n";
            s += &p.to_markdown();
        }
        if self.finished {
            s += &format!("\ntotal {:.0} s\n", self.total_s);
        } else {
            s += &format!("\nstill running: {:.0} s so far\n", self.total_s);
        }
        s
    }

    /// Median seconds per case and target, log scale.
    pub fn chart(&self) -> BarChart {
        let mut targets: Vec<String> = Vec::new();
        let mut categories: Vec<String> = Vec::new();
        for r in &self.rows {
            if !targets.contains(&r.target) {
                targets.push(r.target.clone());
            }
            if !categories.contains(&r.case) {
                categories.push(r.case.clone());
            }
        }
        let groups = targets
            .iter()
            .enumerate()
            .map(|(i, t)| BarGroup {
                name: t.clone(),
                values: categories
                    .iter()
                    .map(|c| {
                        self.rows
                            .iter()
                            .find(|r| &r.target == t && &r.case == c)
                            .and_then(|r| r.result.as_ref())
                            .map_or(f64::NAN, |r| r.measurement.median())
                    })
                    .collect(),
                color: series_color(i),
            })
            .collect();
        BarChart {
            title: format!("unet3d bench: median time per call ({})", self.machine.cpu),
            y_label: "seconds (log scale, lower is faster)".into(),
            categories,
            groups,
            log_y: true,
            value_labels: true,
        }
    }

    /// Writes `bench.md`, `bench.json` and `bench.png` into `dir` (atomically each).
    pub fn save(&self, dir: &Path) -> Result<[PathBuf; 3]> {
        fsio::create_dir(dir)?;
        let md = dir.join("bench.md");
        fsio::write_atomic(&md, self.to_markdown().as_bytes())?;
        let json = dir.join("bench.json");
        let text = serde_json::to_string_pretty(self).expect("bench results serialise");
        fsio::write_atomic(&json, text.as_bytes())?;
        let png = dir.join("bench.png");
        self.chart().save(&png)?;
        Ok([md, json, png])
    }

    /// Every row has a result whose figures are finite and positive (the `--quick` smoke check).
    pub fn check_complete(&self) -> Result<()> {
        for r in &self.rows {
            let Some(res) = &r.result else {
                let why = match &r.skipped {
                    Some(reason) => format!("was skipped: {reason}"),
                    None => format!("failed: {}", r.error.as_deref().unwrap_or("?")),
                };
                return Err(Error::config(format!(
                    "bench: {} / {} {why}",
                    r.target, r.case
                )));
            };
            let m = &res.measurement;
            let figures = [
                m.median(),
                m.min(),
                m.max(),
                m.first_call_s,
                res.flops,
                res.voxels,
            ];
            if figures.iter().any(|v| !(v.is_finite() && *v > 0.0)) || r.speedup.is_none() {
                return Err(Error::config(format!(
                    "bench: {} / {} has a missing, non-finite or non-positive figure",
                    r.target, r.case
                )));
            }
        }
        Ok(())
    }
}
