//! The 3D U-Net of Çiçek et al. 2016 ("3D U-Net: Learning Dense Volumetric Segmentation from
//! Sparse Annotation", MICCAI 2016, arXiv:1606.06650), with same padding and configurable
//! normalisation and per-level (possibly anisotropic) pooling.
//!
//! Analysis path: at each of `depth` levels a [`DoubleConv`] (`base·2^l` → `base·2^(l+1)`
//! channels) whose output is kept as the skip, then max pooling. Bottom: a [`DoubleConv`].
//! Synthesis path: per level an [`UpBlock`] (up-conv, concatenate the skip, two convs to the
//! skip's width); finally a 1×1×1 conv to the class logits. Input sizes must be multiples of
//! [`UNet3dConfig::divisor`]; the output has the input's spatial size.
//!
//! ```ignore
//! let config = UNet3dConfig::preset("small")?.with_plan(pooling_plan([3.0, 0.5, 0.5], [32, 128, 128], 3));
//! let model = config.init(&Device::flex())?;
//! let logits = model.forward(Tensor::zeros([2, 1, 32, 128, 128], &device)); // [2, 3, 32, 128, 128]
//! ```

use std::path::Path;

use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::prelude::*;
use burn::tensor::Bytes;

use super::blocks::{ConvSpec, DoubleConv, UpBlock};
use super::config::{Downsample, UNet3dConfig};
use super::plan::check_divisible;
use super::pool::max_pool3d_with;
use crate::error::{Error, Result};
use crate::kernels::ConvImpl;
use crate::util::fsio::write_atomic;

/// The 3D U-Net. Create it with [`UNet3dConfig::init`].
#[derive(Module, Debug)]
pub struct UNet3d {
    /// Analysis path, one [`DoubleConv`] per level (index = level, 0 = full resolution).
    pub encoder: Vec<DoubleConv>,
    /// The lowest resolution level.
    pub bottom: DoubleConv,
    /// Synthesis path, one [`UpBlock`] per level (index = level; run from deepest to 0).
    pub decoder: Vec<UpBlock>,
    /// 1×1×1 convolution to the class logits.
    pub head: Conv3d,
    /// Deep-supervision heads (1×1×1 convs) on the decoder outputs of levels 1 … depth−1, index 0 =
    /// level 1; empty without deep supervision.
    pub aux_heads: Vec<Conv3d>,
    /// Pooling kernel per level [z, y, x] (a constant, not a parameter).
    #[module(skip)]
    pub pool_kernels: Vec<[usize; 3]>,
    /// Max pooling between levels, or strided first convolutions (a setting).
    #[module(skip)]
    pub downsample: Downsample,
}

impl UNet3dConfig {
    /// Validates the configuration and creates the network with burn's default initialisation.
    pub fn init(&self, device: &Device) -> Result<UNet3d> {
        self.validate()?;
        let spec = |level: usize| ConvSpec {
            norm: self.norm.clone(),
            activation: self.activation.clone(),
            kernels: self.kernels,
            kernel: self.conv_kernel(level),
            first_stride: self.first_stride(level),
            bias: self.conv_bias,
        };
        let encoder = (0..self.depth)
            .map(|l| DoubleConv::new(self.encoder_channels(l), &spec(l), device))
            .collect();
        let bottom = DoubleConv::new(self.encoder_channels(self.depth), &spec(self.depth), device);
        let decoder = (0..self.depth)
            .map(|l| {
                UpBlock::new(
                    self.decoder_channels(l),
                    self.pool_kernels[l],
                    &spec(l),
                    device,
                )
            })
            .collect();
        let head_in = self.decoder_channels(0)[3];
        let head = Conv3dConfig::new([head_in, self.num_classes], [1, 1, 1]).init(device);
        let aux_levels = if self.deep_supervision {
            1..self.depth
        } else {
            0..0
        };
        let aux_heads = aux_levels
            .map(|l| {
                let channels = self.decoder_channels(l)[3];
                Conv3dConfig::new([channels, self.num_classes], [1, 1, 1]).init(device)
            })
            .collect();
        Ok(UNet3d {
            encoder,
            bottom,
            decoder,
            head,
            aux_heads,
            pool_kernels: self.pool_kernels.clone(),
            downsample: self.downsample.clone(),
        })
    }
}

impl UNet3d {
    /// Number of input channels the first convolution expects.
    pub fn in_channels(&self) -> usize {
        self.encoder[0].first.conv.weight.dims()[1]
    }

    /// Number of output classes.
    pub fn num_classes(&self) -> usize {
        self.head.weight.dims()[0]
    }

    /// Errors unless `dims` = `[batch ≥ 1, in_channels, d, h, w]` with d, h, w multiples of the
    /// pooling divisor.
    pub fn check_input(&self, dims: [usize; 5]) -> Result<()> {
        let [batch, channels, d, h, w] = dims;
        if batch == 0 || channels != self.in_channels() {
            return Err(Error::config(format!(
                "model input {dims:?} must be [batch >= 1, {}, depth, height, width]",
                self.in_channels()
            )));
        }
        check_divisible([d, h, w], &self.pool_kernels)
    }

    /// Class logits (no softmax).
    ///
    /// # Shapes
    /// - input: `[batch, in_channels, depth, height, width]`
    /// - output: `[batch, num_classes, depth, height, width]`
    ///
    /// # Panics
    /// If the input fails [`check_input`](Self::check_input) (with that message); use
    /// [`try_forward`](Self::try_forward) for a `Result`.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.run(x, false).swap_remove(0)
    }

    /// Training with deep supervision: the full-resolution logits, then those of the auxiliary
    /// heads, level 1 first (each level's size is the input's divided by the pooling kernels of
    /// the levels above it). Without auxiliary heads, just `[forward(x)]`.
    ///
    /// # Panics
    /// As [`forward`](Self::forward).
    pub fn forward_deep(&self, x: Tensor<5>) -> Vec<Tensor<5>> {
        self.run(x, true)
    }

    fn run(&self, x: Tensor<5>, deep: bool) -> Vec<Tensor<5>> {
        if let Err(e) = self.check_input(x.dims()) {
            panic!("{e}");
        }
        let mut skips = Vec::with_capacity(self.encoder.len());
        let mut x = x;
        for (level, convs) in self.encoder.iter().enumerate() {
            let skip = convs.forward(x); // [b, c_l, d_l, h_l, w_l]
            x = match self.downsample {
                // [b, c_l, d_l/kd, h_l/kh, w_l/kw]
                Downsample::MaxPool => {
                    max_pool3d_with(skip.clone(), self.pool_kernels[level], self.own_kernels())
                }
                // The next level's first convolution strides.
                Downsample::StridedConv => skip.clone(),
            };
            skips.push(skip);
        }
        x = self.bottom.forward(x); // [b, c_depth, d_depth, h_depth, w_depth]
        let mut aux = Vec::new(); // deepest level first
        for (level, (up, skip)) in self.decoder.iter().zip(skips).enumerate().rev() {
            x = up.forward(x, skip); // [b, c_l, d_l, h_l, w_l]
            if deep
                && level >= 1
                && let Some(head) = self.aux_heads.get(level - 1)
            {
                aux.push(self.head_forward(head, x.clone())); // [b, classes, d_l, h_l, w_l]
            }
        }
        let mut outputs = vec![self.head_forward(&self.head, x)]; // [b, classes, d, h, w]
        outputs.extend(aux.into_iter().rev());
        outputs
    }

    /// Whether the network runs the project's kernels (`kernels = "own"`: WGSL on wgpu, the CPU
    /// kernels on flex) rather than burn's ops; decided by its conv blocks when it was built.
    pub fn own_kernels(&self) -> bool {
        self.encoder[0].first.conv_impl != ConvImpl::Builtin
    }

    /// A 1×1×1 head (the main one or a deep-supervision one) on `x`: on flex with the project's
    /// kernels their CPU conv (a matrix product; burn's conv3d backward costs 3× as much there),
    /// elsewhere burn's `Conv3d`.
    pub fn head_forward(&self, head: &Conv3d, x: Tensor<5>) -> Tensor<5> {
        if self.encoder[0].first.conv_impl == ConvImpl::Cpu
            && crate::kernels::flex_conv_supported(&x, &head.weight.val())
        {
            let bias = head.bias.as_ref().map(|b| b.val());
            let weight = head.weight.val();
            if let Ok(y) = crate::kernels::conv3d_fused_as(
                ConvImpl::Cpu,
                x.clone(),
                weight,
                bias,
                None,
                None,
                crate::kernels::Activation::Identity,
            ) {
                return y;
            }
        }
        head.forward(x)
    }

    /// [`forward`](Self::forward) after [`check_input`](Self::check_input).
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<5>> {
        self.check_input(x.dims())?;
        Ok(self.forward(x))
    }

    /// Writes the weights (and batch-norm statistics) as burnpack to `path`, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        // `valid()` folds pending batch-norm running-statistics updates into the values that
        // `into_record` reads (without it a trained model saves the initial statistics).
        let bytes = self
            .valid()
            .into_record()
            .into_bytes()
            .map_err(|e| Error::invalid(path, format!("cannot encode model weights: {e}")))?;
        write_atomic(path, &bytes)
    }

    /// Creates the network of `config` on `device` with the weights saved at `path` by
    /// [`save`](Self::save); a missing file or a shape mismatch is an error naming the file.
    pub fn load(config: &UNet3dConfig, path: &Path, device: &Device) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let record = burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| Error::invalid(path, format!("not a burnpack weights file: {e}")))?;
        config
            .init(device)?
            .try_load_record(record)
            .map_err(|e| Error::invalid(path, format!("weights do not fit the model config: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, Norm};
    use crate::util::rng::Rng;

    fn input(dims: [usize; 5], seed: u64, device: &Device) -> Tensor<5> {
        let mut rng = Rng::new(seed);
        let values: Vec<f32> = (0..dims.iter().product())
            .map(|_| rng.normal() as f32)
            .collect();
        Tensor::from_data(TensorData::new(values, dims), device)
    }

    #[test]
    fn output_has_input_size_and_class_channels() {
        let device = Device::flex();
        let cases = [
            (UNet3dConfig::preset("tiny").unwrap(), [1, 1, 8, 8, 8]),
            // Anisotropic: z pooled only at the second level; batch 2; BatchNorm + leaky ReLU.
            (
                UNet3dConfig::new(1, 3)
                    .with_base_channels(3)
                    .with_activation(Activation::LeakyRelu(0.01))
                    .with_plan(vec![[1, 2, 2], [2, 2, 2]]),
                [2, 1, 2, 8, 12],
            ),
            (
                UNet3dConfig::new(2, 2)
                    .with_base_channels(2)
                    .with_norm(Norm::None)
                    .with_plan(vec![[1, 2, 2]; 3]),
                [2, 2, 3, 8, 16],
            ),
        ];
        for (config, dims) in cases {
            let model = config.init(&device).unwrap();
            let [b, _, d, h, w] = dims;
            let y = model.forward(input(dims, 1, &device));
            assert_eq!(y.dims(), [b, config.num_classes, d, h, w], "{config}");
            assert!(
                y.into_data()
                    .try_into_vec::<f32>()
                    .unwrap()
                    .iter()
                    .all(|v| v.is_finite())
            );
        }
    }

    #[test]
    fn training_forward_with_batch_norm_on_autodiff_device() {
        let device = Device::flex().autodiff();
        let model = UNet3dConfig::preset("paper")
            .unwrap()
            .with_base_channels(2)
            .with_plan(vec![[1, 2, 2], [2, 2, 2]])
            .init(&device)
            .unwrap();
        let y = model.forward(input([2, 1, 4, 8, 8], 2, &device));
        assert_eq!(y.dims(), [2, 3, 4, 8, 8]);
        let grads = y.powi_scalar(2).sum().backward();
        assert!(model.head.weight.grad(&grads).is_some());
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let device = Device::flex();
        let model = UNet3dConfig::preset("tiny").unwrap().init(&device).unwrap();
        let err = model
            .try_forward(input([1, 1, 8, 6, 8], 3, &device))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[8, 6, 8]") && err.contains("[4, 4, 4]") && err.contains("axis y"),
            "{err}"
        );
        let err = model.check_input([1, 2, 8, 8, 8]).unwrap_err().to_string();
        assert!(
            err.contains("[batch >= 1, 1, depth, height, width]"),
            "{err}"
        );
        let err = UNet3dConfig::new(1, 3)
            .with_depth(2)
            .init(&device)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pool_kernels"), "{err}");
    }

    #[test]
    fn save_load_round_trip_gives_identical_outputs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("weights.bpk");
        let config = UNet3dConfig::new(1, 3)
            .with_base_channels(2)
            .with_plan(vec![[1, 2, 2], [2, 2, 2]]);
        // One training-mode forward moves the batch-norm running statistics off their defaults.
        let trained = config.init(&Device::flex().autodiff()).unwrap();
        let _ = trained.forward(input([2, 1, 4, 8, 8], 4, &Device::flex().autodiff()));
        trained.save(&path).unwrap();

        let device = Device::flex();
        let x = input([1, 1, 4, 8, 8], 5, &device);
        let want = trained.valid().forward(x.clone()).into_data();
        let fresh = config.init(&device).unwrap();
        assert_ne!(fresh.forward(x.clone()).into_data(), want);
        let loaded = UNet3d::load(&config, &path, &device).unwrap();
        assert_eq!(loaded.forward(x).into_data(), want);

        // Wrong architecture and missing file: errors naming the file.
        let other = config.clone().with_base_channels(3);
        let err = UNet3d::load(&other, &path, &device)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("weights.bpk") && err.contains("do not fit"),
            "{err}"
        );
        let err = UNet3d::load(&config, &dir.join("missing.bpk"), &device)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.bpk"), "{err}");
        let junk = dir.join("junk.bpk");
        std::fs::write(&junk, b"not weights").unwrap();
        let err = UNet3d::load(&config, &junk, &device)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("junk.bpk: not a burnpack weights file"),
            "{err}"
        );
    }

    #[test]
    fn deep_supervision_adds_heads_at_the_lower_decoder_levels_only_for_training() {
        let device = Device::flex();
        let config = UNet3dConfig::preset("tiny")
            .unwrap()
            .with_plan(vec![[1, 2, 2], [2, 2, 2], [2, 2, 2]])
            .with_deep_supervision(true);
        let model = config.init(&device).unwrap();
        assert_eq!(model.aux_heads.len(), 2, "levels 1 and 2 of a depth-3 net");
        let x = input([1, 1, 4, 16, 16], 5, &device);
        let outs = model.forward_deep(x.clone());
        let dims: Vec<[usize; 5]> = outs.iter().map(|o| o.dims()).collect();
        assert_eq!(
            dims,
            vec![[1, 3, 4, 16, 16], [1, 3, 4, 8, 8], [1, 3, 2, 4, 4]]
        );
        let plain = model.forward(x);
        let diff: f32 = (plain - outs[0].clone()).abs().max().into_scalar();
        assert_eq!(diff, 0.0, "the full-resolution output is forward()'s");
        let without = config.with_deep_supervision(false).init(&device).unwrap();
        assert!(without.aux_heads.is_empty());
    }
}
