//! Optimiser and learning-rate schedule: AdamW (default) or SGD with Nesterov momentum; poly or cosine
//! decay after a linear warm-up; optional gradient-norm clipping.

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    AdamW,
    Sgd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    /// nnU-Net's `lr * (1 - t/T)^0.9`.
    Poly,
    Cosine,
    Constant,
}

/// Optimisation settings (saved with every run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimConfig {
    pub optimizer: OptimizerKind,
    /// Peak learning rate (after warm-up).
    pub lr: f64,
    pub weight_decay: f64,
    /// SGD momentum (Nesterov).
    pub momentum: f64,
    pub decay: Decay,
    /// Linear warm-up iterations from lr/100 to lr.
    pub warmup: usize,
    /// Clip the global gradient norm to this value; `None` = no clipping.
    pub clip_grad_norm: Option<f32>,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            optimizer: OptimizerKind::AdamW,
            lr: 3e-3,
            weight_decay: 3e-5,
            momentum: 0.99,
            decay: Decay::Poly,
            warmup: 20,
            clip_grad_norm: Some(12.0),
        }
    }
}

impl OptimConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::config(format!(
                "learning rate must be > 0, got {}",
                self.lr
            )));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::config(format!(
                "momentum must be in [0, 1), got {}",
                self.momentum
            )));
        }
        Ok(())
    }

    /// Builds the burn optimiser.
    pub fn init(&self) -> ModuleOptimizer {
        let clip = self.clip_grad_norm.map(GradientClippingConfig::Norm);
        match self.optimizer {
            OptimizerKind::AdamW => AdamWConfig::new()
                .with_weight_decay(self.weight_decay as f32)
                .with_grad_clipping(clip)
                .init(),
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum(Some(MomentumConfig {
                    momentum: self.momentum,
                    dampening: 0.0,
                    nesterov: true,
                }))
                .with_weight_decay(Some(WeightDecayConfig {
                    penalty: self.weight_decay as f32,
                }))
                .with_gradient_clipping(clip)
                .init(),
        }
    }

    /// Learning rate at iteration `step` (0-based) of `total`.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        if step < self.warmup {
            let f = (step + 1) as f64 / self.warmup as f64;
            return self.lr * (0.01 + 0.99 * f);
        }
        let span = total.saturating_sub(self.warmup).max(1) as f64;
        let t = ((step - self.warmup) as f64 / span).min(1.0);
        match self.decay {
            Decay::Poly => self.lr * (1.0 - t).powf(0.9),
            Decay::Cosine => self.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()),
            Decay::Constant => self.lr,
        }
        .max(self.lr * 1e-3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays() {
        let cfg = OptimConfig {
            warmup: 10,
            lr: 1.0,
            ..OptimConfig::default()
        };
        assert!(cfg.lr_at(0, 100) < 0.2);
        assert!((cfg.lr_at(9, 100) - 1.0).abs() < 1e-9);
        assert!((cfg.lr_at(10, 100) - 1.0).abs() < 1e-9);
        assert!(cfg.lr_at(55, 100) < cfg.lr_at(20, 100));
        assert!(
            (cfg.lr_at(100, 100) - 1e-3).abs() < 1e-9,
            "floor at lr/1000"
        );
        let cos = OptimConfig {
            decay: Decay::Cosine,
            warmup: 0,
            lr: 1.0,
            ..OptimConfig::default()
        };
        assert!((cos.lr_at(50, 100) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn bad_values_are_rejected_with_the_value() {
        let e = OptimConfig {
            lr: -1.0,
            ..OptimConfig::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("-1"));
    }
}
