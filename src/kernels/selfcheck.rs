//! The project's kernels checked against burn's own ops on any device, at run time: the output
//! and every gradient of the fused convolution (the WGSL kernels on wgpu, the CPU kernels on
//! flex) against `conv3d_fused_reference` on flex under burn's autodiff, over a grid of odd
//! sizes, channel counts, kernel sizes and epilogues. The kernel tests run it on lavapipe;
//! `unet3d bench --gpu-report` runs it on a real GPU.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};

use super::activation::Activation;
use super::api::conv3d_fused;
use super::reference::conv3d_fused_reference;
use crate::util::rng::Rng;

/// Largest relative error (against the reference's largest magnitude) a case may have.
pub const TOLERANCE: f32 = 1e-4;

/// One checked case: what it was, the worst relative error over the output and its gradients,
/// and how long it took (first calls include shader compilation).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SelfCheck {
    pub case: String,
    pub max_rel_err: f32,
    pub seconds: f64,
}

impl SelfCheck {
    pub fn passed(&self) -> bool {
        self.max_rel_err <= TOLERANCE
    }
}

/// Runs every case on `device` (the project's kernels, as a model would) against the reference.
pub fn self_check(device: &Device) -> Vec<SelfCheck> {
    let mut rng = Rng::new(7);
    let relu = Activation::Relu;
    let leaky = Activation::LeakyRelu(0.01);
    let id = Activation::Identity;
    #[rustfmt::skip]
    let cases = [
        Case { x: [1, 1, 7, 9, 5], co: 3, k: 3, bias: true, scale: false, shift: false, trainable: true, act: relu },
        Case { x: [2, 3, 5, 6, 7], co: 17, k: 3, bias: true, scale: true, shift: true, trainable: true, act: leaky },
        Case { x: [1, 17, 6, 5, 9], co: 32, k: 3, bias: false, scale: true, shift: true, trainable: true, act: id },
        Case { x: [2, 32, 4, 5, 6], co: 3, k: 1, bias: true, scale: false, shift: true, trainable: true, act: relu },
        Case { x: [1, 32, 4, 8, 16], co: 32, k: 3, bias: true, scale: false, shift: false, trainable: true, act: relu },
        Case { x: [1, 3, 7, 9, 5], co: 1, k: 1, bias: false, scale: false, shift: false, trainable: true, act: id },
        Case { x: [2, 17, 5, 4, 3], co: 17, k: 3, bias: true, scale: true, shift: true, trainable: false, act: leaky },
        // >= 8192 voxels: the large weight-gradient register block of CPU adapters.
        Case { x: [1, 17, 8, 32, 32], co: 32, k: 3, bias: true, scale: false, shift: false, trainable: true, act: relu },
    ];
    cases
        .iter()
        .map(|case| {
            let name = format!(
                "x {:?} co {} k {} bias {} scale {} shift {} trainable {} {:?}",
                case.x,
                case.co,
                case.k,
                case.bias,
                case.scale,
                case.shift,
                case.trainable,
                case.act
            );
            let start = Instant::now();
            // A device that fails (a driver error, a lost device) fails the case, not the caller.
            let outcome = catch_unwind(AssertUnwindSafe(|| run_case(device, case, &mut rng)));
            let (worst, note) = match outcome {
                Ok(pairs) => (
                    pairs
                        .iter()
                        .map(|(_, got, want)| max_rel_err(got, want))
                        .fold(0f32, f32::max),
                    String::new(),
                ),
                Err(_) => (f32::INFINITY, " (failed to run)".to_string()),
            };
            SelfCheck {
                case: format!("{name}{note}"),
                max_rel_err: worst,
                seconds: start.elapsed().as_secs_f64(),
            }
        })
        .collect()
}

pub(crate) fn random(rng: &mut Rng, dims: &[usize]) -> TensorData {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.range(-1.0, 1.0) as f32).collect();
    TensorData::new(v, dims.to_vec())
}

/// Largest absolute difference over the reference's largest magnitude; infinite when the two
/// cannot be compared.
pub(crate) fn max_rel_err(a: &TensorData, b: &TensorData) -> f32 {
    let (Ok(a), Ok(b)) = (a.try_to_vec::<f32>(), b.try_to_vec::<f32>()) else {
        return f32::INFINITY;
    };
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    let mag = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    a.iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
        / mag
}

/// One grid case: shape, which epilogue steps are present (and trainable), activation.
pub(crate) struct Case {
    x: [usize; 5],
    co: usize,
    k: usize,
    bias: bool,
    scale: bool,
    shift: bool,
    trainable: bool,
    act: Activation,
}

/// Runs `conv3d_fused` on `dev` and `conv3d_fused_reference` on flex, both under autodiff, and
/// returns (name, wgsl, reference) for the output and every gradient.
fn run_case(
    dev: &Device,
    case: &Case,
    rng: &mut Rng,
) -> Vec<(&'static str, TensorData, TensorData)> {
    let [n, ci, d, h, w] = case.x;
    let (co, k) = (case.co, case.k);
    let xd = random(rng, &case.x);
    let wd = random(rng, &[co, ci, k, k, k]);
    let vd: Vec<TensorData> = (0..3).map(|_| random(rng, &[co])).collect();
    let rd = random(rng, &[n, co, d, h, w]);
    let run = |device: &Device, wgsl: bool| {
        let x = Tensor::<5>::from_data(xd.clone(), device).require_grad();
        let wt = Tensor::<5>::from_data(wd.clone(), device).require_grad();
        let vec = |i: usize, on: bool| {
            on.then(|| {
                let t = Tensor::<1>::from_data(vd[i].clone(), device);
                if case.trainable { t.require_grad() } else { t }
            })
        };
        let (b, s, t) = (vec(0, case.bias), vec(1, case.scale), vec(2, case.shift));
        let y = if wgsl {
            conv3d_fused(
                x.clone(),
                wt.clone(),
                b.clone(),
                s.clone(),
                t.clone(),
                case.act,
            )
            .unwrap()
        } else {
            conv3d_fused_reference(
                x.clone(),
                wt.clone(),
                b.clone(),
                s.clone(),
                t.clone(),
                case.act,
            )
        };
        let grads = (y.clone() * Tensor::<5>::from_data(rd.clone(), device))
            .sum()
            .backward();
        let mut out = vec![("y", y.inner().into_data())];
        out.push(("dx", x.grad(&grads).unwrap().into_data()));
        out.push(("dw", wt.grad(&grads).unwrap().into_data()));
        for (name, v) in [("dbias", b), ("dscale", s), ("dshift", t)] {
            if let Some(v) = v.filter(|_| case.trainable) {
                out.push((name, v.grad(&grads).unwrap().into_data()));
            }
        }
        out
    };
    let got = run(&dev.clone().autodiff(), true);
    let want = run(&Device::flex().autodiff(), false);
    got.into_iter()
        .zip(want)
        .map(|((name, g), (_, w))| (name, g, w))
        .collect()
}
