//! InstanceNorm + leaky ReLU as one flex operation with its own backward
//! ([`instance_norm`](super::instance_norm)), for the model's conv blocks on flex.
//!
//! Checked against burn's `InstanceNorm` followed by `leaky_relu`, values and gradients, in the
//! tests below.

use std::sync::Arc;

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::flex::FlexTensor;
use burn::backend::{
    Backend, Dispatch, Flex, TensorMetadata, backend_extension, tensor::FloatTensor,
};
use burn::tensor::{DType, Shape, Tensor, TensorData};

use super::flex_conv::{contiguous, f32_values, is_flex};
use super::instance_norm::{self, PlaneStats};

/// `leaky_relu(InstanceNorm(x) · gamma + beta, slope)` over each `(sample, channel)` plane of `x`
/// (`[n, c, d, h, w]`, f32 on a flex device); `slope` 0 is ReLU.
pub fn instance_norm_act_flex(
    x: Tensor<5>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    eps: f32,
    slope: f32,
) -> Tensor<5> {
    Tensor::from_dispatch(
        <Dispatch as InstanceNormActFlexOps>::instance_norm_act_flex(
            x.into_dispatch(),
            gamma.into_dispatch(),
            beta.into_dispatch(),
            eps,
            slope,
        ),
    )
}

/// Whether [`instance_norm_act_flex`] can take `x` (f32 on a flex device).
pub fn instance_norm_act_supported(x: &Tensor<5>) -> bool {
    x.dtype() == DType::F32 && is_flex(&x.device())
}

/// The fused norm and activation as a backend operation (flex, and autodiff over flex).
#[backend_extension(Flex, Autodiff)]
pub trait InstanceNormActFlexOps: Backend {
    /// See [`instance_norm_act_flex`].
    fn instance_norm_act_flex(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f32,
        slope: f32,
    ) -> FloatTensor<Self>;
}

/// A small tensor's values (gamma, beta).
fn values(t: &FlexTensor) -> Vec<f32> {
    f32_values(&contiguous(t)).to_vec()
}

/// The forward on flex tensors, with what the backward needs: the contiguous input (shared, not
/// copied) and the per-plane statistics.
fn forward(
    x: &FlexTensor,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    slope: f32,
) -> (FlexTensor, FlexTensor, PlaneStats) {
    let shape = x.shape();
    let planes = shape[0] * shape[1];
    let x = contiguous(x);
    let (y, stats) = instance_norm::forward(f32_values(&x), gamma, beta, planes, eps, slope);
    (FlexTensor::from_data(TensorData::new(y, shape)), x, stats)
}

impl InstanceNormActFlexOps for Flex {
    fn instance_norm_act_flex(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        eps: f32,
        slope: f32,
    ) -> FlexTensor {
        forward(&x, &values(&gamma), &values(&beta), eps, slope).0
    }
}

/// The backward's state: the forward's input and statistics, gamma, beta, the slope and `x`'s
/// shape.
#[derive(Clone)]
struct State {
    x: FlexTensor,
    stats: Arc<PlaneStats>,
    gamma: Arc<Vec<f32>>,
    beta: Arc<Vec<f32>>,
    slope: f32,
    shape: Shape,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InstanceNormAct {:?}", self.shape)
    }
}

#[derive(Debug)]
struct InstanceNormActBackward;

impl Backward<Flex, 3> for InstanceNormActBackward {
    type State = State;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let s = ops.state;
        let (dx, dgamma, dbeta) = instance_norm::backward(
            f32_values(&dy),
            f32_values(&s.x),
            &s.stats,
            &s.gamma,
            &s.beta,
            s.slope,
        );
        let c = s.gamma.len();
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, s.shape)));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dgamma, [c])));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dbeta, [c])));
        }
    }
}

impl<C: CheckpointStrategy> InstanceNormActFlexOps for Autodiff<Flex, C> {
    fn instance_norm_act_flex(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f32,
        slope: f32,
    ) -> FloatTensor<Self> {
        match InstanceNormActBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let [x, gamma, beta] = [x, gamma, beta].map(|t| t.into_primitive());
                let (gamma, beta) = (values(&gamma), values(&beta));
                let (y, x, stats) = forward(&x, &gamma, &beta, eps, slope);
                let state = State {
                    stats: Arc::new(stats),
                    gamma: Arc::new(gamma),
                    beta: Arc::new(beta),
                    slope,
                    shape: x.shape(),
                    x,
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::instance_norm_act_flex(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                eps,
                slope,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::InstanceNormConfig;
    use burn::tensor::activation::leaky_relu;
    use burn::tensor::{Device, Distribution};

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    /// InstanceNorm + affine + leaky ReLU from burn's tensor ops, as GroupNorm computes it.
    fn reference(x: Tensor<5>, gamma: Tensor<1>, beta: Tensor<1>, slope: f32) -> Tensor<5> {
        let dims = x.dims();
        let [n, c, ..] = dims;
        let flat: Tensor<3> = x.reshape([n, c, dims[2] * dims[3] * dims[4]]);
        let centered = flat.clone() - flat.mean_dim(2);
        let var = centered.clone().square().mean_dim(2);
        let x_hat = centered / (var + 1e-5).sqrt();
        let z = x_hat * gamma.reshape([1, c, 1]) + beta.reshape([1, c, 1]);
        leaky_relu(z, slope as f64).reshape(dims)
    }

    #[test]
    fn matches_burns_ops_values_and_gradients() {
        let dev = Device::flex().autodiff();
        for (dims, slope) in [
            ([2, 3, 4, 5, 6], 0.01),
            ([1, 2, 3, 1, 7], 0.0),
            ([2, 1, 2, 2, 2], 0.2),
        ] {
            let c = dims[1];
            let normal = |m, s| Distribution::Normal(m, s);
            let x = Tensor::<5>::random(dims, normal(1.0, 2.0), &dev).require_grad();
            let gamma = Tensor::<1>::random([c], normal(1.0, 0.5), &dev).require_grad();
            let beta = Tensor::<1>::random([c], normal(0.0, 0.5), &dev).require_grad();
            // A non-uniform upstream gradient, so the mean terms of the backward matter.
            let probe = Tensor::<5>::random(dims, normal(0.0, 1.0), &dev);
            let ours = instance_norm_act_flex(x.clone(), gamma.clone(), beta.clone(), 1e-5, slope);
            let want = reference(x.clone(), gamma.clone(), beta.clone(), slope);
            assert!(
                max_diff(ours.clone(), want.clone()) < 1e-4,
                "{dims:?} forward"
            );
            let g1 = (ours * probe.clone()).sum().backward();
            let g2 = (want * probe).sum().backward();
            let diffs = [
                ("x", max_diff(x.grad(&g1).unwrap(), x.grad(&g2).unwrap())),
                (
                    "gamma",
                    max_diff(gamma.grad(&g1).unwrap(), gamma.grad(&g2).unwrap()),
                ),
                (
                    "beta",
                    max_diff(beta.grad(&g1).unwrap(), beta.grad(&g2).unwrap()),
                ),
            ];
            for (name, d) in diffs {
                assert!(d < 1e-3, "{dims:?} slope {slope} d{name}: max diff {d}");
            }
        }
    }

    #[test]
    fn matches_burns_instance_norm_module() {
        let dev = Device::flex();
        let x = Tensor::<5>::random([2, 4, 3, 5, 5], Distribution::Normal(0.5, 3.0), &dev);
        let norm = InstanceNormConfig::new(4).init(&dev);
        let (gamma, beta) = (norm.gamma.as_ref().unwrap(), norm.beta.as_ref().unwrap());
        let ours = instance_norm_act_flex(x.clone(), gamma.val(), beta.val(), 1e-5, 1.0);
        assert!(max_diff(ours, norm.forward(x)) < 1e-4);
    }
}
