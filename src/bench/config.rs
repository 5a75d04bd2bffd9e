//! What a benchmark run measures: the workloads, their shapes and the repetition counts.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::run::TrainConfig;

/// One measured operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// One 3×3×3 conv layer (+ bias + ReLU), forward.
    ConvForward,
    /// The same layer, forward + backward (gradients of input, weight and bias).
    ConvTrain,
    /// The U-Net forward at the inference patch and window batch.
    UnetForward,
    /// One training step: forward, loss, backward and optimiser update.
    TrainStep,
    /// Sliding-window inference over a whole prostate-sized volume.
    SlidingWindow,
}

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::ConvForward,
        Workload::ConvTrain,
        Workload::UnetForward,
        Workload::TrainStep,
        Workload::SlidingWindow,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Workload::ConvForward => "conv3d forward",
            Workload::ConvTrain => "conv3d fwd+bwd",
            Workload::UnetForward => "U-Net forward",
            Workload::TrainStep => "training step",
            Workload::SlidingWindow => "sliding window",
        }
    }

    /// Whether the workload runs once per conv shape.
    pub fn is_conv(&self) -> bool {
        matches!(self, Workload::ConvForward | Workload::ConvTrain)
    }
}

/// Shapes and repetitions of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Training preset whose model, patch and batch the U-Net workloads use.
    pub preset: String,
    pub train: TrainConfig,
    /// Conv layer shapes `[batch, channels, d, h, w]`, channels → channels; each conv workload
    /// runs once per shape.
    pub conv: Vec<[usize; 5]>,
    /// Sliding-window volume `[d, h, w]` (already at the model's spacing).
    pub volume: [usize; 3],
    pub workloads: Vec<Workload>,
    /// Untimed calls before timing (at least 1: the first call is reported apart).
    pub warmup: usize,
    /// Timed calls (at most).
    pub reps: usize,
    /// Seconds of timed calls after which a row stops early (at least one call); `None` = all reps.
    #[serde(default)]
    pub row_budget_s: Option<f64>,
    /// cubecl autotune samples per candidate kernel (min = max) for this run; `None` = cubecl's
    /// own settings (cubecl.toml / env, default 3–10). Only changes wgpu first-call times.
    #[serde(default)]
    pub tune_samples: Option<usize>,
    /// Seconds per target after which its remaining workloads are skipped (recorded as such in
    /// the table and JSON); `None` = no limit.
    #[serde(default)]
    pub target_budget_s: Option<f64>,
    /// Seed of the random inputs and weights.
    pub seed: u64,
    /// Also time every op of the forward, the training step and the sliding window per target
    /// (`--profile`, see [`super::profile`]).
    #[serde(default)]
    pub profile: bool,
}

impl BenchConfig {
    /// Realistic shapes: the preset's model, patch and batch; the paper U-Net's conv layers
    /// 32→32 at 32³ and at 16×64×64, 64→64 at 16³; a volume of 24 slices of 192×192 (an
    /// NCI-ISBI scan resampled to 1 mm).
    pub fn standard(preset: &str) -> Result<Self> {
        Ok(BenchConfig {
            preset: preset.to_string(),
            train: TrainConfig::preset(preset)?,
            conv: vec![
                [1, 32, 32, 32, 32],
                [1, 32, 16, 64, 64],
                [1, 64, 16, 16, 16],
            ],
            volume: [24, 192, 192],
            workloads: Workload::ALL.to_vec(),
            warmup: 1,
            reps: 5,
            row_budget_s: None,
            tune_samples: None,
            target_budget_s: None,
            seed: 7,
            profile: false,
        })
    }

    /// Tiny shapes and two repetitions: a smoke test that every path runs (CI), not a measurement.
    pub fn quick() -> Result<Self> {
        Ok(BenchConfig {
            preset: "tiny".into(),
            train: TrainConfig::preset("tiny")?,
            conv: vec![[1, 4, 8, 8, 8]],
            volume: [12, 40, 40],
            workloads: Workload::ALL.to_vec(),
            warmup: 1,
            reps: 2,
            row_budget_s: None,
            tune_samples: None,
            target_budget_s: None,
            seed: 7,
            profile: false,
        })
    }

    pub fn validate(&self) -> Result<()> {
        if self.warmup == 0 || self.reps == 0 {
            return Err(Error::config("bench: warmup and reps must be >= 1"));
        }
        for (name, budget) in [("row", self.row_budget_s), ("target", self.target_budget_s)] {
            if budget.is_some_and(|b| !(b > 0.0 && b.is_finite())) {
                return Err(Error::config(format!(
                    "bench: the {name} budget must be a positive number of seconds"
                )));
            }
        }
        if self.tune_samples == Some(0) {
            return Err(Error::config("bench: --tune-samples must be >= 1"));
        }
        let zero_conv = self.conv.iter().flatten().any(|&v| v == 0);
        if self.conv.is_empty() || zero_conv || self.volume.iter().any(|&v| v == 0) {
            return Err(Error::config("bench: shapes must be non-zero"));
        }
        if self.workloads.is_empty() {
            return Err(Error::config("bench: no workloads selected"));
        }
        self.train.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_settings_are_errors() {
        let ok = BenchConfig::quick().unwrap();
        ok.validate().unwrap();
        // The error message of `ok` changed by `edit`.
        let error = |edit: fn(&mut BenchConfig)| {
            let mut c = ok.clone();
            edit(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(error(|c| c.tune_samples = Some(0)).contains("tune-samples"));
        assert!(error(|c| c.row_budget_s = Some(-1.0)).contains("row budget"));
        assert!(error(|c| c.target_budget_s = Some(f64::NAN)).contains("target budget"));
        assert!(error(|c| c.conv = vec![[1, 0, 8, 8, 8]]).contains("non-zero"));
        assert!(error(|c| c.workloads.clear()).contains("no workloads"));
    }
}
