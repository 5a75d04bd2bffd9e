//! The U-Net's building blocks: conv → norm → activation, two of them, and the up-sampling step.
//!
//! Every 3×3×3 convolution of the network goes through [`ConvBlock::forward`], which runs the
//! [`ConvImpl`] the block chose when it was built from its `kernels` setting and the device: on
//! wgpu devices with `kernels = "own"` the hand-written WGSL kernels of [`crate::kernels`] (conv +
//! bias, plus the folded BatchNorm and the activation at inference, in one dispatch); on flex
//! the project's CPU conv and its backward ([`kernels::conv3d_flex`]), and InstanceNorm with the
//! activation as one op ([`kernels::instance_norm_act_flex`]); with `kernels = "builtin"` (and
//! on other devices) burn's own `Conv3d`.

use burn::nn::conv::{Conv3d, Conv3dConfig, ConvTranspose3d, ConvTranspose3dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Identity, InstanceNorm, InstanceNormConfig, PaddingConfig3d,
};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};

use super::config::{Activation, Norm};
use super::upsample::up_conv3d_with;
use crate::kernels::{self, ConvImpl, KernelChoice, fold_batchnorm};

/// The normalisation layer of a [`ConvBlock`], chosen by [`Norm`].
#[derive(Module, Debug)]
pub enum NormLayer {
    /// Batch normalisation (running statistics at inference).
    Batch(BatchNorm),
    /// Affine instance normalisation.
    Instance(InstanceNorm),
    /// No normalisation.
    Identity(Identity),
}

impl NormLayer {
    fn new(norm: &Norm, channels: usize, device: &Device) -> Self {
        match norm {
            Norm::Batch => NormLayer::Batch(BatchNormConfig::new(channels).init(device)),
            Norm::Instance => NormLayer::Instance(InstanceNormConfig::new(channels).init(device)),
            Norm::None => NormLayer::Identity(Identity::new()),
        }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        match self {
            NormLayer::Batch(bn) => super::norm::batch_norm(bn, x),
            NormLayer::Instance(inorm) => super::norm::instance_norm(inorm, x),
            NormLayer::Identity(_) => x,
        }
    }
}

/// Configuration of a [`ConvBlock`].
#[derive(Config, Debug)]
pub struct ConvBlockConfig {
    /// `[in, out]` channels.
    pub channels: [usize; 2],
    /// Normalisation after the convolution.
    #[config(default = "Norm::Batch")]
    pub norm: Norm,
    /// Activation after the normalisation.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Which convolutions to run (the project's own or burn's).
    #[config(default = "KernelChoice::Own")]
    pub kernels: KernelChoice,
    /// Kernel [z, y, x] (odd sizes; zero padding `(k−1)/2` keeps the size at stride 1).
    #[config(default = "[3, 3, 3]")]
    pub kernel: [usize; 3],
    /// Stride [z, y, x] (nnU-Net's encoder goes down a level with a strided first conv).
    #[config(default = "[1, 1, 1]")]
    pub stride: [usize; 3],
    /// Whether the convolution has a bias.
    #[config(default = true)]
    pub bias: bool,
}

/// Convolution (zero padding `(k−1)/2`, bias unless configured off) → normalisation → activation.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The convolution.
    pub conv: Conv3d,
    /// Its normalisation.
    pub norm: NormLayer,
    /// Its activation (a constant, not a parameter).
    #[module(skip)]
    pub activation: Activation,
    /// The convolution implementation, decided at init from the config's `kernels` and the
    /// device (a setting, not a parameter).
    #[module(skip)]
    pub conv_impl: ConvImpl,
}

impl ConvBlockConfig {
    /// Creates the block with burn's default (Kaiming-uniform) initialisation.
    pub fn init(&self, device: &Device) -> ConvBlock {
        let [kz, ky, kx] = self.kernel;
        // The project's kernels are 3×3×3 stride-1 convolutions; any other runs burn's conv3d.
        let own_shape = self.kernel == [3, 3, 3] && self.stride == [1, 1, 1];
        let padding = if own_shape {
            PaddingConfig3d::Same
        } else {
            PaddingConfig3d::Explicit((kz - 1) / 2, (ky - 1) / 2, (kx - 1) / 2)
        };
        ConvBlock {
            conv: Conv3dConfig::new(self.channels, self.kernel)
                .with_stride(self.stride)
                .with_padding(padding)
                .with_bias(self.bias)
                .init(device),
            norm: NormLayer::new(&self.norm, self.channels[1], device),
            activation: self.activation.clone(),
            conv_impl: if own_shape {
                ConvImpl::choose(self.kernels, device)
            } else {
                ConvImpl::Builtin
            },
        }
    }
}

impl ConvBlock {
    /// # Shapes
    /// - input: `[batch, in, depth, height, width]`
    /// - output: `[batch, out, depth, height, width]`
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        match self.conv_impl {
            ConvImpl::Wgsl | ConvImpl::Cpu => self.forward_fused(x),
            ConvImpl::Builtin => self.activate(self.norm.forward(self.conv.forward(x))),
        }
    }

    fn activate(&self, x: Tensor<5>) -> Tensor<5> {
        match self.activation {
            Activation::Relu => relu(x),
            Activation::LeakyRelu(slope) => leaky_relu(x, slope),
        }
    }

    fn kernel_activation(&self) -> kernels::Activation {
        match self.activation {
            Activation::Relu => kernels::Activation::Relu,
            Activation::LeakyRelu(slope) => kernels::Activation::LeakyRelu(slope as f32),
        }
    }

    /// The project's kernels (WGSL on wgpu, the flex conv on flex). What follows the convolution
    /// decides how much fuses into the WGSL epilogue:
    /// nothing needs statistics of the conv output (no norm, or BatchNorm at inference, folded
    /// into a per-channel scale and shift) → conv + bias + norm + activation in one dispatch;
    /// a norm that computes statistics of this batch (InstanceNorm, BatchNorm in training) →
    /// conv + bias fused, then the norm and activation (on flex, InstanceNorm and the activation
    /// as one op; elsewhere burn ops).
    fn forward_fused(&self, x: Tensor<5>) -> Tensor<5> {
        let training = x.device().is_autodiff();
        match self.folded_epilogue(training) {
            Some((scale, shift)) => self.conv_with(x, scale, shift, self.kernel_activation()),
            None => self.norm_act(self.conv_only(x)),
        }
    }

    /// The per-channel scale and shift that fold this block's norm into the conv's epilogue, when
    /// the norm needs no statistics of the conv output (none, or BatchNorm at inference).
    fn folded_epilogue(&self, training: bool) -> Option<(Option<Tensor<1>>, Option<Tensor<1>>)> {
        match &self.norm {
            NormLayer::Identity(_) => Some((None, None)),
            NormLayer::Batch(bn) if !(training && bn.training.is_enabled()) => {
                let device = bn.gamma.device();
                let (scale, shift) = fold_batchnorm(
                    bn.gamma.val(),
                    bn.beta.val(),
                    bn.running_mean.value().to_device(&device),
                    bn.running_var.value().to_device(&device),
                    bn.epsilon,
                );
                Some((Some(scale), Some(shift)))
            }
            _ => None,
        }
    }

    /// Whether [`forward`](Self::forward) runs the norm and activation inside the conv's
    /// epilogue (one op) rather than as [`conv_only`](Self::conv_only) then
    /// [`norm_act`](Self::norm_act) (what the bench's per-layer profile times apart).
    pub fn fuses_norm(&self, training: bool) -> bool {
        self.conv_impl != ConvImpl::Builtin && self.folded_epilogue(training).is_some()
    }

    /// The convolution and its bias alone (the decided implementation).
    pub fn conv_only(&self, x: Tensor<5>) -> Tensor<5> {
        match self.conv_impl {
            ConvImpl::Builtin => self.conv.forward(x),
            _ => self.conv_with(x, None, None, kernels::Activation::Identity),
        }
    }

    /// The normalisation and activation that follow [`conv_only`](Self::conv_only).
    pub fn norm_act(&self, z: Tensor<5>) -> Tensor<5> {
        match &self.norm {
            NormLayer::Instance(InstanceNorm {
                gamma: Some(gamma),
                beta: Some(beta),
                epsilon,
                ..
            }) if self.conv_impl != ConvImpl::Builtin
                && kernels::instance_norm_act_supported(&z) =>
            {
                let slope = self.kernel_activation().negative_slope();
                kernels::instance_norm_act_flex(z, gamma.val(), beta.val(), *epsilon as f32, slope)
            }
            norm => self.activate(norm.forward(z)),
        }
    }

    fn conv_with(
        &self,
        x: Tensor<5>,
        scale: Option<Tensor<1>>,
        shift: Option<Tensor<1>>,
        act: kernels::Activation,
    ) -> Tensor<5> {
        let weight = self.conv.weight.val();
        let bias = self.conv.bias.as_ref().map(|b| b.val());
        let (xs, ws, bs) = (x.clone(), weight.clone(), bias.clone());
        kernels::conv3d_fused_as(
            self.conv_impl,
            x,
            weight,
            bias,
            scale.clone(),
            shift.clone(),
            act,
        )
        .unwrap_or_else(|e| {
            // An input the decided kernels cannot take (e.g. beyond the adapter's buffer
            // limit): burn's ops compute the same, slower.
            warn_fallback(&e);
            kernels::conv3d_fused_reference(xs, ws, bs, scale, shift, act)
        })
    }
}

/// Logs, once per process, that a conv block fell back to burn's ops, and why.
fn warn_fallback(e: &crate::Error) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| log::warn!("conv3d: {e}; using burn's conv3d instead"));
}

/// What the convolutions of one level share besides their channels.
#[derive(Clone, Debug)]
pub struct ConvSpec {
    pub norm: Norm,
    pub activation: Activation,
    pub kernels: KernelChoice,
    /// Kernel [z, y, x] of every convolution of the level.
    pub kernel: [usize; 3],
    /// Stride of the level's first convolution (the others have stride 1).
    pub first_stride: [usize; 3],
    pub bias: bool,
}

/// Two [`ConvBlock`]s: `[in, mid]` then `[mid, out]`, one resolution level of the U-Net.
#[derive(Module, Debug)]
pub struct DoubleConv {
    /// First conv block.
    pub first: ConvBlock,
    /// Second conv block.
    pub second: ConvBlock,
}

impl DoubleConv {
    /// `channels` = `[in, mid, out]`.
    pub fn new(channels: [usize; 3], spec: &ConvSpec, device: &Device) -> Self {
        let block = |c: [usize; 2], stride: [usize; 3]| {
            ConvBlockConfig::new(c)
                .with_norm(spec.norm.clone())
                .with_activation(spec.activation.clone())
                .with_kernels(spec.kernels)
                .with_kernel(spec.kernel)
                .with_stride(stride)
                .with_bias(spec.bias)
                .init(device)
        };
        DoubleConv {
            first: block([channels[0], channels[1]], spec.first_stride),
            second: block([channels[1], channels[2]], [1, 1, 1]),
        }
    }

    /// # Shapes
    /// - input: `[batch, in, depth, height, width]`
    /// - output: `[batch, out, depth, height, width]`
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.second.forward(self.first.forward(x))
    }
}

/// One decoder level: up-convolution (kernel = stride = the level's pooling kernel; channels kept
/// as in the paper, or to the skip's width as in nnU-Net), concatenation with the skip connection,
/// then a [`DoubleConv`] to the skip's width.
#[derive(Module, Debug)]
pub struct UpBlock {
    /// Transposed convolution undoing the level's pooling (kernel = stride; its forward runs as
    /// [`up_conv3d_with`](super::upsample::up_conv3d_with), one matmul).
    pub up: ConvTranspose3d,
    /// Convolutions on `[up, skip]` concatenated along channels.
    pub convs: DoubleConv,
}

impl UpBlock {
    /// `channels` = `[up-conv in, up-conv out, skip, out]`; `kernel` = the level's pooling
    /// kernel; `spec` the level's convolutions (its `first_stride` is ignored: stride 1).
    pub fn new(channels: [usize; 4], kernel: [usize; 3], spec: &ConvSpec, device: &Device) -> Self {
        let [up_in, up, skip, out] = channels;
        let spec = ConvSpec {
            first_stride: [1, 1, 1],
            ..spec.clone()
        };
        UpBlock {
            up: ConvTranspose3dConfig::new([up_in, up], kernel)
                .with_stride(kernel)
                .with_bias(spec.bias)
                .init(device),
            convs: DoubleConv::new([up + skip, out, out], &spec, device),
        }
    }

    /// # Shapes
    /// - x: `[batch, up-conv in, d, h, w]`, skip: `[batch, skip, d·kd, h·kh, w·kw]`
    /// - output: `[batch, out, d·kd, h·kh, w·kw]`
    pub fn forward(&self, x: Tensor<5>, skip: Tensor<5>) -> Tensor<5> {
        let bias = self.up.bias.as_ref().map(|b| b.val());
        let own = self.convs.first.conv_impl != ConvImpl::Builtin;
        // [batch, up-conv out, d·kd, h·kh, w·kw]
        let x = up_conv3d_with(x, self.up.weight.val(), bias, own);
        // [batch, up + skip, ...]
        let x = if own {
            kernels::concat_channels(x, skip)
        } else {
            Tensor::cat(vec![x, skip], 1)
        };
        self.convs.forward(x)
    }
}
