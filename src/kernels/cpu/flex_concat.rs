//! The decoder's channel concatenation `[up, skip]` as one flex operation with its own backward.
//!
//! burn's `Tensor::cat` on flex copies element-wise and its backward slices the gradient into
//! strided views that every following CPU kernel first copies to contiguous memory again; in
//! `unet3d bench --profile` the concatenation cost 5× PyTorch's. Here both directions are one
//! contiguous copy per sample and input. Checked against `Tensor::cat`, values and gradients,
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

use super::flex_conv::{contiguous, f32_values, is_flex};

/// `Tensor::cat([a, b], 1)` for `[n, ca, …]` and `[n, cb, …]` with the same other dims: on flex
/// (f32) the project's op, elsewhere burn's.
pub fn concat_channels(a: Tensor<5>, b: Tensor<5>) -> Tensor<5> {
    let same_rest = a.dims()[0] == b.dims()[0] && a.dims()[2..] == b.dims()[2..];
    let flex = a.dtype() == DType::F32 && b.dtype() == DType::F32 && is_flex(&a.device());
    if !(same_rest && flex) {
        return Tensor::cat(vec![a, b], 1);
    }
    Tensor::from_dispatch(<Dispatch as ConcatFlexOps>::concat_channels_flex(
        a.into_dispatch(),
        b.into_dispatch(),
    ))
}

/// The concatenation as a backend operation (flex, and autodiff over flex).
#[backend_extension(Flex, Autodiff)]
pub trait ConcatFlexOps: Backend {
    /// See [`concat_channels`].
    fn concat_channels_flex(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// Values per sample of `t` (`[n, …]`).
fn per_sample(t: &FlexTensor) -> usize {
    let s = t.shape();
    s.num_elements() / s[0].max(1)
}

impl ConcatFlexOps for Flex {
    fn concat_channels_flex(a: FlexTensor, b: FlexTensor) -> FlexTensor {
        let (a, b) = (contiguous(&a), contiguous(&b));
        let (la, lb) = (per_sample(&a), per_sample(&b));
        let (va, vb) = (f32_values(&a), f32_values(&b));
        let n = a.shape()[0];
        let mut out = Vec::with_capacity(n * (la + lb));
        for s in 0..n {
            out.extend_from_slice(&va[s * la..(s + 1) * la]);
            out.extend_from_slice(&vb[s * lb..(s + 1) * lb]);
        }
        let mut dims = a.shape().to_vec();
        dims[1] += b.shape()[1];
        FlexTensor::from_data(TensorData::new(out, dims))
    }
}

#[derive(Debug)]
struct ConcatBackward;

impl Backward<Flex, 2> for ConcatBackward {
    /// The two inputs' shapes.
    type State = (Shape, Shape);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_a, node_b] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let (sa, sb) = ops.state;
        let n = sa[0];
        let (la, lb) = (sa.num_elements() / n.max(1), sb.num_elements() / n.max(1));
        let g = f32_values(&dy);
        let part = |offset: usize, len: usize| -> Vec<f32> {
            let mut v = Vec::with_capacity(n * len);
            for s in 0..n {
                let at = s * (la + lb) + offset;
                v.extend_from_slice(&g[at..at + len]);
            }
            v
        };
        if let Some(node) = node_a {
            grads.register::<Flex>(
                node.id,
                FlexTensor::from_data(TensorData::new(part(0, la), sa)),
            );
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(
                node.id,
                FlexTensor::from_data(TensorData::new(part(la, lb), sb)),
            );
        }
    }
}

impl<C: CheckpointStrategy> ConcatFlexOps for Autodiff<Flex, C> {
    fn concat_channels_flex(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        match ConcatBackward
            .prepare::<C>([a.node(), b.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let [a, b] = [a, b].map(|t| t.into_primitive());
                let state = (a.shape(), b.shape());
                prep.finish(state, Flex::concat_channels_flex(a, b))
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::concat_channels_flex(
                a.into_primitive(),
                b.into_primitive(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    fn max_diff(a: Tensor<5>, b: Tensor<5>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn matches_burns_cat_values_and_gradients() {
        let dev = Device::flex().autodiff();
        let normal = || Distribution::Normal(0.0, 1.0);
        for (da, cb) in [
            ([2, 3, 2, 3, 4], 5),
            ([1, 1, 1, 1, 1], 2),
            ([3, 4, 2, 5, 6], 4),
        ] {
            let mut db = da;
            db[1] = cb;
            let a = Tensor::<5>::random(da, normal(), &dev).require_grad();
            let b = Tensor::<5>::random(db, normal(), &dev).require_grad();
            let ours = concat_channels(a.clone(), b.clone());
            let want = Tensor::cat(vec![a.clone(), b.clone()], 1);
            assert_eq!(ours.dims(), want.dims());
            assert_eq!(max_diff(ours.clone(), want.clone()), 0.0, "{da:?}");
            let probe = Tensor::<5>::random(want.dims(), normal(), &dev);
            let g1 = (ours * probe.clone()).sum().backward();
            let g2 = (want * probe).sum().backward();
            assert_eq!(max_diff(a.grad(&g1).unwrap(), a.grad(&g2).unwrap()), 0.0);
            assert_eq!(max_diff(b.grad(&g1).unwrap(), b.grad(&g2).unwrap()), 0.0);
        }
    }
}
