//! `unet3d bench`: the same workloads on every backend in one run — flex, and each wgpu adapter
//! with burn's built-in conv3d and with the hand-written WGSL kernels — timed the same way, as a
//! Markdown table, `bench.json` (machine, versions, config, every sample) and a PNG chart.
//!
//! Method: `warmup` untimed calls (the first one's time is reported apart as compile/autotune
//! time), then `reps` timed calls, each ending with a device sync; median, min and max; throughput
//! in voxels/s and GFLOP/s from the analytic FLOP counts; speed-up against a baseline row. With
//! `--profile`, where the time goes op by op ([`profile`]).

pub mod config;
pub mod gpu_report;
pub mod profile;
mod profile_ops;
pub mod report;
pub mod runner;
pub mod target;
pub mod timing;
pub mod workloads;

pub use config::{BenchConfig, Workload};
pub use report::{BenchRow, BenchRun};
pub use runner::run_bench;
pub use target::{BenchTarget, targets};
pub use timing::{Measurement, measure};
