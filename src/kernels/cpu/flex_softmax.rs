//! Softmax and log-softmax over the channel axis of `[n, c, spatial…]` as one flex operation
//! with its own backward, for the loss and the sliding window on flex.
//!
//! burn's softmax over axis 1 is a max, a subtraction, an exponential, a sum and a division, each a
//! strided pass over the tensor and a node in the autodiff graph: 12× PyTorch's in `unet3d bench
//! --profile`. Here each voxel's `c` values are read once per pass along the planes. Checked
//! against burn's `softmax` / `log_softmax`, values and gradients, in the tests below.

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
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use super::shared_out::SharedOut;

use super::flex_conv::{contiguous, f32_values, is_flex};

/// Softmax (or, with `log`, log-softmax) of `x` over axis 1: on flex the project's kernel,
/// elsewhere burn's.
pub fn softmax_channels(x: Tensor<5>, log: bool) -> Tensor<5> {
    if x.dtype() != DType::F32 || !is_flex(&x.device()) {
        return if log {
            log_softmax(x, 1)
        } else {
            softmax(x, 1)
        };
    }
    Tensor::from_dispatch(<Dispatch as SoftmaxFlexOps>::softmax_channels_flex(
        x.into_dispatch(),
        log,
    ))
}

/// Softmax over channels as a backend operation (flex, and autodiff over flex).
#[backend_extension(Flex, Autodiff)]
pub trait SoftmaxFlexOps: Backend {
    /// See [`softmax_channels`].
    fn softmax_channels_flex(x: FloatTensor<Self>, log: bool) -> FloatTensor<Self>;
}

/// Voxels per work item of a sample's planes.
const SPAN: usize = 4096;

/// Splits `[n][c][v]` into work items `(sample, first voxel, voxels)`.
fn items(n: usize, v: usize) -> Vec<(usize, usize, usize)> {
    (0..n)
        .flat_map(|s| (0..v.div_ceil(SPAN)).map(move |b| (s, b * SPAN, SPAN.min(v - b * SPAN))))
        .collect()
}

/// `[n, c, v]` softmax (or log-softmax) over `c`.
fn forward(x: &[f32], [n, c, v]: [usize; 3], log: bool) -> Vec<f32> {
    let mut y = vec![0f32; x.len()];
    let out = SharedOut::new(y.as_mut_ptr());
    items(n, v).into_par_iter().for_each(|(s, v0, len)| {
        let base = s * c * v + v0;
        let mut max = vec![f32::NEG_INFINITY; len];
        for k in 0..c {
            for (m, &a) in max.iter_mut().zip(&x[base + k * v..][..len]) {
                *m = m.max(a);
            }
        }
        let mut sum = vec![0f32; len];
        for k in 0..c {
            for ((t, &m), &a) in sum.iter_mut().zip(&max).zip(&x[base + k * v..][..len]) {
                *t += (a - m).exp();
            }
        }
        for k in 0..c {
            // SAFETY: each item writes only its own voxels of every channel.
            let dst = unsafe { std::slice::from_raw_parts_mut(out.ptr().add(base + k * v), len) };
            let src = &x[base + k * v..][..len];
            for (((d, &a), &m), &t) in dst.iter_mut().zip(src).zip(&max).zip(&sum) {
                *d = if log {
                    a - m - t.ln()
                } else {
                    (a - m).exp() / t
                };
            }
        }
    });
    y
}

/// The input gradient from the forward's output `y` and the upstream `dy`: softmax
/// `y·(dy − Σ_c y·dy)`, log-softmax `dy − exp(y)·Σ_c dy`.
fn backward(y: &[f32], dy: &[f32], [n, c, v]: [usize; 3], log: bool) -> Vec<f32> {
    let mut dx = vec![0f32; y.len()];
    let out = SharedOut::new(dx.as_mut_ptr());
    items(n, v).into_par_iter().for_each(|(s, v0, len)| {
        let base = s * c * v + v0;
        let mut dot = vec![0f32; len];
        for k in 0..c {
            let (ys, gs) = (&y[base + k * v..][..len], &dy[base + k * v..][..len]);
            for ((t, &a), &g) in dot.iter_mut().zip(ys).zip(gs) {
                *t += if log { g } else { a * g };
            }
        }
        for k in 0..c {
            // SAFETY: each item writes only its own voxels of every channel.
            let dst = unsafe { std::slice::from_raw_parts_mut(out.ptr().add(base + k * v), len) };
            let (ys, gs) = (&y[base + k * v..][..len], &dy[base + k * v..][..len]);
            for (((d, &a), &g), &t) in dst.iter_mut().zip(ys).zip(gs).zip(&dot) {
                *d = if log { g - a.exp() * t } else { a * (g - t) };
            }
        }
    });
    dx
}

fn layout(t: &FlexTensor) -> [usize; 3] {
    let s = t.shape();
    let (n, c) = (s[0], s[1]);
    [n, c, s.num_elements() / (n * c).max(1)]
}

impl SoftmaxFlexOps for Flex {
    fn softmax_channels_flex(x: FlexTensor, log: bool) -> FlexTensor {
        let x = contiguous(&x);
        let y = forward(f32_values(&x), layout(&x), log);
        FlexTensor::from_data(TensorData::new(y, x.shape()))
    }
}

#[derive(Debug)]
struct SoftmaxBackward;

impl Backward<Flex, 1> for SoftmaxBackward {
    /// The forward's output and whether it was the log-softmax.
    type State = (FlexTensor, bool);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        if let Some(node) = node_x {
            let (y, log) = ops.state;
            let dx = backward(f32_values(&y), f32_values(&dy), layout(&y), log);
            grads.register::<Flex>(
                node.id,
                FlexTensor::from_data(TensorData::new(dx, y.shape())),
            );
        }
    }
}

impl<C: CheckpointStrategy> SoftmaxFlexOps for Autodiff<Flex, C> {
    fn softmax_channels_flex(x: FloatTensor<Self>, log: bool) -> FloatTensor<Self> {
        match SoftmaxBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = Flex::softmax_channels_flex(x.into_primitive(), log);
                prep.finish((y.clone(), log), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(Flex::softmax_channels_flex(x.into_primitive(), log))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn matches_burns_softmax_and_log_softmax_values_and_gradients() {
        let dev = Device::flex().autodiff();
        // More voxels than one work item; one channel; large logits (the max shift matters).
        for (dims, scale) in [
            ([2, 3, 4, 5, 6], 1.0),
            ([1, 4, 3, 40, 41], 3.0),
            ([2, 1, 2, 2, 2], 1.0),
            ([1, 3, 2, 3, 3], 80.0),
        ] {
            for log in [false, true] {
                let x = Tensor::<5>::random(dims, Distribution::Normal(0.0, scale), &dev)
                    .require_grad();
                let probe = Tensor::<5>::random(dims, Distribution::Normal(0.0, 1.0), &dev);
                let ours = softmax_channels(x.clone(), log);
                let want = if log {
                    log_softmax(x.clone(), 1)
                } else {
                    softmax(x.clone(), 1)
                };
                assert!(
                    max_diff(ours.clone(), want.clone()) < 1e-5,
                    "{dims:?} {log}"
                );
                let g1 = (ours * probe.clone()).sum().backward();
                let g2 = (want * probe).sum().backward();
                let d = max_diff(x.grad(&g1).unwrap(), x.grad(&g2).unwrap());
                assert!(d < 1e-4, "{dims:?} log {log}: gradient differs by {d}");
            }
        }
    }
}
