//! The decoder's up-convolution as one matrix product.
//!
//! The U-Net's transposed convolutions have stride = kernel (2×2×2 or 1×2×2), so their output
//! windows do not overlap: every input voxel writes its own `kd×kh×kw` block, which is a
//! `[voxels, ci] × [ci, co·kd·kh·kw]` matmul followed by a reshuffle. burn's generic
//! `conv_transpose3d` takes over a second per call on lavapipe at the demo shapes (the matmul
//! form: under 0.1 s), and the matmul's backward is two more matmuls on every backend.

use burn::prelude::*;

/// `conv_transpose3d(x, weight, bias)` with stride = kernel, no padding, dilation 1, groups 1.
///
/// # Shapes
/// - x: `[batch, ci, d, h, w]`, weight: `[ci, co, kd, kh, kw]` (burn's / PyTorch's layout),
///   bias: `[co]`
/// - output: `[batch, co, d·kd, h·kh, w·kw]`
///
/// # Panics
/// When the weight's input channels differ from `x`'s (the caller's modules build them together).
pub fn up_conv3d(x: Tensor<5>, weight: Tensor<5>, bias: Option<Tensor<1>>) -> Tensor<5> {
    up_conv3d_with(x, weight, bias, true)
}

/// [`up_conv3d`]; with `own_kernels` on flex the project's CPU kernel (one product per sample
/// on the NCDHW buffers, its own backward), otherwise burn's ops ([`up_conv3d_portable`]).
pub fn up_conv3d_with(
    x: Tensor<5>,
    weight: Tensor<5>,
    bias: Option<Tensor<1>>,
    own_kernels: bool,
) -> Tensor<5> {
    if own_kernels && crate::kernels::up_conv_flex_supported(&x, &weight) {
        let co = weight.dims()[1];
        let bias = bias.unwrap_or_else(|| Tensor::zeros([co], &x.device()));
        return crate::kernels::up_conv3d_flex(x, weight, bias);
    }
    up_conv3d_portable(x, weight, bias)
}

/// [`up_conv3d`] from burn's ops only (every backend; the reference of the flex kernel).
pub fn up_conv3d_portable(x: Tensor<5>, weight: Tensor<5>, bias: Option<Tensor<1>>) -> Tensor<5> {
    let [n, ci, d, h, w] = x.dims();
    let [wci, co, kd, kh, kw] = weight.dims();
    assert_eq!(
        ci, wci,
        "up_conv3d: input has {ci} channels, weight expects {wci}"
    );
    // [n, ci, d, h, w] → rows of voxels × input channels
    let cols: Tensor<2> = x.permute([0, 2, 3, 4, 1]).reshape([n * d * h * w, ci]);
    let blocks = cols.matmul(weight.reshape([ci, co * kd * kh * kw]));
    // [n, d, h, w, co, kd, kh, kw] → [n, co, d, kd, h, kh, w, kw] → interleave each axis with its window
    let blocks: Tensor<8> = blocks.reshape([n, d, h, w, co, kd, kh, kw]);
    let y: Tensor<5> =
        blocks
            .permute([0, 4, 1, 5, 2, 6, 3, 7])
            .reshape([n, co, d * kd, h * kh, w * kw]);
    match bias {
        Some(b) => y + b.reshape([1, co, 1, 1, 1]),
        None => y,
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::module::conv_transpose3d;
    use burn::tensor::ops::ConvTransposeOptions;
    use burn::tensor::{Device, TensorData};

    use super::*;
    use crate::backend::Backend;
    use crate::util::rng::Rng;

    fn random(rng: &mut Rng, dims: &[usize]) -> TensorData {
        let n: usize = dims.iter().product();
        TensorData::new(
            (0..n).map(|_| rng.normal() as f32).collect::<Vec<_>>(),
            dims.to_vec(),
        )
    }

    fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    /// Values and all three gradients against burn's `conv_transpose3d`, for both kernel shapes.
    fn check_on(dev: &Device) {
        let dev = dev.clone().autodiff();
        let mut rng = Rng::new(7);
        for (kernel, [ci, co]) in [([2, 2, 2], [3, 5]), ([1, 2, 2], [4, 2])] {
            let xd = [2, ci, 3, 4, 5];
            let wd = [ci, co, kernel[0], kernel[1], kernel[2]];
            let make = |rng: &mut Rng| {
                (
                    Tensor::<5>::from_data(random(rng, &xd), &dev).require_grad(),
                    Tensor::<5>::from_data(random(rng, &wd), &dev).require_grad(),
                    Tensor::<1>::from_data(random(rng, &[co]), &dev).require_grad(),
                )
            };
            let (x, w, b) = make(&mut rng);
            let (x2, w2, b2) = (
                x.clone().detach().require_grad(),
                w.clone().detach().require_grad(),
                b.clone().detach().require_grad(),
            );
            let ours = up_conv3d(x.clone(), w.clone(), Some(b.clone()));
            let opts = ConvTransposeOptions::new(kernel, [0; 3], [0; 3], [1; 3], 1);
            let theirs = conv_transpose3d(x2.clone(), w2.clone(), Some(b2.clone()), opts);
            assert_eq!(
                ours.dims(),
                [2, co, 3 * kernel[0], 4 * kernel[1], 5 * kernel[2]]
            );
            assert!(max_abs_diff(ours.clone(), theirs.clone()) < 1e-5);
            // A non-uniform upstream gradient, so a wrong voxel order cannot cancel out.
            let g = Tensor::<5>::from_data(random(&mut rng, &ours.dims()), &dev);
            let ga = (ours * g.clone()).sum().backward();
            let gb = (theirs * g).sum().backward();
            for (a, b) in [
                (x.grad(&ga).unwrap(), x2.grad(&gb).unwrap()),
                (w.grad(&ga).unwrap(), w2.grad(&gb).unwrap()),
            ] {
                assert!(
                    max_abs_diff(a, b) < 1e-4,
                    "gradient differs, kernel {kernel:?}"
                );
            }
            let diff = max_abs_diff(b.grad(&ga).unwrap(), b2.grad(&gb).unwrap());
            assert!(diff < 1e-4, "bias gradient differs by {diff}");
        }
    }

    #[test]
    fn matches_burn_conv_transpose3d_on_flex() {
        check_on(&Backend::flex().device);
    }

    #[test]
    fn matches_burn_conv_transpose3d_on_wgpu() {
        if let Some(device) = crate::kernels::tests::wgpu_device() {
            check_on(&device);
        }
    }
}
