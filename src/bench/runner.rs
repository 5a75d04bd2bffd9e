//! Running every workload on every target, a row at a time (the run so far is handed out after
//! every row, so an interrupted run keeps what it measured).

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::config::{BenchConfig, Workload};
use super::report::{BenchRow, BenchRun, Machine};
use super::target::{BenchTarget, kernel_name};
use super::workloads::run_workload;
use crate::error::{Error, Result};

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
        planned_train: Some(super::workloads::planned(cfg, cfg.train.model.kernels)?),
        baseline: base,
        rows: Vec::new(),
        profiles: Vec::new(),
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
    if cfg.profile {
        for t in targets {
            eprintln!("{:<40} profiling every op", t.label);
            run.profiles.push(super::profile::profile(t, cfg)?);
            run.total_s = started.elapsed().as_secs_f64();
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
