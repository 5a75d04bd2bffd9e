//! The whole U-Net with `kernels = "wgsl"` and `kernels = "builtin"` on the same wgpu device
//! (lavapipe in CI): same logits and same parameter gradients in training mode, and the same
//! logits at inference, where BatchNorm is folded into the WGSL epilogue. Test only.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::DType;

use super::gradcheck::{Collect, Redraw, to_f64};
use super::{Activation, Norm, UNet3d, UNet3dConfig};
use crate::kernels::KernelChoice;
use crate::kernels::tests::wgpu_device;
use crate::util::rng::Rng;

/// Largest |a − b| relative to the largest |b|.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mag = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-12);
    a.iter().zip(b).fold(0f64, |m, (x, y)| m.max((x - y).abs())) / mag
}

/// The same weights (redrawn from the crate's seeded RNG) under both kernel choices.
fn twin_models(config: UNet3dConfig, device: &Device) -> (UNet3d, UNet3d) {
    let wgsl = config
        .clone()
        .with_kernels(KernelChoice::Own)
        .init(device)
        .unwrap()
        .map(&mut Redraw {
            rng: Rng::new(5),
            dtype: DType::F32,
        });
    let builtin = config
        .with_kernels(KernelChoice::Builtin)
        .init(device)
        .unwrap()
        .load_record(wgsl.clone().into_record());
    (wgsl, builtin)
}

fn input(dims: [usize; 5], device: &Device) -> Tensor<5> {
    let mut rng = Rng::new(9);
    let v: Vec<f32> = (0..dims.iter().product())
        .map(|_| rng.normal() as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, dims), device)
}

/// Logits and every parameter gradient of `Σ logits · r` in training mode.
fn logits_and_grads(model: &UNet3d, x: &Tensor<5>, r: &Tensor<5>) -> (Vec<f64>, Vec<Vec<f64>>) {
    let trained = model.clone().train();
    let logits = trained.forward(x.clone().autodiff());
    let grads = (logits.clone() * r.clone().autodiff()).sum().backward();
    let mut collect = Collect {
        grads: &grads,
        out: Vec::new(),
    };
    trained.visit(&mut collect);
    (
        to_f64(logits.inner().into_data()),
        collect.out.into_iter().map(|(_, g)| g).collect(),
    )
}

#[test]
fn unet_gives_the_same_outputs_and_gradients_with_wgsl_and_builtin_kernels() {
    let Some(device) = wgpu_device() else { return };
    let dims = [2, 1, 4, 8, 12];
    let cases = [
        // nnU-Net style: InstanceNorm (conv + bias fused, norm after), LeakyReLU, anisotropic plan.
        UNet3dConfig::new(1, 3)
            .with_base_channels(3)
            .with_norm(Norm::Instance)
            .with_activation(Activation::LeakyRelu(0.01))
            .with_plan(vec![[1, 2, 2], [2, 2, 2]]),
        // No norm: conv + bias + activation in one dispatch, also in training.
        UNet3dConfig::new(1, 3)
            .with_base_channels(2)
            .with_norm(Norm::None)
            .with_plan(vec![[1, 2, 2], [2, 2, 2]]),
    ];
    let x = input(dims, &device);
    let r = input([2, 3, 4, 8, 12], &device);
    for config in cases {
        let (wgsl, builtin) = twin_models(config.clone(), &device);
        let (y_w, g_w) = logits_and_grads(&wgsl, &x, &r);
        let (y_b, g_b) = logits_and_grads(&builtin, &x, &r);
        let err = rel_err(&y_w, &y_b);
        eprintln!("{:?} logits: rel err {err:e}", config.norm);
        assert!(err < 1e-4, "{:?} logits: rel err {err}", config.norm);
        assert_eq!(g_w.len(), g_b.len());
        assert!(g_w.len() >= 10);
        // A conv bias followed by InstanceNorm has an exact gradient of 0 (the norm removes any
        // per-channel constant), so both sides are f32 rounding noise there, ~1e-7 of the largest
        // gradient and different with each kernel tuning: such parameters must be zero on both
        // sides (below 1e-5 of the largest gradient); every other gradient must agree to 1e-3.
        let largest = g_b.iter().flatten().fold(0f64, |m, v| m.max(v.abs()));
        let zero = 1e-5 * largest;
        let max_abs = |g: &[f64]| g.iter().fold(0f64, |m, v| m.max(v.abs()));
        // Exactly the conv biases before InstanceNorm: two per level and at the bottom.
        let zeros = g_b.iter().filter(|b| max_abs(b) <= zero).count();
        let expected = match config.norm {
            Norm::Instance => 2 * (2 * config.depth + 1),
            _ => 0,
        };
        assert_eq!(
            zeros, expected,
            "{:?}: zero-gradient parameters",
            config.norm
        );
        for (i, (a, b)) in g_w.iter().zip(&g_b).enumerate() {
            if max_abs(b) <= zero {
                let got = max_abs(a);
                eprintln!(
                    "{:?} parameter {i}: zero gradient, wgsl max |g| {got:e}",
                    config.norm
                );
                assert!(
                    got <= zero,
                    "{:?} parameter {i}: {got} should be 0",
                    config.norm
                );
                continue;
            }
            let err = rel_err(a, b);
            eprintln!("{:?} parameter {i}: rel err {err:e}", config.norm);
            assert!(err < 1e-3, "{:?} parameter {i}: rel err {err}", config.norm);
        }
    }
}

#[test]
fn inference_with_batch_norm_folded_into_the_wgsl_epilogue_matches_builtin() {
    let Some(device) = wgpu_device() else { return };
    // Paper style: BatchNorm + ReLU. One training-mode forward moves the running statistics
    // off (0, 1), so the fold is exercised with mean ≠ 0 and var ≠ 1.
    let config = UNet3dConfig::new(1, 3)
        .with_base_channels(3)
        .with_plan(vec![[1, 2, 2], [2, 2, 2]]);
    let (wgsl, _) = twin_models(config.clone(), &device);
    let trained = wgsl.train();
    let _ = trained.forward(input([2, 1, 4, 8, 12], &device).autodiff());
    let wgsl = trained.valid();
    let builtin = config
        .with_kernels(KernelChoice::Builtin)
        .init(&device)
        .unwrap()
        .load_record(wgsl.clone().into_record());
    let x = input([1, 1, 4, 8, 12], &device);
    let y_w = to_f64(wgsl.forward(x.clone()).into_data());
    let y_b = to_f64(builtin.forward(x).into_data());
    let err = rel_err(&y_w, &y_b);
    eprintln!("batch norm inference: rel err {err:e}");
    assert!(err < 1e-4, "rel err {err}");
}
