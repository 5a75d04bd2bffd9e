//! Autodiff for the fused WGSL convolution: one backward step producing the gradients of the
//! input, weight, bias, scale and shift with the WGSL backward kernels.
//!
//! The state keeps the inputs and the output `y` (its sign is the activation mask). The scale
//! gradient needs the pre-scale value `u = conv + bias`; it is recomputed by one more forward
//! kernel launch, and only when the scale is trainable.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{Backend, tensor::FloatTensor};
use burn::tensor::{Shape, Slice};

use super::extension::{Conv3dWgslGrads, Conv3dWgslOps};
use crate::kernels::activation::Activation;

#[derive(Debug)]
struct Conv3dWgslBackward;

/// Saved tensors: x, weight, bias, scale, output (the shift is not needed).
type State<B> = (
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    Activation,
);

impl<B: Backend + Conv3dWgslOps + Conv3dWgslGrads> Backward<B, 5> for Conv3dWgslBackward {
    type State = State<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 5>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w, node_b, node_s, node_t] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (x, w, bias, scale, y, act) = ops.state;
        let w_shape = w.shape();
        let (co, k) = (w_shape[0], w_shape[2]);

        if let Some(node) = node_x {
            let dx =
                B::conv3d_wgsl_input_grad(dy.clone(), y.clone(), w.clone(), scale.clone(), act);
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_w {
            let dw =
                B::conv3d_wgsl_weight_grad(dy.clone(), y.clone(), x.clone(), scale.clone(), act, k);
            grads.register::<B>(node.id, dw);
        }
        if node_b.is_some() || node_s.is_some() || node_t.is_some() {
            let u = match node_s {
                // u = conv + bias, without scale, shift or activation.
                Some(_) => {
                    let (dev, dtype) = (scale.device(), scale.dtype().into());
                    let ones = B::float_ones(Shape::from([co]), &dev, dtype);
                    let zeros = B::float_zeros(Shape::from([co]), &dev, dtype);
                    Some(B::conv3d_wgsl(
                        x,
                        w,
                        bias,
                        ones,
                        zeros,
                        Activation::Identity,
                    ))
                }
                None => None,
            };
            let has_u = u.is_some();
            let u = u.unwrap_or_else(|| y.clone());
            let sums = B::conv3d_wgsl_channel_sums(dy, y, u, has_u, act);
            let sum_g = B::float_slice(sums.clone(), &[Slice::from(0..co)]);
            if let Some(node) = node_b {
                grads.register::<B>(node.id, B::float_mul(sum_g.clone(), scale));
            }
            if let Some(node) = node_s {
                grads.register::<B>(node.id, B::float_slice(sums, &[Slice::from(co..2 * co)]));
            }
            if let Some(node) = node_t {
                grads.register::<B>(node.id, sum_g);
            }
        }
    }
}

impl<B: Backend + Conv3dWgslOps + Conv3dWgslGrads, C: CheckpointStrategy> Conv3dWgslOps
    for Autodiff<B, C>
{
    fn conv3d_wgsl(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        act: Activation,
    ) -> FloatTensor<Self> {
        let nodes = [
            x.node(),
            weight.node(),
            bias.node(),
            scale.node(),
            shift.node(),
        ];
        match Conv3dWgslBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let [x, w, b, s, t] = [x, weight, bias, scale, shift].map(|v| v.into_primitive());
                let y = B::conv3d_wgsl(x.clone(), w.clone(), b.clone(), s.clone(), t.clone(), act);
                prep.finish((x, w, b, s, y.clone(), act), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv3d_wgsl(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                scale.into_primitive(),
                shift.into_primitive(),
                act,
            )),
        }
    }
}
