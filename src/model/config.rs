//! The U-Net's configuration: channel plan, normalisation, activation and per-level pooling.
//!
//! Kept apart from the module so the trainer can plan, validate, save (`config.json` beside the
//! weights) and count FLOPs without touching a device. The channel plan is Çiçek et al. 2016's:
//! at level `l` the first conv goes to `base·2^l`, the second doubles it before pooling.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kernels::KernelChoice;

/// Names accepted by [`UNet3dConfig::preset`].
pub const PRESETS: [&str; 3] = ["paper", "small", "tiny"];

/// Deepest supported network (`base·2^(depth+1)` channels at the bottom; 2^9 = 512× base).
pub const MAX_DEPTH: usize = 8;

/// Largest convolution kernel size along an axis.
pub const MAX_KERNEL: usize = 7;

/// Normalisation after every convolution.
#[derive(Config, Debug, PartialEq)]
pub enum Norm {
    /// Batch normalisation, as in the paper (needs batch ≥ 2 to be meaningful).
    Batch,
    /// Instance normalisation (affine), as nnU-Net: independent of the batch size.
    Instance,
    /// No normalisation (the paper's "w/o BN" ablation).
    None,
}

/// Non-linearity after every normalisation.
#[derive(Config, Debug, PartialEq)]
pub enum Activation {
    /// `max(x, 0)`, as in the paper.
    Relu,
    /// `max(x, slope·x)`, as nnU-Net (slope 0.01).
    LeakyRelu(f64),
}

/// Channels of the decoder's up-convolution.
#[derive(Config, Debug, PartialEq)]
pub enum UpConvWidth {
    /// The paper: the up-conv keeps its input's channels (512 → 512 at the paper's level 2), so
    /// the first decoder conv sees 512 + 256.
    Keep,
    /// nnU-Net: the up-conv goes to the skip's width (512 → 256), so the first decoder conv sees
    /// 256 + 256; about 20 % fewer FLOPs for the whole net.
    Skip,
}

/// How the encoder goes down one level.
#[derive(Config, Debug, PartialEq)]
pub enum Downsample {
    /// Max pooling before the level's convolutions (the paper).
    MaxPool,
    /// The level's first convolution has the level's pooling kernel as its stride (nnU-Net's
    /// `PlainConvUNet`).
    StridedConv,
}

/// Configuration of a [`UNet3d`](super::UNet3d), created with [`UNet3dConfig::new`] or
/// [`UNet3dConfig::preset`] and turned into a module with [`UNet3dConfig::init`].
///
/// Spatial input sizes must be multiples of [`divisor`](UNet3dConfig::divisor) (the product of
/// the pooling kernels per axis), e.g. multiples of 8 for three 2×2×2 poolings.
///
/// Saved in every run's `config.json`. Every field but the channel counts has a default, the
/// behaviour from before the field existed, so a config written by an earlier version loads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "UNet3dConfigFile")]
pub struct UNet3dConfig {
    /// Channels of the input image (1 for a single MRI sequence).
    pub in_channels: usize,
    /// Output classes, background included (3 for background, PZ, CG).
    pub num_classes: usize,
    /// Number of poolings (the paper: 3, giving 4 resolution levels). Equals `pool_kernels.len()`.
    pub depth: usize,
    /// Channels of the first conv (the paper: 32); level `l` has `base·2^l` and `base·2^(l+1)`.
    pub base_channels: usize,
    /// Normalisation after each 3×3×3 conv.
    pub norm: Norm,
    /// Activation after each normalisation.
    pub activation: Activation,
    /// Pooling kernel (= stride, = up-conv kernel) per level in tensor order [z, y, x];
    /// each entry 1 or 2, e.g. `[1, 2, 2]` keeps thick slices unpooled. Default: 2×2×2 at
    /// every level.
    pub pool_kernels: Vec<[usize; 3]>,
    /// Which 3×3×3 convolutions run: the project's own kernels (`own`; `wgsl` before it was
    /// renamed) or burn's built-in conv3d (`builtin`).
    pub kernels: KernelChoice,
    /// Deep supervision (nnU-Net): 1×1×1 heads on the decoder's lower-resolution outputs (levels
    /// 1 … depth−1) whose losses on nearest-downsampled labels join the main loss with weights
    /// halving per level. Training only: inference uses the full-resolution head.
    pub deep_supervision: bool,
    /// Channels of the decoder's up-convolutions.
    pub up_conv_width: UpConvWidth,
    /// Output channels of every convolution of each stage (levels 0..depth, then the bottom),
    /// nnU-Net's `features_per_stage`; the up-convolutions go to the skip's width. `None`: the
    /// paper's plan (`base·2^l`, doubled by the level's second convolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_channels: Option<Vec<usize>>,
    /// Convolution kernel [z, y, x] of each stage (levels 0..depth, then the bottom; the decoder
    /// of level `l` uses level `l`'s), odd sizes with zero padding `(k−1)/2`, e.g. nnU-Net's
    /// `[1, 3, 3]` on thick-slice levels. `None`: 3×3×3 everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv_kernels: Option<Vec<[usize; 3]>>,
    /// How the encoder goes down a level.
    pub downsample: Downsample,
    /// Whether convolutions and up-convolutions have a bias (nnU-Net's `conv_bias`).
    pub conv_bias: bool,
}

/// The config as JSON (as it is saved).
impl std::fmt::Display for UNet3dConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&json)
    }
}

/// `UNet3dConfig` as a file may hold it: the fields added over time are optional.
#[derive(Deserialize)]
struct UNet3dConfigFile {
    in_channels: usize,
    num_classes: usize,
    depth: Option<usize>,
    base_channels: Option<usize>,
    norm: Option<Norm>,
    activation: Option<Activation>,
    pool_kernels: Option<Vec<[usize; 3]>>,
    kernels: Option<KernelChoice>,
    deep_supervision: Option<bool>,
    up_conv_width: Option<UpConvWidth>,
    stage_channels: Option<Vec<usize>>,
    conv_kernels: Option<Vec<[usize; 3]>>,
    downsample: Option<Downsample>,
    conv_bias: Option<bool>,
}

impl From<UNet3dConfigFile> for UNet3dConfig {
    fn from(f: UNet3dConfigFile) -> Self {
        let depth = f
            .depth
            .or(f.pool_kernels.as_ref().map(Vec::len))
            .unwrap_or(3);
        UNet3dConfig {
            in_channels: f.in_channels,
            num_classes: f.num_classes,
            depth,
            base_channels: f.base_channels.unwrap_or(32),
            norm: f.norm.unwrap_or(Norm::Batch),
            activation: f.activation.unwrap_or(Activation::Relu),
            pool_kernels: f.pool_kernels.unwrap_or_else(|| vec![[2, 2, 2]; depth]),
            kernels: f.kernels.unwrap_or_default(),
            deep_supervision: f.deep_supervision.unwrap_or(false),
            up_conv_width: f.up_conv_width.unwrap_or(UpConvWidth::Keep),
            stage_channels: f.stage_channels,
            conv_kernels: f.conv_kernels,
            downsample: f.downsample.unwrap_or(Downsample::MaxPool),
            conv_bias: f.conv_bias.unwrap_or(true),
        }
    }
}

impl UNet3dConfig {
    /// The paper's network (base 32, depth 3, BatchNorm, ReLU, 2×2×2 poolings, up-convolutions
    /// keeping their channels) for `in_channels` and `num_classes`; change it with the `with_*`
    /// setters.
    pub fn new(in_channels: usize, num_classes: usize) -> Self {
        UNet3dConfigFile {
            in_channels,
            num_classes,
            depth: None,
            base_channels: None,
            norm: None,
            activation: None,
            pool_kernels: None,
            kernels: None,
            deep_supervision: None,
            up_conv_width: None,
            stage_channels: None,
            conv_kernels: None,
            downsample: None,
            conv_bias: None,
        }
        .into()
    }

    pub fn with_depth(self, depth: usize) -> Self {
        Self { depth, ..self }
    }

    pub fn with_base_channels(self, base_channels: usize) -> Self {
        Self {
            base_channels,
            ..self
        }
    }

    pub fn with_norm(self, norm: Norm) -> Self {
        Self { norm, ..self }
    }

    pub fn with_activation(self, activation: Activation) -> Self {
        Self { activation, ..self }
    }

    pub fn with_pool_kernels(self, pool_kernels: Vec<[usize; 3]>) -> Self {
        Self {
            pool_kernels,
            ..self
        }
    }

    pub fn with_kernels(self, kernels: KernelChoice) -> Self {
        Self { kernels, ..self }
    }

    pub fn with_deep_supervision(self, deep_supervision: bool) -> Self {
        Self {
            deep_supervision,
            ..self
        }
    }

    pub fn with_up_conv_width(self, up_conv_width: UpConvWidth) -> Self {
        Self {
            up_conv_width,
            ..self
        }
    }

    pub fn with_stage_channels(self, stage_channels: Option<Vec<usize>>) -> Self {
        Self {
            stage_channels,
            ..self
        }
    }

    pub fn with_conv_kernels(self, conv_kernels: Option<Vec<[usize; 3]>>) -> Self {
        Self {
            conv_kernels,
            ..self
        }
    }

    pub fn with_downsample(self, downsample: Downsample) -> Self {
        Self { downsample, ..self }
    }

    pub fn with_conv_bias(self, conv_bias: bool) -> Self {
        Self { conv_bias, ..self }
    }
}

impl UNet3dConfig {
    /// A named configuration with 1 input channel and 3 classes (set the fields to change them):
    /// - `paper`: Çiçek et al. 2016, base 32, depth 3, BatchNorm, ReLU, 2×2×2 pooling (19 M params);
    /// - `small`: base 12, depth 3, InstanceNorm, LeakyReLU 0.01, deep supervision (≈ 2.7 M
    ///   params, fits a laptop);
    /// - `tiny`: base 4, depth 2, InstanceNorm, ReLU, deep supervision (for CI and smoke tests).
    pub fn preset(name: &str) -> Result<Self> {
        let base = UNet3dConfig::new(1, 3);
        let config = match name {
            "paper" => base,
            "small" => base
                .with_base_channels(12)
                .with_norm(Norm::Instance)
                .with_activation(Activation::LeakyRelu(0.01))
                .with_deep_supervision(true),
            "tiny" => base
                .with_base_channels(4)
                .with_norm(Norm::Instance)
                .with_plan(vec![[2, 2, 2]; 2])
                .with_deep_supervision(true),
            _ => {
                return Err(Error::config(format!(
                    "unknown model preset {name:?}; valid presets: {}",
                    PRESETS.join(", ")
                )));
            }
        };
        Ok(config)
    }

    /// Sets the pooling plan and the depth together (`depth = plan.len()`), e.g. from
    /// [`pooling_plan`](super::pooling_plan).
    pub fn with_plan(self, plan: Vec<[usize; 3]>) -> Self {
        Self {
            depth: plan.len(),
            pool_kernels: plan,
            ..self
        }
    }

    /// Checks every field; the message names the field and the bad value.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::config(format!("model config: {msg}")));
        if self.in_channels == 0 {
            return bad("in_channels must be > 0, got 0".into());
        }
        if self.num_classes == 0 {
            return bad("num_classes must be > 0, got 0".into());
        }
        if self.base_channels == 0 {
            return bad("base_channels must be > 0, got 0".into());
        }
        if !(1..=MAX_DEPTH).contains(&self.depth) {
            return bad(format!(
                "depth must be in 1..={MAX_DEPTH}, got {}",
                self.depth
            ));
        }
        if self.pool_kernels.len() != self.depth {
            return bad(format!(
                "pool_kernels must have one entry per level (depth {}), got {}: {:?}",
                self.depth,
                self.pool_kernels.len(),
                self.pool_kernels
            ));
        }
        for (level, k) in self.pool_kernels.iter().enumerate() {
            if k.iter().any(|&f| f != 1 && f != 2) || k.iter().all(|&f| f == 1) {
                return bad(format!(
                    "pool_kernels[{level}] must have entries 1 or 2 and at least one 2, got {k:?}"
                ));
            }
        }
        if let Some(f) = &self.stage_channels
            && (f.len() != self.depth + 1 || f.contains(&0))
        {
            return bad(format!(
                "stage_channels must have depth + 1 = {} entries, all > 0, got {f:?}",
                self.depth + 1
            ));
        }
        if let Some(k) = &self.conv_kernels {
            if k.len() != self.depth + 1 {
                return bad(format!(
                    "conv_kernels must have depth + 1 = {} entries, got {}: {k:?}",
                    self.depth + 1,
                    k.len()
                ));
            }
            if let Some((level, k)) = k
                .iter()
                .enumerate()
                .find(|(_, k)| k.iter().any(|&s| s % 2 == 0 || s > MAX_KERNEL))
            {
                return bad(format!(
                    "conv_kernels[{level}] must have odd sizes up to {MAX_KERNEL}, got {k:?}"
                ));
            }
        }
        if let Activation::LeakyRelu(slope) = self.activation
            && !(slope.is_finite() && slope >= 0.0)
        {
            return bad(format!(
                "LeakyRelu slope must be finite and >= 0, got {slope}"
            ));
        }
        Ok(())
    }

    /// Channels of encoder level `l` (0..depth) and of the bottom (`l == depth`):
    /// `[in, first conv out, second conv out]`, e.g. the paper's level 1: `[64, 64, 128]`; with
    /// `stage_channels` F: `[F[l−1] (or the input's), F[l], F[l]]`.
    pub fn encoder_channels(&self, level: usize) -> [usize; 3] {
        if let Some(f) = &self.stage_channels {
            let input = if level == 0 {
                self.in_channels
            } else {
                f[level - 1]
            };
            return [input, f[level], f[level]];
        }
        let first = self.base_channels << level;
        let input = if level == 0 { self.in_channels } else { first };
        [input, first, 2 * first]
    }

    /// Channels of decoder level `l` (0..depth): `[up-conv in, up-conv out, skip, out]`,
    /// e.g. the paper's level 2: `[512, 512, 256, 256]` (convs (512+256)→256→256); with
    /// [`UpConvWidth::Skip`] `[512, 256, 256, 256]` (convs (256+256)→256→256); with
    /// `stage_channels` F: `[F[l+1], F[l], F[l], F[l]]`.
    pub fn decoder_channels(&self, level: usize) -> [usize; 4] {
        if let Some(f) = &self.stage_channels {
            return [f[level + 1], f[level], f[level], f[level]];
        }
        let skip = self.encoder_channels(level)[2];
        let up_out = match self.up_conv_width {
            UpConvWidth::Keep => 2 * skip,
            UpConvWidth::Skip => skip,
        };
        [2 * skip, up_out, skip, skip]
    }

    /// Convolution kernel [z, y, x] of level `l` (0..=depth), encoder and decoder alike.
    pub fn conv_kernel(&self, level: usize) -> [usize; 3] {
        self.conv_kernels
            .as_ref()
            .and_then(|k| k.get(level).copied())
            .unwrap_or([3, 3, 3])
    }

    /// Stride of the first convolution of encoder level `l` (0..=depth): the pooling kernel of
    /// the level above with [`Downsample::StridedConv`], else 1.
    pub fn first_stride(&self, level: usize) -> [usize; 3] {
        match (&self.downsample, level) {
            (Downsample::StridedConv, l) if l > 0 => self.pool_kernels[l - 1],
            _ => [1, 1, 1],
        }
    }

    /// Spatial divisor per axis [z, y, x]: input sizes must be multiples of it.
    pub fn divisor(&self) -> [usize; 3] {
        super::plan::required_divisor(&self.pool_kernels)
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
