//! Max pooling with stride = kernel as one flex operation with its own backward, for the U-Net's
//! encoder on flex.
//!
//! The portable [`max_pool3d`](crate::model::max_pool3d) is three reshapes and `max_dim`s; on
//! flex its backward scatters through three index tensors and, in the profile of a demo training
//! step, cost 4–7× PyTorch's pooling. Here the forward is one pass that also records, per output,
//! the flat index of its window's maximum (first one in z, y, x order), and the backward adds each
//! upstream gradient at that index. Checked against the portable version (values and gradients)
//! in the tests below.

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
use rayon::prelude::*;

use super::flex_conv::{contiguous, f32_values, is_flex};

/// Max pooling of `x` (`[n, c, d, h, w]`, f32 on a flex device) with stride = `kernel`, floor mode.
pub fn max_pool3d_flex(x: Tensor<5>, kernel: [usize; 3]) -> Tensor<5> {
    Tensor::from_dispatch(<Dispatch as MaxPoolFlexOps>::max_pool3d_flex(
        x.into_dispatch(),
        kernel,
    ))
}

/// Whether [`max_pool3d_flex`] can take `x` (f32 on a flex device, indices fit in 32 bits).
pub fn max_pool_flex_supported(x: &Tensor<5>) -> bool {
    x.dtype() == DType::F32 && x.shape().num_elements() <= u32::MAX as usize && is_flex(&x.device())
}

/// Max pooling as a backend operation (flex, and autodiff over flex).
#[backend_extension(Flex, Autodiff)]
pub trait MaxPoolFlexOps: Backend {
    /// See [`max_pool3d_flex`].
    fn max_pool3d_flex(x: FloatTensor<Self>, kernel: [usize; 3]) -> FloatTensor<Self>;
}

/// Pooled values and (with `want_index`) the flat input index of each window's maximum.
///
/// # Shapes
/// - `x`: `[n, c, d, h, w]` (`dims`) contiguous → `[n, c, d/kd, h/kh, w/kw]`
pub fn pool_forward(
    x: &[f32],
    dims: [usize; 5],
    kernel: [usize; 3],
    want_index: bool,
) -> (Vec<f32>, Vec<u32>) {
    let [n, c, d, h, w] = dims;
    let [kd, kh, kw] = kernel.map(|k| k.max(1));
    let (d2, h2, w2) = (d / kd, h / kh, w / kw);
    let out_plane = d2 * h2 * w2;
    let mut y = vec![0f32; n * c * out_plane];
    let mut index = vec![0u32; if want_index { y.len() } else { 0 }];
    let plane = d * h * w;
    let work = |p: usize, y: &mut [f32], mut idx: Option<&mut [u32]>| {
        let src = &x[p * plane..][..plane];
        for z in 0..d2 {
            for r in 0..h2 {
                for q in 0..w2 {
                    let (mut best, mut at) = (f32::NEG_INFINITY, usize::MAX);
                    for a in 0..kd {
                        for b in 0..kh {
                            let row = ((z * kd + a) * h + r * kh + b) * w + q * kw;
                            for (e, &v) in src[row..row + kw].iter().enumerate() {
                                // NaN propagates, as in burn's max and PyTorch's pooling.
                                if v > best || at == usize::MAX || v.is_nan() && !best.is_nan() {
                                    (best, at) = (v, row + e);
                                }
                            }
                        }
                    }
                    let o = (z * h2 + r) * w2 + q;
                    y[o] = best;
                    if let Some(idx) = idx.as_deref_mut() {
                        idx[o] = (p * plane + at) as u32;
                    }
                }
            }
        }
    };
    if out_plane == 0 {
        return (y, index);
    }
    if want_index {
        y.par_chunks_mut(out_plane)
            .zip(index.par_chunks_mut(out_plane))
            .enumerate()
            .for_each(|(p, (y, idx))| work(p, y, Some(idx)));
    } else {
        y.par_chunks_mut(out_plane)
            .enumerate()
            .for_each(|(p, y)| work(p, y, None));
    }
    (y, index)
}

/// The input gradient: `dy` added at each output's recorded index, zero elsewhere.
pub fn pool_backward(dy: &[f32], index: &[u32], input_len: usize) -> Vec<f32> {
    let mut dx = vec![0f32; input_len];
    // Windows do not overlap (stride = kernel), so every index is written at most once.
    for (&g, &i) in dy.iter().zip(index) {
        dx[i as usize] += g;
    }
    dx
}

fn dims5(t: &FlexTensor) -> [usize; 5] {
    let s = t.shape();
    [s[0], s[1], s[2], s[3], s[4]]
}

fn pooled_shape(dims: [usize; 5], kernel: [usize; 3]) -> [usize; 5] {
    let [n, c, d, h, w] = dims;
    let [kd, kh, kw] = kernel.map(|k| k.max(1));
    [n, c, d / kd, h / kh, w / kw]
}

impl MaxPoolFlexOps for Flex {
    fn max_pool3d_flex(x: FlexTensor, kernel: [usize; 3]) -> FlexTensor {
        let dims = dims5(&x);
        let x = contiguous(&x);
        let (y, _) = pool_forward(f32_values(&x), dims, kernel, false);
        FlexTensor::from_data(TensorData::new(y, pooled_shape(dims, kernel)))
    }
}

/// The backward's state: the arg-max indices and the input's shape.
#[derive(Clone)]
struct State {
    index: std::sync::Arc<Vec<u32>>,
    shape: Shape,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MaxPool {:?}", self.shape)
    }
}

#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    type State = State;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        if let Some(node) = node_x {
            let s = ops.state;
            let dx = pool_backward(f32_values(&dy), &s.index, s.shape.num_elements());
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, s.shape)));
        }
    }
}

impl<C: CheckpointStrategy> MaxPoolFlexOps for Autodiff<Flex, C> {
    fn max_pool3d_flex(x: FloatTensor<Self>, kernel: [usize; 3]) -> FloatTensor<Self> {
        match MaxPoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = contiguous(&x.into_primitive());
                let dims = dims5(&x);
                let (y, index) = pool_forward(f32_values(&x), dims, kernel, true);
                let state = State {
                    index: std::sync::Arc::new(index),
                    shape: x.shape(),
                };
                let y = FlexTensor::from_data(TensorData::new(y, pooled_shape(dims, kernel)));
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(Flex::max_pool3d_flex(x.into_primitive(), kernel))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    /// The portable pooling (reshapes and `max_dim`), which the model uses off flex.
    fn reference(x: Tensor<5>, k: [usize; 3]) -> Tensor<5> {
        crate::model::pool::max_pool3d_portable(x, k)
    }

    #[test]
    fn matches_the_portable_pooling_values_and_gradients() {
        let dev = Device::flex().autodiff();
        for (dims, k) in [
            ([2, 3, 4, 6, 8], [2, 2, 2]),
            ([1, 2, 3, 4, 4], [1, 2, 2]),
            ([1, 1, 4, 2, 6], [2, 1, 3]),
            ([1, 2, 5, 7, 6], [2, 2, 2]), // floor mode drops the tail
        ] {
            let x = Tensor::<5>::random(dims, Distribution::Normal(0.0, 1.0), &dev).require_grad();
            let probe =
                Tensor::<5>::random(pooled_shape(dims, k), Distribution::Normal(0.0, 1.0), &dev);
            let ours = max_pool3d_flex(x.clone(), k);
            let want = reference(x.clone(), k);
            assert_eq!(ours.dims(), want.dims());
            let diff = (ours.clone() - want.clone())
                .abs()
                .max()
                .into_scalar::<f32>();
            assert_eq!(diff, 0.0, "{dims:?} {k:?} forward");
            let g1 = (ours * probe.clone()).sum().backward();
            let g2 = (want * probe).sum().backward();
            let d = (x.grad(&g1).unwrap() - x.grad(&g2).unwrap())
                .abs()
                .max()
                .into_scalar::<f32>();
            assert_eq!(d, 0.0, "{dims:?} {k:?} gradient");
        }
    }

    #[test]
    fn inference_pooling_needs_no_autodiff() {
        let dev = Device::flex();
        let x = Tensor::<5>::from_data(
            TensorData::new((0..16).map(|v| v as f32).collect(), [1, 1, 2, 2, 4]),
            &dev,
        );
        assert!(max_pool_flex_supported(&x));
        let y = max_pool3d_flex(x, [2, 2, 2]);
        assert_eq!(
            y.into_data().try_into_vec::<f32>().unwrap(),
            vec![13.0, 15.0]
        );
    }
}
