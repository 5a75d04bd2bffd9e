//! Finite-difference check of the whole U-Net's gradients (test only).
//!
//! Autodiff through conv, instance norm, leaky ReLU, reshape-based max pooling, up-conv and
//! concatenation is compared with central differences of the loss `Σ logits²` for one element
//! of every parameter tensor. Parameters are re-drawn from the crate's seeded RNG so the check is
//! deterministic (burn's initialiser uses a process-wide RNG shared by parallel tests).
//!
//! Two precisions, because the network is only piecewise smooth:
//! - f64 with ε = 1e-6: kinks (ReLU, max-pool arg-max switches) are practically never crossed and
//!   rounding is negligible, so every element must agree to 1e-4 relative;
//! - f32 with ε = 1e-2 (the training precision): a perturbation of 1e-2 moves some
//!   pre-activations across a kink, which was measured to put 3–5 of ~28 elements 4–70 % off
//!   (ε = 1e-3 fixes those but f32 rounding then adds ±0.05 absolute noise). So the f32 check asks
//!   only that at least 80 % of the elements agree within 3 %.

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use burn::tensor::DType;

use super::{Activation, Norm, UNet3d, UNet3dConfig};
use crate::util::rng::Rng;

/// Redraws every float parameter in `dtype`: weights ~ N(0, 2/fan_in), 1-D ones ~ 1 + 0.2·N(0, 1).
pub(super) struct Redraw {
    pub(super) rng: Rng,
    pub(super) dtype: DType,
}

impl ModuleMapper for Redraw {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (rng, dtype) = (&mut self.rng, self.dtype);
        param.map(|t| {
            let dims = t.dims();
            let fan_in: usize = dims[1..].iter().product();
            let values: Vec<f64> = (0..dims.iter().product::<usize>())
                .map(|_| match D {
                    1 => 1.0 + 0.2 * rng.normal(),
                    _ => rng.normal() * (2.0 / fan_in as f64).sqrt(),
                })
                .collect();
            Tensor::from_data(TensorData::new(values, dims), (&t.device(), dtype))
        })
    }
}

/// Adds `delta` to element `index` of the parameter `id`, keeping its dtype.
struct Nudge {
    id: ParamId,
    index: usize,
    delta: f64,
}

impl ModuleMapper for Nudge {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if param.id != self.id {
            return param;
        }
        let (index, delta) = (self.index, self.delta);
        param.map(|t| {
            let (dims, dtype, device) = (t.dims(), t.dtype(), t.device());
            let mut values = to_f64(t.into_data());
            values[index] += delta;
            Tensor::from_data(TensorData::new(values, dims), (&device, dtype))
        })
    }
}

/// Every float parameter's id and flat gradient, in visit order.
pub(super) struct Collect<'a> {
    pub(super) grads: &'a burn::tensor::Gradients,
    pub(super) out: Vec<(ParamId, Vec<f64>)>,
}

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let grad = param
            .grad(self.grads)
            .expect("every parameter gets a gradient");
        self.out.push((param.id, to_f64(grad.into_data())));
    }
}

pub(super) fn to_f64(data: TensorData) -> Vec<f64> {
    data.convert::<f64>().try_into_vec::<f64>().unwrap()
}

fn loss(model: &UNet3d, x: &Tensor<5>) -> f64 {
    to_f64(model.forward(x.clone()).into_data())
        .iter()
        .map(|v| v * v)
        .sum()
}

/// Pairs (autodiff, central difference) for one random element of every parameter tensor.
fn compare(
    config: UNet3dConfig,
    dims: [usize; 5],
    seed: u64,
    dtype: DType,
    eps: f64,
) -> Vec<(f64, f64)> {
    let device = Device::flex();
    let mut rng = Rng::new(seed);
    let model = config.init(&device).unwrap().map(&mut Redraw {
        rng: rng.fork(1),
        dtype,
    });
    let input: Vec<f64> = (0..dims.iter().product()).map(|_| rng.normal()).collect();
    let x = Tensor::<5>::from_data(TensorData::new(input, dims), (&device, dtype));

    let trained = model.clone().train();
    let logits = trained.forward(x.clone().autodiff());
    assert_eq!(logits.dtype(), dtype);
    let grads = logits.clone().mul(logits).sum().backward();
    let mut collect = Collect {
        grads: &grads,
        out: Vec::new(),
    };
    trained.visit(&mut collect);
    assert!(
        collect.out.len() >= 10,
        "only {} parameter tensors",
        collect.out.len()
    );

    let mut pairs = Vec::new();
    for (id, grad) in collect.out {
        let index = rng.below(grad.len());
        let at = |delta| loss(&model.clone().map(&mut Nudge { id, index, delta }), &x);
        pairs.push((grad[index], (at(eps) - at(-eps)) / (2.0 * eps)));
    }
    pairs
}

fn no_norm() -> UNet3dConfig {
    UNet3dConfig::new(1, 2)
        .with_base_channels(2)
        .with_norm(Norm::None)
        .with_activation(Activation::LeakyRelu(0.1))
        .with_plan(vec![[1, 2, 2], [2, 2, 2]])
}

fn instance_norm() -> UNet3dConfig {
    UNet3dConfig::new(2, 3)
        .with_base_channels(2)
        .with_norm(Norm::Instance)
        .with_activation(Activation::Relu)
        .with_plan(vec![[2, 2, 2]])
}

#[test]
fn gradients_match_finite_differences_in_f64() {
    for (config, dims, seed) in [
        (no_norm(), [1, 1, 4, 8, 8], 11),
        (instance_norm(), [2, 2, 4, 4, 4], 12),
    ] {
        for (analytic, numeric) in compare(config, dims, seed, DType::F64, 1e-6) {
            let tol = 1e-4 * analytic.abs().max(numeric.abs()) + 1e-6;
            assert!(
                (analytic - numeric).abs() <= tol,
                "autodiff {analytic} vs numeric {numeric}"
            );
        }
    }
}

#[test]
fn gradients_match_finite_differences_in_f32_up_to_kinks() {
    let cases = [
        (no_norm(), [1, 1, 4, 8, 8], 11),
        (instance_norm(), [2, 2, 4, 4, 4], 12),
    ];
    for (config, dims, seed) in cases {
        let pairs = compare(config, dims, seed, DType::F32, 1e-2);
        let close = |&&(a, n): &&(f64, f64)| (a - n).abs() <= 0.03 * a.abs().max(n.abs()) + 1e-2;
        let within = pairs.iter().filter(close).count();
        assert!(
            within * 5 >= pairs.len() * 4,
            "fewer than 80 % within 3 %: {pairs:?}"
        );
    }
}
