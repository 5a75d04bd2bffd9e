//! Running every workload on every target, and the three outputs: a Markdown table, `bench.json`
//! and a PNG bar chart.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::{BenchConfig, Workload};
use super::target::{BenchTarget, kernel_name};
use super::workloads::{WorkloadResult, run_workload};
use crate::error::{Error, Result};
use crate::report::bar::{BarChart, BarGroup};
use crate::report::chart::series_color;
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
    fn detect() -> Self {
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
    /// Target label the speed-ups are relative to.
    pub baseline: String,
    pub rows: Vec<BenchRow>,
    pub total_s: f64,
    /// False in the copies saved while the run is still going (after every row).
    #[serde(default = "yes")]
    pub finished: bool,
}

fn yes() -> bool {
    true
}

/// Runs every workload of `cfg` on every target (a failure is recorded in its row, not fatal),
/// printing each row as it finishes and handing the run so far to `on_row` (to save partial
/// results). Once a target's rows took `cfg.target_budget_s`, its remaining rows are recorded as
/// skipped. Speed-ups are against the target whose label contains `baseline` (default: the
/// first target).
pub fn run_bench(
    cfg: &BenchConfig,
    targets: &[BenchTarget],
    baseline: Option<&str>,
    mut on_row: impl FnMut(&BenchRun),
) -> Result<BenchRun> {
    cfg.validate()?;
    let base = match baseline {
        None => targets.first().map(|t| t.label.clone()),
        Some(b) => targets
            .iter()
            .find(|t| t.label.contains(b))
            .map(|t| t.label.clone()),
    }
    .ok_or_else(|| {
        let labels: Vec<_> = targets.iter().map(|t| t.label.as_str()).collect();
        Error::config(format!(
            "bench: no target matches baseline {baseline:?}; targets: {}",
            labels.join(", ")
        ))
    })?;
    let started = std::time::Instant::now();
    let mut run = BenchRun {
        machine: Machine::detect(),
        config: cfg.clone(),
        baseline: base,
        rows: Vec::new(),
        total_s: 0.0,
        finished: false,
    };
    for t in targets {
        let target_started = std::time::Instant::now();
        for (i, (w, conv)) in cases(cfg).into_iter().enumerate() {
            let spent = target_started.elapsed().as_secs_f64();
            // The first row of a target always runs.
            let skipped = cfg
                .target_budget_s
                .filter(|&b| i > 0 && spent >= b)
                .map(|b| format!("target budget of {b:.0} s spent ({spent:.0} s)"));
            let (result, error) = if skipped.is_some() {
                (None, None)
            } else {
                let outcome = catch_unwind(AssertUnwindSafe(|| run_workload(w, t, cfg, conv)));
                match outcome {
                    Ok(Ok(r)) => (Some(r), None),
                    Ok(Err(e)) => (None, Some(e.to_string())),
                    Err(p) => (None, Some(panic_message(&p))),
                }
            };
            let row = BenchRow {
                target: t.label.clone(),
                backend: t.backend.describe(),
                kernels: kernel_name(t.kernels).into(),
                workload: w,
                case: case_name(w, conv),
                result,
                error,
                skipped,
                speedup: None,
            };
            eprintln!("{}", progress_line(&row));
            run.rows.push(row);
            run.total_s = started.elapsed().as_secs_f64();
            run.compute_speedups();
            on_row(&run);
        }
    }
    run.finished = true;
    Ok(run)
}

/// Every (workload, conv shape) to run: conv workloads once per shape, the others once.
fn cases(cfg: &BenchConfig) -> Vec<(Workload, [usize; 5])> {
    let mut out = Vec::new();
    for &w in &cfg.workloads {
        if w.is_conv() {
            out.extend(cfg.conv.iter().map(|&c| (w, c)));
        } else {
            out.push((w, cfg.conv[0]));
        }
    }
    out
}

fn case_name(w: Workload, conv: [usize; 5]) -> String {
    if w.is_conv() {
        let [_, c, d, h, wd] = conv;
        // ASCII: the chart's bitmap font has no arrows or multiplication signs.
        format!("{} {c}->{c} {d}x{h}x{wd}", w.name())
    } else {
        w.name().to_string()
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".into())
}

fn progress_line(r: &BenchRow) -> String {
    match (&r.result, &r.error) {
        (Some(res), _) => format!(
            "{:<40} {:<30} median {:.4} s (first call {:.2} s)",
            r.target,
            r.case,
            res.measurement.median(),
            res.measurement.first_call_s
        ),
        (None, Some(e)) => format!("{:<40} {:<30} failed: {e}", r.target, r.case),
        (None, None) => format!(
            "{:<40} {:<30} skipped: {}",
            r.target,
            r.case,
            r.skipped.as_deref().unwrap_or("?")
        ),
    }
}

impl BenchRun {
    /// Baseline median / row median for every row whose case the baseline target measured.
    fn compute_speedups(&mut self) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::target::{BackendFamily, targets};
    use crate::kernels::KernelChoice;

    #[test]
    fn a_spent_target_budget_skips_the_remaining_rows_and_partial_runs_are_reported() {
        let mut cfg = BenchConfig::quick().unwrap();
        cfg.workloads = vec![Workload::ConvForward, Workload::UnetForward];
        cfg.reps = 1;
        cfg.target_budget_s = Some(1e-9);
        let flex = targets(&[BackendFamily::Flex], &[KernelChoice::Builtin]).unwrap();
        let mut partial = Vec::new();
        let run = run_bench(&cfg, &flex, None, |r| {
            partial.push((r.rows.len(), r.finished))
        })
        .unwrap();
        assert_eq!(partial, [(1, false), (2, false)]);
        assert!(run.finished);
        assert!(run.rows[0].result.is_some() && run.rows[0].skipped.is_none());
        let skipped = &run.rows[1];
        assert!(skipped.result.is_none() && skipped.error.is_none());
        assert!(
            skipped
                .skipped
                .as_deref()
                .unwrap()
                .contains("target budget")
        );
        let md = run.to_markdown();
        assert!(
            md.contains("| skipped: target budget") && md.contains("targets stop after"),
            "{md}"
        );
        let err = run.check_complete().unwrap_err().to_string();
        assert!(err.contains("was skipped"), "{err}");
        let json = serde_json::to_string(&run).unwrap();
        let back: BenchRun = serde_json::from_str(&json).unwrap();
        assert_eq!(back.rows[1].skipped, skipped.skipped);
    }
}
