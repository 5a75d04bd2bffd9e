//! `unet3d bench --gpu-report`: one command that says what a GPU does with unet3d, for anyone
//! with a GPU to send back comparable numbers. In one run it
//!
//! 1. lists the wgpu adapters and opens the chosen one (`--device`, a GPU by default);
//! 2. checks the project's kernels against burn's ops on it (output and every gradient);
//! 3. benchmarks a conv layer (forward, forward + backward) and a training step at the `demo`
//!    and `small` presets with the project's kernels and burn's built-in ones on the adapter, and
//!    the CPU path (flex) for comparison;
//! 4. trains the `demo` preset shortly on phantoms on the adapter and evaluates it (Dice);
//!
//! and writes `gpu-report.md`: adapter, graphics API and driver; GFLOP/s of the conv forward and
//! backward, ours against burn's, and as a fraction of the adapter's fp32 peak (from a table of
//! known GPUs or `--peak-gflops`); the training step against the CPU path; the demo's Dice.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use super::config::{BenchConfig, Workload};
use super::report::BenchRun;
use super::runner::run_bench;
use super::target::{BenchTarget, flex_kernel_name, kernel_name};
use crate::backend::{AdapterSummary, Backend, list_adapters};
use crate::data::dataset::Split;
use crate::data::synth::phantom::PhantomConfig;
use crate::data::synth::synth_dataset;
use crate::error::{Error, Result};
use crate::infer::Ensemble;
use crate::infer::predict::{PredictOptions, Predictor};
use crate::kernels::KernelChoice;
use crate::kernels::selfcheck::{SelfCheck, self_check};
use crate::metrics::evaluate::evaluate;
use crate::run::TrainConfig;
use crate::train::{TrainOptions, train};
use crate::util::fsio;

/// What the report runs.
#[derive(Clone, Debug)]
pub struct GpuReportOptions {
    pub out: PathBuf,
    /// The adapter's fp32 peak in GFLOP/s, when it is not in [`known_peak_gflops`].
    pub peak_gflops: Option<f64>,
    /// Training iterations of the short demo.
    pub demo_iterations: usize,
    /// Timed calls per benchmark row, and the seconds after which a row stops early.
    pub reps: usize,
    pub row_budget_s: f64,
    /// Skip a benchmark target's remaining rows after this many seconds (slow adapters).
    pub target_budget_s: Option<f64>,
}

/// Published fp32 peaks (GFLOP/s) of common GPUs, matched by a name fragment; the first match
/// wins, so more specific names come first. Vendor figures at boost clock.
pub fn known_peak_gflops(adapter_name: &str) -> Option<f64> {
    const TABLE: &[(&str, f64)] = &[
        ("H200", 66_900.0),
        ("H100 80GB HBM3", 66_900.0),
        ("H100 PCIe", 51_200.0),
        ("H100", 51_200.0),
        ("A100", 19_500.0),
        ("A10G", 31_200.0),
        ("A10", 31_200.0),
        ("L40S", 91_600.0),
        ("L4", 30_300.0),
        ("V100", 15_700.0),
        ("T4", 8_100.0),
        ("RTX 4090", 82_600.0),
        ("RTX 4080", 48_700.0),
        ("RTX 4070", 29_100.0),
        ("RTX 4060", 15_100.0),
        ("RTX 3090", 35_600.0),
        ("RTX 3080", 29_800.0),
        ("RTX 3070", 20_300.0),
        ("RTX 3060", 12_700.0),
        ("RTX 2080 Ti", 13_400.0),
        ("RX 7900 XTX", 61_400.0),
        ("RX 7900 XT", 51_600.0),
        ("RX 6900 XT", 23_000.0),
        ("RX 6800 XT", 20_700.0),
        ("Arc A770", 19_700.0),
        ("M3 Max", 16_400.0),
        ("M2 Ultra", 27_200.0),
        ("M2 Max", 13_600.0),
        ("M2 Pro", 6_800.0),
        ("M1 Ultra", 21_000.0),
        ("M1 Max", 10_400.0),
        ("M1 Pro", 5_200.0),
        ("Apple M3", 4_100.0),
        ("Apple M2", 3_600.0),
        ("Apple M1", 2_600.0),
    ];
    TABLE
        .iter()
        .find(|(fragment, _)| adapter_name.contains(fragment))
        .map(|&(_, peak)| peak)
}

/// The short demo's result.
struct DemoResult {
    iterations: usize,
    train_s: f64,
    dice: Vec<(String, f64)>,
}

/// Runs the report on `backend` (a wgpu adapter) and writes `OUT/gpu-report.md`.
pub fn gpu_report(backend: &Backend, opts: &GpuReportOptions) -> Result<PathBuf> {
    let started = Instant::now();
    let adapter = backend
        .adapter
        .clone()
        .ok_or_else(|| Error::Backend("--gpu-report needs a wgpu device (--device wgpu)".into()))?;
    fsio::create_dir(&opts.out)?;
    println!("[1/4] adapters");
    let adapters = list_adapters();

    println!("[2/4] the project's kernels against burn's ops on {adapter}");
    let checks = self_check(&backend.device);
    for c in &checks {
        println!(
            "      {} {}: max rel err {:.1e}",
            if c.passed() { "ok  " } else { "FAIL" },
            c.case,
            c.max_rel_err
        );
    }

    println!("[3/4] benchmarks (demo and small presets)");
    let mut benches = Vec::new();
    for preset in ["demo", "small"] {
        benches.push((preset, bench(backend, preset, opts)?));
    }

    println!("[4/4] a short demo on {adapter}");
    let demo = short_demo(backend, opts)?;

    let md = markdown(
        &adapter,
        &adapters,
        &checks,
        &benches,
        &demo,
        opts.peak_gflops
            .or_else(|| known_peak_gflops(&adapter.name)),
        started.elapsed().as_secs_f64(),
    );
    let path = opts.out.join("gpu-report.md");
    fsio::write_atomic(&path, md.as_bytes())?;
    Ok(path)
}

/// One conv layer (forward, fwd+bwd) and a training step at `preset`: the adapter with both
/// kernel choices, then flex with the project's kernels.
fn bench(backend: &Backend, preset: &str, opts: &GpuReportOptions) -> Result<BenchRun> {
    let mut cfg = BenchConfig::standard(preset)?;
    cfg.workloads = vec![
        Workload::ConvForward,
        Workload::ConvTrain,
        Workload::TrainStep,
    ];
    cfg.conv = vec![[1, 32, 32, 32, 32]];
    cfg.reps = opts.reps;
    cfg.row_budget_s = Some(opts.row_budget_s);
    cfg.target_budget_s = opts.target_budget_s;
    let name = backend
        .adapter
        .as_ref()
        .map_or("wgpu".into(), |a| a.name.clone());
    let mut targets: Vec<BenchTarget> = [KernelChoice::Own, KernelChoice::Builtin]
        .into_iter()
        .map(|k| BenchTarget {
            label: format!("{} wgpu {name}", kernel_name(k)),
            backend: backend.clone().with_kernels(Some(k)),
            kernels: k,
        })
        .collect();
    targets.push(BenchTarget {
        label: format!("{} flex", flex_kernel_name(KernelChoice::Own)),
        backend: Backend::flex().with_kernels(Some(KernelChoice::Own)),
        kernels: KernelChoice::Own,
    });
    let dir = opts.out.join(format!("bench-{preset}"));
    let run = run_bench(&cfg, &targets, None, |partial| {
        if let Err(e) = partial.save(&dir) {
            log::warn!("could not save the partial results: {e}");
        }
    })?;
    run.save(&dir)?;
    Ok(run)
}

/// The demo preset for a few iterations on 6 phantoms, evaluated on the test phantoms.
fn short_demo(backend: &Backend, opts: &GpuReportOptions) -> Result<DemoResult> {
    let root = opts.out.join("demo");
    let data = root.join("data");
    let ds = if data.join("dataset.json").exists() {
        crate::data::dataset::Dataset::open(&data)?
    } else {
        synth_dataset(&data, 6, 2013, &PhantomConfig::default())?
    };
    let mut cfg = TrainConfig::preset("demo")?;
    cfg.iterations = opts.demo_iterations;
    cfg.val_every = opts.demo_iterations;
    let run = root.join("run");
    let resume = run.join("checkpoints/last/state.json").exists();
    let outcome = train(
        &ds,
        &run,
        cfg,
        backend,
        &TrainOptions {
            resume,
            progress: false,
            iterations: Some(opts.demo_iterations),
            ..TrainOptions::default()
        },
    )?;
    let predictor = Predictor::load(&run, backend)?;
    let eval = evaluate(
        &Ensemble::single(predictor)?,
        &ds,
        Split::Test,
        &root.join("eval"),
        &PredictOptions::default(),
        &backend.describe(),
    )?;
    Ok(DemoResult {
        iterations: outcome.state.step,
        train_s: outcome.state.elapsed_s,
        dice: eval.mean_dice(),
    })
}

/// Median seconds and GFLOP/s of `workload` for the target whose label starts with `prefix`.
fn row(run: &BenchRun, prefix: &str, workload: Workload) -> Option<(f64, f64)> {
    let r = run
        .rows
        .iter()
        .find(|r| r.target.starts_with(prefix) && r.workload == workload)?;
    let res = r.result.as_ref()?;
    let median = res.measurement.median();
    Some((median, res.flops / median / 1e9))
}

fn markdown(
    adapter: &AdapterSummary,
    adapters: &[AdapterSummary],
    checks: &[SelfCheck],
    benches: &[(&str, BenchRun)],
    demo: &DemoResult,
    peak: Option<f64>,
    total_s: f64,
) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "# unet3d GPU report\n");
    let _ = writeln!(
        w,
        "Adapter: **{}** ({}, {}), driver: {}. unet3d {}, burn 0.22.1. Report took {:.0} s.\n",
        adapter.name,
        adapter.api,
        adapter.device_type,
        if adapter.driver.is_empty() {
            "unknown"
        } else {
            &adapter.driver
        },
        env!("CARGO_PKG_VERSION"),
        total_s
    );
    let peak_note = match peak {
        Some(p) => format!("fp32 peak {:.1} TFLOP/s", p / 1000.0),
        None => "fp32 peak unknown (pass --peak-gflops)".into(),
    };
    let _ = writeln!(w, "{peak_note}.\n\nAll adapters seen:\n");
    for a in adapters {
        let _ = writeln!(w, "- {a}, driver {}", a.driver);
    }
    let passed = checks.iter().filter(|c| c.passed()).count();
    let _ = writeln!(
        w,
        "\n## Kernels against burn's ops\n\n{passed} of {} cases within {:.0e} (output and every \
         gradient of the fused conv, against burn's conv3d and autodiff on flex); worst relative \
         error {:.1e}.\n",
        checks.len(),
        crate::kernels::selfcheck::TOLERANCE,
        checks.iter().map(|c| c.max_rel_err).fold(0f32, f32::max)
    );
    for c in checks.iter().filter(|c| !c.passed()) {
        let _ = writeln!(w, "- FAILED: {} (rel err {:.2e})", c.case, c.max_rel_err);
    }
    let own = kernel_name(KernelChoice::Own);
    let builtin = kernel_name(KernelChoice::Builtin);
    let cpu = flex_kernel_name(KernelChoice::Own);
    let _ = writeln!(
        w,
        "## Speed\n\nMedian seconds per call; conv 32→32 at 32³, batch 1 (GFLOP/s from the \
         analytic count{}).\n",
        if peak.is_some() {
            ", and as a share of the fp32 peak"
        } else {
            ""
        }
    );
    let _ = writeln!(
        w,
        "| preset | workload | ours (WGSL) s | GFLOP/s | share of peak | burn built-in s | GFLOP/s | ours vs built-in | CPU (flex) s | GPU vs CPU |"
    );
    let _ = writeln!(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let fmt = |v: Option<f64>, d: usize| v.map_or("–".to_string(), |v| format!("{v:.d$}"));
    for (preset, run) in benches {
        for workload in [
            Workload::ConvForward,
            Workload::ConvTrain,
            Workload::TrainStep,
        ] {
            let ours = row(run, own, workload);
            let theirs = row(run, builtin, workload);
            let flex = row(run, cpu, workload);
            let share = ours
                .zip(peak)
                .map(|((_, gf), p)| format!("{:.1} %", 100.0 * gf / p));
            let ratio = |a: Option<(f64, f64)>, b: Option<(f64, f64)>| {
                a.zip(b).map(|((a, _), (b, _))| format!("{:.2}×", b / a))
            };
            let _ = writeln!(
                w,
                "| {preset} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                workload.name(),
                fmt(ours.map(|o| o.0), 4),
                fmt(ours.map(|o| o.1), 1),
                share.unwrap_or_else(|| "–".into()),
                fmt(theirs.map(|o| o.0), 4),
                fmt(theirs.map(|o| o.1), 1),
                ratio(ours, theirs).unwrap_or_else(|| "–".into()),
                fmt(flex.map(|o| o.0), 4),
                ratio(ours, flex).unwrap_or_else(|| "–".into()),
            );
        }
    }
    let dice: Vec<String> = demo
        .dice
        .iter()
        .map(|(n, d)| format!("{n} {d:.3}"))
        .collect();
    let _ = writeln!(
        w,
        "\n## A short demo\n\nThe `demo` preset, {} iterations on 6 phantoms on this adapter \
         ({:.0} s of training, {:.2} s per step); held-out Dice: {}.\n",
        demo.iterations,
        demo.train_s,
        demo.train_s / demo.iterations.max(1) as f64,
        dice.join(", ")
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_gpus_have_a_peak_and_specific_names_win() {
        assert_eq!(known_peak_gflops("NVIDIA H100 80GB HBM3"), Some(66_900.0));
        assert_eq!(known_peak_gflops("NVIDIA H100 PCIe"), Some(51_200.0));
        assert_eq!(known_peak_gflops("Apple M1 Max"), Some(10_400.0));
        assert_eq!(known_peak_gflops("llvmpipe (LLVM 15.0.6, 256 bits)"), None);
    }
}
