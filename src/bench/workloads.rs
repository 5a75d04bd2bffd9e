//! The measured operations, written once for every backend: each builds its inputs on the
//! target's device, then times one call in a loop.

use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::config::{BenchConfig, Workload};
use super::target::BenchTarget;
use super::timing::{Measurement, measure};
use crate::error::Result;
use crate::infer::predict_probabilities;
use crate::infer::sliding_window::window_starts;
use crate::kernels::api::wgpu_device;
use crate::kernels::{Activation, KernelChoice, conv3d_fused_with};
use crate::model::{UNet3dConfig, model_stats};
use crate::run::TrainConfig;
use crate::train::loss::batch_loss;
use crate::util::rng::Rng;

/// What one workload did per call, and how long it took.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkloadResult {
    /// Input shape, e.g. `[2, 1, 16, 48, 48]`.
    pub shape: String,
    /// Floating-point operations per call (2 per multiply-add, convolutions only).
    pub flops: f64,
    /// Input voxels processed per call.
    pub voxels: f64,
    pub measurement: Measurement,
    /// Device memory the allocator holds after the run (wgpu only; flex reports none). Pools keep
    /// their pages, so this is the adapter's high-water mark over every row run on it so far.
    pub reserved_bytes: Option<u64>,
}

fn random(rng: &mut Rng, dims: &[usize], scale: f64) -> TensorData {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| (rng.normal() * scale) as f32).collect();
    TensorData::new(v, dims.to_vec())
}

/// The preset's training config with its pooling plan applied and the target's kernels.
pub(super) fn planned(cfg: &BenchConfig, kernels: KernelChoice) -> Result<TrainConfig> {
    let mut tc = cfg.train.clone();
    tc.model.kernels = kernels;
    let spacing = tc.preprocess.target_spacing.unwrap_or([0.6, 0.6, 3.6]);
    tc.apply_pooling_plan(spacing)?;
    Ok(tc)
}

/// Runs `workload` on `target` with `cfg`'s shapes and repetitions (`conv`: the conv layer
/// shape, for the conv workloads).
pub fn run_workload(
    workload: Workload,
    target: &BenchTarget,
    cfg: &BenchConfig,
    conv: [usize; 5],
) -> Result<WorkloadResult> {
    let device = target.backend.device.clone();
    let mut rng = Rng::new(cfg.seed);
    let (shape, flops, voxels, measurement) = match workload {
        Workload::ConvForward | Workload::ConvTrain => {
            let [n, c, d, h, w] = conv;
            let train = workload == Workload::ConvTrain;
            let dev = if train {
                device.clone().autodiff()
            } else {
                device.clone()
            };
            let fan_in = (c * 27) as f64;
            let x = Tensor::<5>::from_data(random(&mut rng, &conv, 1.0), &dev);
            let wd = random(&mut rng, &[c, c, 3, 3, 3], (2.0 / fan_in).sqrt());
            let weight = Tensor::<5>::from_data(wd, &dev);
            let bias = Tensor::<1>::from_data(random(&mut rng, &[c], 0.1), &dev);
            let (x, weight, bias) = if train {
                (x.require_grad(), weight.require_grad(), bias.require_grad())
            } else {
                (x, weight, bias)
            };
            let mut keep = Vec::new();
            let m = measure(&device, cfg.warmup, cfg.reps, cfg.row_budget_s, || {
                let y = conv3d_fused_with(
                    target.kernels,
                    x.clone(),
                    weight.clone(),
                    Some(bias.clone()),
                    None,
                    None,
                    Activation::Relu,
                )?;
                keep.clear();
                if train {
                    let grads = y.sum().backward();
                    for t in [&x, &weight] {
                        keep.extend(t.grad(&grads));
                    }
                } else {
                    keep.push(y);
                }
                Ok(())
            })?;
            let flops = 2.0 * (n * d * h * w * c * c * 27) as f64;
            let voxels = (n * d * h * w) as f64;
            let f = if train { 3.0 * flops } else { flops };
            (format!("{conv:?} k3"), f, voxels, m)
        }
        Workload::UnetForward => {
            let tc = planned(cfg, target.kernels)?;
            let model = tc.model.init(&device)?;
            let [d, h, w] = tc.inference.patch;
            let dims = [tc.inference.batch, tc.model.in_channels, d, h, w];
            let x = Tensor::<5>::from_data(random(&mut rng, &dims, 1.0), &device);
            let mut keep = None;
            let m = measure(&device, cfg.warmup, cfg.reps, cfg.row_budget_s, || {
                keep = Some(model.try_forward(x.clone())?);
                Ok(())
            })?;
            let flops = unet_flops(&tc.model, tc.inference.patch) * dims[0] as f64;
            (format!("{dims:?}"), flops, (dims[0] * d * h * w) as f64, m)
        }
        Workload::TrainStep => {
            let tc = planned(cfg, target.kernels)?;
            let dev = device.clone().autodiff();
            let mut model = Some(tc.model.init(&dev)?);
            let mut optim = tc.optim.init();
            let [d, h, w] = tc.sampler.patch;
            let b = tc.sampler.batch_size;
            let dims = [b, tc.model.in_channels, d, h, w];
            let x = Tensor::<5>::from_data(random(&mut rng, &dims, 1.0), &dev);
            let classes = tc.model.num_classes;
            let labels: Vec<u8> = (0..b * d * h * w)
                .map(|_| rng.below(classes) as u8)
                .collect();
            let m = measure(&device, cfg.warmup, cfg.reps, cfg.row_budget_s, || {
                let current = model.take().expect("model is put back after every step");
                let loss = batch_loss(&current, x.clone(), &labels, &tc.loss)?.total;
                let grads = GradientsParams::from_grads(loss.backward(), &current);
                model = Some(optim.step(tc.optim.lr, current, grads));
                Ok(())
            })?;
            let flops = 3.0 * unet_flops(&tc.model, tc.sampler.patch) * b as f64;
            (format!("{dims:?}"), flops, (b * d * h * w) as f64, m)
        }
        Workload::SlidingWindow => {
            let tc = planned(cfg, target.kernels)?;
            let model = tc.model.init(&device)?;
            let dims = cfg.volume;
            let image: Vec<f32> = random(&mut rng, &dims, 1.0)
                .try_into_vec::<f32>()
                .expect("f32 data");
            let sw = tc.inference.clone();
            let m = measure(&device, cfg.warmup, cfg.reps, cfg.row_budget_s, || {
                predict_probabilities(&model, &image, dims, tc.model.num_classes, &sw, &device)?;
                Ok(())
            })?;
            let windows: usize = (0..3)
                .map(|a| window_starts(dims[a].max(sw.patch[a]), sw.patch[a], sw.step).len())
                .product();
            let passes = 1usize << sw.mirror_axes.len();
            let flops = unet_flops(&tc.model, sw.patch) * (windows * passes) as f64;
            let voxels = dims.iter().product::<usize>() as f64;
            (format!("{dims:?}, {windows} windows"), flops, voxels, m)
        }
    };
    Ok(WorkloadResult {
        shape,
        flops,
        voxels,
        measurement,
        reserved_bytes: reserved_bytes(&device),
    })
}

fn unet_flops(model: &UNet3dConfig, patch: [usize; 3]) -> f64 {
    model_stats(model).flops_per_patch(patch)
}

/// Bytes the cubecl allocator holds on a wgpu device (its pools keep their pages, so after a
/// workload this is its high-water mark); `None` on flex.
fn reserved_bytes(device: &Device) -> Option<u64> {
    use burn_cubecl::cubecl::MemoryScope;
    wgpu_device(device).map(|cube| {
        cube.client()
            .memory_report(MemoryScope::Device)
            .usage()
            .bytes_reserved
    })
}
