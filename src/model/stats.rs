//! Parameter count and forward FLOPs of a [`UNet3dConfig`], computed from the configuration alone
//! (no device, no allocation), and the one-line summary the trainer prints at start.
//!
//! FLOPs count 2 per multiply-add of every convolution and up-convolution at its resolution,
//! relative to one input voxel; norms, activations, pooling, concatenation and biases are not
//! counted (they are < 1 % of the total).

use super::config::{Norm, UNet3dConfig};

/// Size and cost of a network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelStats {
    /// Learnable parameters (conv weights and biases, norm affine parameters).
    pub params: usize,
    /// Non-learned stored values: BatchNorm running mean and variance (2 per channel).
    /// burn's `Module::num_params` counts these too: it equals `params + buffers`.
    pub buffers: usize,
    /// Forward FLOPs (2 per multiply-add) per input voxel.
    pub flops_per_voxel: f64,
}

impl ModelStats {
    /// Forward FLOPs of one patch of `patch_zyx` voxels (per batch item).
    pub fn flops_per_patch(&self, patch_zyx: [usize; 3]) -> f64 {
        self.flops_per_voxel * patch_zyx.iter().product::<usize>() as f64
    }
}

/// Parameters of a conv block with `taps` kernel taps (weights, bias, norm affine).
fn conv_block_params(taps: usize, cin: usize, cout: usize, config: &UNet3dConfig) -> usize {
    let norm_params = match config.norm {
        Norm::Batch | Norm::Instance => 2 * cout,
        Norm::None => 0,
    };
    taps * cin * cout + usize::from(config.conv_bias) * cout + norm_params
}

/// Running statistics of a conv block's norm.
fn conv_block_buffers(cout: usize, norm: &Norm) -> usize {
    if *norm == Norm::Batch { 2 * cout } else { 0 }
}

/// Counts parameters and FLOPs level by level, mirroring [`UNet3dConfig::init`] (meaningful for
/// a config that passes [`UNet3dConfig::validate`]).
///
/// For the paper's layout (3 input channels, 3 classes, BatchNorm) this gives 19,075,523
/// parameters: the paper's 19,069,955 plus 896 up-conv biases (512 + 256 + 128) and 4,672
/// BatchNorm scales and shifts, which the paper's count leaves out. Padding does not change
/// the count.
pub fn model_stats(config: &UNet3dConfig) -> ModelStats {
    let mut params = 0;
    let mut buffers = 0;
    let mut macs = 0.0; // multiply-adds per input voxel
    let mut scale = 1.0; // voxels at the current level per input voxel
    let mut scales = Vec::with_capacity(config.depth + 1);
    let taps = |level: usize| config.conv_kernel(level).iter().product::<usize>();
    for level in 0..=config.depth {
        let [cin, mid, out] = config.encoder_channels(level);
        let t = taps(level);
        params += conv_block_params(t, cin, mid, config) + conv_block_params(t, mid, out, config);
        buffers += conv_block_buffers(mid, &config.norm) + conv_block_buffers(out, &config.norm);
        // A strided first conv computes at the level's (lower) resolution, as after pooling.
        macs += scale * t as f64 * (cin * mid + mid * out) as f64;
        scales.push(scale);
        if let Some(k) = config.pool_kernels.get(level) {
            scale /= k.iter().product::<usize>() as f64;
        }
    }
    for level in 0..config.depth {
        let [up_in, up, skip, out] = config.decoder_channels(level);
        let k: usize = config
            .pool_kernels
            .get(level)
            .map_or(1, |k| k.iter().product());
        params += k * up_in * up + usize::from(config.conv_bias) * up; // up-conv
        let t = taps(level);
        params +=
            conv_block_params(t, up + skip, out, config) + conv_block_params(t, out, out, config);
        buffers += 2 * conv_block_buffers(out, &config.norm);
        // Kernel = stride: every output voxel gets one tap per (in, out) channel pair.
        macs += scales[level]
            * ((up_in * up) as f64 + t as f64 * ((up + skip) * out + out * out) as f64);
    }
    let head_in = config.decoder_channels(0)[3];
    params += head_in * config.num_classes + config.num_classes;
    macs += (head_in * config.num_classes) as f64;
    if config.deep_supervision {
        // Training-only heads: parameters, but no inference FLOPs.
        for level in 1..config.depth {
            params += config.decoder_channels(level)[3] * config.num_classes + config.num_classes;
        }
    }
    ModelStats {
        params,
        buffers,
        flops_per_voxel: 2.0 * macs,
    }
}

/// One line for the log, e.g. `UNet3d depth 3, base 32, Batch norm, Relu, pools [[2, 2, 2], ..]:
/// 19,075,523 parameters (76.3 MB f32), 1.867 MFLOP/voxel forward`.
pub fn summary(config: &UNet3dConfig) -> String {
    let stats = model_stats(config);
    let channels = match &config.stage_channels {
        Some(f) => format!("channels {f:?}"),
        None => format!("base {}", config.base_channels),
    };
    format!(
        "UNet3d depth {}, {channels}, {:?} norm, {:?}, in {}, classes {}, pools {:?}: {} parameters ({:.1} MB f32), {:.3} MFLOP/voxel forward",
        config.depth,
        config.norm,
        config.activation,
        config.in_channels,
        config.num_classes,
        config.pool_kernels,
        thousands(stats.params),
        stats.params as f64 * 4.0 / 1e6,
        stats.flops_per_voxel / 1e6
    )
}

/// `19075523` → `"19,075,523"`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, UpConvWidth};
    use burn::prelude::*;

    #[test]
    fn paper_parameter_count_by_hand() {
        // conv3(ci, co) = 27·ci·co + co, BN(c) = 2c, up(c) = 8·c·c + c, head = 64·3 + 3.
        let conv = |ci: usize, co: usize| 27 * ci * co + co + 2 * co;
        let up = |c: usize| 8 * c * c + c;
        let by_hand = conv(3, 32)
            + conv(32, 64)
            + conv(64, 64)
            + conv(64, 128)
            + conv(128, 128)
            + conv(128, 256)
            + conv(256, 256)
            + conv(256, 512)
            + up(512)
            + conv(768, 256)
            + conv(256, 256)
            + up(256)
            + conv(384, 128)
            + conv(128, 128)
            + up(128)
            + conv(192, 64)
            + conv(64, 64)
            + 64 * 3
            + 3;
        assert_eq!(by_hand, 19_075_523);
        assert_eq!(19_075_523 - 896 - 4_672, 19_069_955); // the paper's count, see model_stats
        let config = UNet3dConfig {
            in_channels: 3,
            ..UNet3dConfig::preset("paper").unwrap()
        };
        assert_eq!(model_stats(&config).params, by_hand);
        // The module agrees; burn's num_params adds the 4,672 running means and variances
        // (and does not initialise the lazy parameters).
        assert_eq!(model_stats(&config).buffers, 4_672);
        let model = config.init(&Device::flex()).unwrap();
        assert_eq!(model.num_params(), by_hand + 4_672);
    }

    #[test]
    fn analytic_count_matches_module_for_every_variant() {
        let device = Device::flex();
        let (keep, skip) = (UpConvWidth::Keep, UpConvWidth::Skip);
        for (norm, plan, deep, up) in [
            (
                Norm::Instance,
                vec![[1, 2, 2], [2, 2, 2]],
                false,
                keep.clone(),
            ),
            (Norm::None, vec![[2, 2, 2]], true, skip.clone()),
            (
                Norm::Batch,
                vec![[1, 2, 2], [1, 2, 2], [2, 2, 2]],
                false,
                skip.clone(),
            ),
            (
                Norm::Instance,
                vec![[1, 2, 2], [2, 2, 2], [2, 2, 2]],
                true,
                keep,
            ),
            (
                Norm::Instance,
                vec![[1, 2, 2], [2, 2, 2], [2, 2, 2]],
                true,
                skip,
            ),
        ] {
            let config = UNet3dConfig::new(2, 4)
                .with_base_channels(3)
                .with_norm(norm)
                .with_plan(plan)
                .with_deep_supervision(deep)
                .with_up_conv_width(up);
            let stats = model_stats(&config);
            assert_eq!(
                stats.params + stats.buffers,
                config.init(&device).unwrap().num_params()
            );
        }
    }

    #[test]
    fn flops_by_hand_for_a_one_level_net() {
        // in 1, base 2, depth 1, kernel [1,2,2] (4 voxels per pooled voxel), 2 classes.
        let config = UNet3dConfig::new(1, 2)
            .with_base_channels(2)
            .with_norm(Norm::None)
            .with_activation(Activation::Relu)
            .with_plan(vec![[1, 2, 2]]);
        let macs = 27.0 * (1.0 * 2.0 + 2.0 * 4.0) // level 0: 1→2→4 at full resolution
            + 27.0 * (4.0 * 4.0 + 4.0 * 8.0) / 4.0 // bottom: 4→4→8 at 1/4
            + 8.0 * 8.0 // up-conv 8→8, per output voxel
            + 27.0 * (12.0 * 4.0 + 4.0 * 4.0) // decoder: (8+4)→4→4
            + 4.0 * 2.0; // head
        let stats = model_stats(&config);
        assert_eq!(stats.flops_per_voxel, 2.0 * macs);
        assert_eq!(stats.flops_per_patch([1, 2, 2]), 8.0 * macs);

        // nnU-Net's up-conv to the skip's width: 8→4, then (4+4)→4→4.
        let slim = model_stats(&config.with_up_conv_width(UpConvWidth::Skip));
        let slim_macs = macs - 8.0 * 8.0 + 8.0 * 4.0 - 27.0 * 4.0 * 4.0;
        assert_eq!(slim.flops_per_voxel, 2.0 * slim_macs);
    }

    #[test]
    fn summary_line_names_size_and_cost() {
        let config = UNet3dConfig {
            in_channels: 3,
            ..UNet3dConfig::preset("paper").unwrap()
        };
        let line = summary(&config);
        assert!(
            line.contains("19,075,523 parameters (76.3 MB f32), 1.867 MFLOP/voxel"),
            "{line}"
        );
        assert!(
            line.contains("depth 3, base 32, Batch norm, Relu"),
            "{line}"
        );
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }
}
