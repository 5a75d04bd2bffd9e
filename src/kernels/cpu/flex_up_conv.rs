//! The up-convolution ([`super::up_conv`]) as one flex operation with its own backward, for the
//! decoder on flex. Checked against the portable [`up_conv3d`](crate::model::up_conv3d) (burn's
//! ops and autodiff), values and gradients, in the tests below.

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
use burn::tensor::{DType, Tensor, TensorData};

use super::flex_conv::{contiguous, f32_values, is_flex};
use super::up_conv::{UpConvShape, up_conv_backward, up_conv_forward};

/// `conv_transpose3d(x, weight) + bias` with stride = kernel on flex (`x`: `[n, ci, d, h, w]`,
/// `weight`: `[ci, co, kd, kh, kw]`, `bias`: `[co]`).
pub fn up_conv3d_flex(x: Tensor<5>, weight: Tensor<5>, bias: Tensor<1>) -> Tensor<5> {
    Tensor::from_dispatch(<Dispatch as UpConvFlexOps>::up_conv3d_flex(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// Whether [`up_conv3d_flex`] can take these tensors (f32 on a flex device, matching channels).
pub fn up_conv_flex_supported(x: &Tensor<5>, weight: &Tensor<5>) -> bool {
    x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && x.dims()[1] == weight.dims()[0]
        && is_flex(&x.device())
}

/// The up-convolution as a backend operation (flex, and autodiff over flex).
#[backend_extension(Flex, Autodiff)]
pub trait UpConvFlexOps: Backend {
    /// See [`up_conv3d_flex`].
    fn up_conv3d_flex(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

fn shape_of(x: &FlexTensor, weight: &FlexTensor) -> UpConvShape {
    let (s, w) = (x.shape(), weight.shape());
    UpConvShape {
        x: [s[0], s[1], s[2], s[3], s[4]],
        co: w[1],
        kernel: [w[2], w[3], w[4]],
    }
}

impl UpConvFlexOps for Flex {
    fn up_conv3d_flex(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let shape = shape_of(&x, &weight);
        let (x, weight, bias) = (contiguous(&x), contiguous(&weight), contiguous(&bias));
        let y = up_conv_forward(
            f32_values(&x),
            f32_values(&weight),
            f32_values(&bias),
            shape,
        );
        FlexTensor::from_data(TensorData::new(y, shape.output()))
    }
}

/// The backward's state: the input, the weight and the shapes.
#[derive(Clone)]
struct State {
    x: FlexTensor,
    weight: FlexTensor,
    shape: Arc<UpConvShape>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UpConv {:?}", self.shape)
    }
}

#[derive(Debug)]
struct UpConvBackward;

impl Backward<Flex, 3> for UpConvBackward {
    type State = State;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let s = ops.state;
        let (dx, dw, db) = up_conv_backward(
            f32_values(&s.x),
            f32_values(&s.weight),
            f32_values(&dy),
            *s.shape,
        );
        if let Some(node) = node_x {
            grads.register::<Flex>(
                node.id,
                FlexTensor::from_data(TensorData::new(dx, s.x.shape())),
            );
        }
        if let Some(node) = node_w {
            let shape = s.weight.shape();
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dw, shape)));
        }
        if let Some(node) = node_b {
            let co = db.len();
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(db, [co])));
        }
    }
}

impl<C: CheckpointStrategy> UpConvFlexOps for Autodiff<Flex, C> {
    fn up_conv3d_flex(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match UpConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let [x, weight, bias] = [x, weight, bias].map(|t| t.into_primitive());
                let (x, weight) = (contiguous(&x), contiguous(&weight));
                let y = Flex::up_conv3d_flex(x.clone(), weight.clone(), bias);
                let shape = Arc::new(shape_of(&x, &weight));
                prep.finish(State { x, weight, shape }, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::up_conv3d_flex(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
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
    fn matches_the_portable_up_convolution_values_and_gradients() {
        let dev = Device::flex().autodiff();
        let normal = || Distribution::Normal(0.0, 1.0);
        // Both kernel shapes, odd sizes, more columns than one work item, one voxel.
        for (xd, co, k) in [
            ([2, 3, 3, 4, 5], 5, [2, 2, 2]),
            ([1, 4, 2, 3, 3], 2, [1, 2, 2]),
            ([2, 2, 4, 40, 41], 3, [2, 2, 2]),
            ([1, 3, 1, 1, 1], 4, [2, 2, 2]),
        ] {
            let x = Tensor::<5>::random(xd, normal(), &dev).require_grad();
            let w =
                Tensor::<5>::random([xd[1], co, k[0], k[1], k[2]], normal(), &dev).require_grad();
            let b = Tensor::<1>::random([co], normal(), &dev).require_grad();
            assert!(up_conv_flex_supported(&x, &w));
            let ours = up_conv3d_flex(x.clone(), w.clone(), b.clone());
            let want =
                crate::model::upsample::up_conv3d_portable(x.clone(), w.clone(), Some(b.clone()));
            assert_eq!(ours.dims(), want.dims());
            assert!(
                max_diff(ours.clone(), want.clone()) < 1e-4,
                "{xd:?} forward"
            );
            let probe = Tensor::<5>::random(want.dims(), normal(), &dev);
            let g1 = (ours * probe.clone()).sum().backward();
            let g2 = (want * probe).sum().backward();
            for (name, a, r) in [
                ("x", x.grad(&g1).unwrap(), x.grad(&g2).unwrap()),
                ("weight", w.grad(&g1).unwrap(), w.grad(&g2).unwrap()),
            ] {
                let scale = r.clone().abs().max().into_scalar::<f32>().max(1.0);
                assert!(max_diff(a, r) / scale < 1e-4, "{xd:?} d{name}");
            }
            let (db1, db2) = (b.grad(&g1).unwrap(), b.grad(&g2).unwrap());
            let scale = db2.clone().abs().max().into_scalar::<f32>().max(1.0);
            assert!(max_diff(db1, db2) / scale < 1e-4, "{xd:?} dbias");
        }
    }
}
