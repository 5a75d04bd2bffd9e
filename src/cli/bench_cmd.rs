//! `unet3d bench`: every backend and kernel choice on the same workloads, in one run.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::bench::gpu_report::{GpuReportOptions, gpu_report};
use crate::bench::target::BackendFamily;
use crate::bench::{BenchConfig, Workload, run_bench, targets};
use crate::kernels::KernelChoice;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Backend families to measure (default: flex and every wgpu adapter).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "flex,wgpu")]
    pub backends: Vec<BackendFamily>,
    /// Convolution implementations to measure on each backend (`own`: the project's own, i.e.
    /// the WGSL shaders on wgpu and the CPU conv with its backward on flex; `wgsl` is accepted).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "builtin,own")]
    pub kernels: Vec<KernelChoice>,
    /// Workloads (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub workloads: Vec<Workload>,
    /// Training preset whose model, patch and batch the U-Net workloads use.
    #[arg(long, default_value = "demo")]
    pub preset: String,
    /// Tiny shapes and 2 repetitions: checks every path runs and every figure is finite (CI).
    #[arg(long)]
    pub quick: bool,
    /// Timed repetitions per workload (default 5; 2 with --quick).
    #[arg(long)]
    pub reps: Option<usize>,
    /// Stop timing a row once its timed calls took this many seconds (at least one call); the
    /// table's n column shows how many were timed.
    #[arg(long, value_name = "SECONDS")]
    pub row_budget: Option<f64>,
    /// Skip a target's remaining workloads once its rows took this many seconds (first calls
    /// included); skipped rows are marked in the table and JSON. For slow adapters (lavapipe).
    #[arg(long, value_name = "SECONDS")]
    pub target_budget: Option<f64>,
    /// Time each cubecl autotune candidate this many times (min = max samples) instead of
    /// cubecl's 3–10: on slow adapters such as lavapipe, burn's built-in conv backward spends
    /// minutes per shape tuning; 1 cuts that several-fold (first-call times only).
    #[arg(long, value_name = "N")]
    pub tune_samples: Option<usize>,
    /// Conv layer shape `batch,channels,d,h,w` (channels → channels, 3×3×3); repeat for several.
    #[arg(long)]
    pub conv: Vec<String>,
    /// Sliding-window volume `d,h,w` (or `d h w`).
    #[arg(long, value_delimiter = ',', num_args = 1..=3)]
    pub volume: Option<Vec<usize>>,
    /// Also profile every op of one U-Net forward, one training step (each op forward + backward,
    /// and the step's phases) and one sliding-window pass, per target (bench.md and bench.json;
    /// `benches/pytorch_peer.py --bench-json` prints PyTorch's beside it). Pair it with
    /// `--workloads unet-forward` for a short run.
    #[arg(long)]
    pub profile: bool,
    /// Speed-ups are relative to the first target whose label contains this (default: the first).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Folder for bench.md, bench.json and bench.png (gpu-report.md with --gpu-report).
    #[arg(long, default_value = "bench-out")]
    pub out: PathBuf,
    /// Instead of the table: one report of what the GPU does (adapters, the kernels checked
    /// against burn's ops on it, conv and training-step speed at the demo and small presets with
    /// both kernel choices and against the CPU path, a short demo's Dice) in gpu-report.md.
    #[arg(long)]
    pub gpu_report: bool,
    /// The adapter for --gpu-report: wgpu (a GPU) or wgpu-cpu (a software adapter, as a stand-in).
    #[arg(long, value_enum, default_value = "wgpu")]
    pub device: crate::backend::DeviceChoice,
    /// The adapter's fp32 peak in GFLOP/s, for --gpu-report when it is not in the built-in table.
    #[arg(long, value_name = "GFLOPS")]
    pub peak_gflops: Option<f64>,
    /// Training iterations of --gpu-report's short demo.
    #[arg(long, default_value_t = 100)]
    pub demo_iterations: usize,
}

pub fn bench_cmd(a: BenchArgs) -> Result<()> {
    if a.gpu_report {
        return gpu_report_cmd(&a);
    }
    let mut cfg = if a.quick {
        BenchConfig::quick()?
    } else {
        BenchConfig::standard(&a.preset)?
    };
    if !a.workloads.is_empty() {
        cfg.workloads = a.workloads.clone();
    }
    if let Some(r) = a.reps {
        cfg.reps = r;
    }
    cfg.row_budget_s = a.row_budget.or(cfg.row_budget_s);
    if !a.conv.is_empty() {
        cfg.conv = a
            .conv
            .iter()
            .map(|c| parse_shape(c))
            .collect::<Result<_>>()?;
    }
    if let Some(v) = &a.volume {
        cfg.volume = <[usize; 3]>::try_from(v.as_slice())
            .map_err(|_| anyhow::anyhow!("--volume {v:?}: expected d,h,w"))?;
    }
    cfg.profile = a.profile;
    cfg.tune_samples = a.tune_samples;
    cfg.target_budget_s = a.target_budget;
    cfg.validate()?;
    if let Some(n) = cfg.tune_samples {
        // Before any wgpu device opens: cubecl reads its configuration once.
        crate::backend::set_autotune_samples(n)?;
    }
    let targets = targets(&a.backends, &a.kernels)?;
    for t in &targets {
        println!("target: {} — {}", t.label, t.backend.describe());
    }
    // Saved after every row too, so an interrupted run keeps what it measured.
    let run = run_bench(&cfg, &targets, a.baseline.as_deref(), |partial| {
        if let Err(e) = partial.save(&a.out) {
            log::warn!("could not save the partial results: {e}");
        }
    })?;
    print!("{}", run.to_markdown());
    let [md, json, png] = run.save(&a.out)?;
    println!(
        "wrote {}, {} and {}",
        md.display(),
        json.display(),
        png.display()
    );
    if a.quick {
        run.check_complete()?;
        println!("quick bench: every row complete, every figure finite and positive");
    }
    Ok(())
}

fn gpu_report_cmd(a: &BenchArgs) -> Result<()> {
    if let Some(n) = a.tune_samples {
        crate::backend::set_autotune_samples(n)?;
    }
    let backend = crate::backend::Backend::select(a.device)?;
    println!("backend: {}", backend.describe());
    let opts = GpuReportOptions {
        out: a.out.clone(),
        peak_gflops: a.peak_gflops,
        demo_iterations: a.demo_iterations.max(1),
        reps: a.reps.unwrap_or(5),
        row_budget_s: a.row_budget.unwrap_or(10.0),
        target_budget_s: a.target_budget,
    };
    let path = gpu_report(&backend, &opts)?;
    print!("{}", std::fs::read_to_string(&path)?);
    println!("wrote {}", path.display());
    Ok(())
}

/// `"1,32,32,32,32"` → `[1, 32, 32, 32, 32]`.
fn parse_shape(text: &str) -> Result<[usize; 5]> {
    let v: Vec<usize> = text
        .split(',')
        .map(|p| p.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("--conv {text:?}: {e}"))?;
    <[usize; 5]>::try_from(v)
        .map_err(|_| anyhow::anyhow!("--conv {text:?}: expected batch,channels,d,h,w"))
}
