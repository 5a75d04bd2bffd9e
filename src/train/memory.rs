//! A check before training starts that one training step fits in memory, so `--batch 100000`
//! is a one-line error with advice, as nnU-Net and MONAI users expect, instead of an abort a
//! minute in.
//!
//! The estimate counts what a step keeps alive: the activations autodiff stores for the backward
//! pass (every conv block's conv, norm and activation outputs, the up-convolutions and the
//! concatenations) and their gradients, the parameters with their gradients and AdamW's two
//! moments, and the batches the loader queues on the host. It errs high rather than low; a step
//! that passes can still run out of memory on a device, which the step guard reports.

use crate::error::{Error, Result};
use crate::model::model_stats;
use crate::run::TrainConfig;

/// Values kept per counted activation: the forward tensors (conv, norm, activation) and as many
/// gradients during the backward pass.
const KEPT_PER_ACTIVATION: u64 = 6;

/// Estimated bytes of one training step of `cfg` (device side) and of the host's batch queue.
pub fn step_bytes(cfg: &TrainConfig) -> (u64, u64) {
    let m = &cfg.model;
    let [d, h, w] = cfg.sampler.patch.map(|v| v as u64);
    let batch = cfg.sampler.batch_size as u64;
    let mut voxels = d * h * w;
    let mut per_sample = 0u64;
    for level in 0..=m.depth {
        let [_, c1, c2] = m.encoder_channels(level);
        per_sample = per_sample.saturating_add((c1 + c2) as u64 * voxels);
        if level < m.depth {
            let [_, up, skip, out] = m.decoder_channels(level);
            per_sample = per_sample.saturating_add((up + (up + skip) + 2 * out) as u64 * voxels);
            let k = m.pool_kernels.get(level).copied().unwrap_or([2, 2, 2]);
            voxels /= (k[0] * k[1] * k[2]).max(1) as u64;
        }
    }
    let activations = per_sample
        .saturating_mul(batch)
        .saturating_mul(KEPT_PER_ACTIVATION * 4);
    let params = model_stats(m).params as u64 * 4 * 4;
    // Image (f32) and label (u8) of every queued batch: the loader runs up to two batches ahead
    // per worker, plus the one in use.
    let queued = (2 * cfg.workers.max(1) + 1) as u64;
    let host = batch
        .saturating_mul(d * h * w)
        .saturating_mul(5)
        .saturating_mul(queued);
    (activations.saturating_add(params), host)
}

/// Errors when a training step of `cfg` needs more than `available` bytes (the memory the step
/// runs in: RAM for flex; `None` when it is not known, then only absurd sizes are refused).
pub fn check_fits(cfg: &TrainConfig, available: Option<u64>, where_: &str) -> Result<()> {
    let (device, host) = step_bytes(cfg);
    let need = device.saturating_add(host);
    // Without a figure for the memory, a step over 1 TiB is still certainly wrong.
    let limit = available.unwrap_or(1 << 40);
    if need <= limit {
        return Ok(());
    }
    Err(Error::config(format!(
        "batch {} of patch {:?} needs about {} for a training step ({} of activations and \\
         parameters, {} of queued batches), more than the {} {where_}: lower --batch or --patch",
        cfg.sampler.batch_size,
        cfg.sampler.patch,
        human(need),
        human(device),
        human(host),
        human(limit),
    )))
}

/// Available memory of this machine (Linux: MemAvailable), in bytes.
pub fn available_ram() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn human(bytes: u64) -> String {
    let gb = bytes as f64 / (1u64 << 30) as f64;
    if gb >= 1024.0 {
        format!("{:.1} TiB", gb / 1024.0)
    } else if gb >= 1.0 {
        format!("{gb:.1} GiB")
    } else {
        format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_batch_is_refused_with_advice_and_the_demo_fits() {
        let mut cfg = TrainConfig::preset("demo").unwrap();
        let (device, host) = step_bytes(&cfg);
        assert!(
            device > 10 << 20 && device < 4 << 30,
            "demo step {device} bytes"
        );
        assert!(host > 0);
        check_fits(&cfg, Some(8 << 30), "available").unwrap();
        cfg.sampler.batch_size = 100_000;
        let err = check_fits(&cfg, Some(8 << 30), "available")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("batch 100000") && err.contains("lower --batch or --patch"),
            "{err}"
        );
        // Without a memory figure only absurd steps are refused.
        assert!(check_fits(&cfg, None, "").is_err());
        cfg.sampler.batch_size = 64;
        assert!(check_fits(&cfg, None, "").is_ok());
    }
}
