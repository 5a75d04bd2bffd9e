//! The norms and reductions of [`super::norm`] / [`crate::kernels::reduce`] on wgpu (lavapipe in
//! CI) at sizes where burn's own flattened reductions drop elements there, against burn's
//! modules on flex.

use burn::nn::{BatchNormConfig, InstanceNormConfig};
use burn::prelude::*;
use burn::tensor::Device;

use super::norm::{batch_norm, instance_norm};
use crate::kernels::reduce::{mean_axes, sum_all, sum_axes};
use crate::kernels::tests::wgpu_device;

/// More voxels per channel than burn's wgpu reduction sums in one axis (65 535 lines), with odd
/// sizes (no 4-wide lines), and the small preset's training batch.
const SHAPES: [[usize; 5]; 2] = [[2, 3, 3, 151, 151], [2, 2, 16, 96, 96]];

fn values(shape: [usize; 5]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let per_channel = n / shape[0] / shape[1];
    (0..n)
        .map(|i| ((i * 7919) % 1013) as f32 / 1013.0 + (i / per_channel) as f32 * 0.5)
        .collect()
}

fn tensor(shape: [usize; 5], device: &Device) -> Tensor<5> {
    Tensor::from_data(TensorData::new(values(shape), shape), device)
}

fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    let a = a.into_data().try_to_vec::<f32>().unwrap();
    let b = b.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn on(t: Tensor<5>, device: &Device) -> Tensor<5> {
    Tensor::from_data(t.into_data(), device)
}

#[test]
fn sums_over_many_voxels_are_exact_on_wgpu() {
    let Some(wgpu) = wgpu_device() else { return };
    for shape in SHAPES {
        let [b, c, z, y, x] = shape;
        let ones = Tensor::<5>::ones(shape, &wgpu);
        let per_sample: Vec<f32> = sum_axes(ones.clone(), &[2, 3, 4])
            .into_data()
            .try_to_vec()
            .unwrap();
        assert!(
            per_sample.iter().all(|&s| s == (z * y * x) as f32),
            "{shape:?}: {per_sample:?}"
        );
        let per_channel: Vec<f32> = sum_axes(ones.clone(), &[0, 2, 3, 4])
            .into_data()
            .try_to_vec()
            .unwrap();
        assert!(
            per_channel.iter().all(|&s| s == (b * z * y * x) as f32),
            "{shape:?}: {per_channel:?}"
        );
        let all: Vec<f32> = sum_all(ones.clone()).into_data().try_to_vec().unwrap();
        assert_eq!(all, vec![(b * c * z * y * x) as f32], "{shape:?}");
        let mean: Vec<f32> = mean_axes(ones, &[0, 2, 3, 4])
            .into_data()
            .try_to_vec()
            .unwrap();
        assert!(
            mean.iter().all(|&m| (m - 1.0).abs() < 1e-6),
            "{shape:?}: {mean:?}"
        );
    }
}

#[test]
fn instance_norm_on_wgpu_matches_burns_module_on_flex() {
    let Some(wgpu) = wgpu_device() else { return };
    let flex = Device::flex();
    for shape in SHAPES {
        let c = shape[1];
        let reference = InstanceNormConfig::new(c).with_affine(true).init(&flex);
        // Non-trivial affine parameters, the same on both devices.
        let gamma = Tensor::<1>::from_data(
            TensorData::new((0..c).map(|i| 0.5 + i as f32).collect(), [c]),
            &flex,
        );
        let beta = Tensor::<1>::from_data(
            TensorData::new((0..c).map(|i| i as f32 - 0.25).collect(), [c]),
            &flex,
        );
        let mut reference = reference;
        reference.gamma = Some(burn::module::Param::from_tensor(gamma.clone()));
        reference.beta = Some(burn::module::Param::from_tensor(beta.clone()));
        let want = reference.forward(tensor(shape, &flex));
        let ours_flex = instance_norm(&reference, tensor(shape, &flex));
        assert!(max_diff(ours_flex, want.clone()) < 1e-4, "{shape:?}: flex");
        let mut on_wgpu = InstanceNormConfig::new(c).with_affine(true).init(&wgpu);
        on_wgpu.gamma = Some(burn::module::Param::from_tensor(Tensor::from_data(
            gamma.into_data(),
            &wgpu,
        )));
        on_wgpu.beta = Some(burn::module::Param::from_tensor(Tensor::from_data(
            beta.into_data(),
            &wgpu,
        )));
        let got = on(instance_norm(&on_wgpu, tensor(shape, &wgpu)), &flex);
        let d = max_diff(got, want);
        assert!(
            d < 1e-4,
            "{shape:?}: InstanceNorm on wgpu differs from flex by {d}"
        );
    }
}

#[test]
fn batch_norm_training_on_wgpu_matches_flex_with_gradients() {
    let Some(wgpu) = wgpu_device() else { return };
    let flex = Device::flex();
    let run = |device: &Device| {
        let ad = device.clone().autodiff();
        let shape = SHAPES[1];
        let bn = BatchNormConfig::new(shape[1]).init(&ad);
        let x = tensor(shape, &ad).require_grad();
        let y = batch_norm(&bn, x.clone());
        // A loss whose gradient is not uniform, so the backward of the statistics matters.
        let weights = tensor(shape, &ad).detach();
        let grads = sum_all(y.clone() * weights).backward();
        let dx = x.grad(&grads).unwrap();
        let mean = bn.running_mean.value_sync();
        (
            on(y.inner(), &flex),
            Tensor::<5>::from_data(dx.into_data(), &flex),
            mean.into_data(),
        )
    };
    let (y_flex, dx_flex, mean_flex) = run(&flex);
    let (y_wgpu, dx_wgpu, mean_wgpu) = run(&wgpu);
    assert!(max_diff(y_wgpu, y_flex) < 1e-4, "BatchNorm output");
    let scale: f32 = dx_flex.clone().abs().max().into_scalar();
    assert!(
        max_diff(dx_wgpu, dx_flex) < 1e-3 * scale.max(1.0),
        "BatchNorm input gradient"
    );
    mean_wgpu.assert_approx_eq::<f32>(&mean_flex, burn::tensor::Tolerance::absolute(1e-5));
}
