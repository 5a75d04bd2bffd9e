//! Host side of the weight-gradient and per-channel-sum kernels on `CubeBackend`.

use burn::backend::wgpu::{CubeTensor, SourceKernel, into_contiguous};
use burn::tensor::Shape;
use burn_cubecl::cubecl::server::KernelArguments;
use burn_cubecl::cubecl::{CubeCount, CubeDim};

use super::launch::{adapter_info, dims5, empty_like};
use super::plan::{ConvGeometry, fold_grid};
use super::weight_grad::{ChannelSumsKernel, SumSlicesKernel, WeightGradKernel, WeightGradPlan};
use crate::kernels::activation::Activation;

/// Gradient w.r.t. the weight: `sum over voxels of (dy * act'(y) * scale) x shifted input`.
pub(crate) fn weight_grad(
    dy: CubeTensor,
    y: CubeTensor,
    x: CubeTensor,
    scale: CubeTensor,
    act: Activation,
    k: usize,
) -> CubeTensor {
    weight_grad_with(None, dy, y, x, scale, act, k)
}

/// [`weight_grad`] with an explicit plan (`None`: the adapter's default). Each voxel-row slice
/// writes its own partial sums; a second kernel adds the slices up (no atomics).
pub(crate) fn weight_grad_with(
    plan: Option<WeightGradPlan>,
    dy: CubeTensor,
    y: CubeTensor,
    x: CubeTensor,
    scale: CubeTensor,
    act: Activation,
    k: usize,
) -> CubeTensor {
    let [dy, y, x, scale] = [dy, y, x, scale].map(into_contiguous);
    let [n, ci, d, h, w] = dims5(&x);
    let co = dims5(&dy)[1];
    let g = ConvGeometry {
        n,
        ci,
        co,
        d,
        h,
        w,
        k,
    };
    let plan = plan.unwrap_or_else(|| WeightGradPlan::choose(&g, adapter_info(&x).software));
    let client = x.client.clone();
    let len = co * ci * k.pow(3);
    let out = empty_like(&x, Shape::from([co, ci, k, k, k]));
    let part = match plan.slices {
        1 => out.clone(),
        s => empty_like(&x, Shape::from([s as usize * len])),
    };
    let meta = [
        n as u32,
        ci as u32,
        co as u32,
        d as u32,
        h as u32,
        w as u32,
        plan.ci_blocks,
        plan.co_blocks,
        plan.slices,
        plan.rows_per_slice,
        plan.total(),
    ];
    let meta = client.create_from_slice(bytemuck::cast_slice(&meta));
    let (gx, gy, gz) = fold_grid(plan.total()).expect("fewer workgroups than weights x rows");
    let kernel = WeightGradKernel {
        tiling: plan.tiling,
        act,
    };
    client.launch(
        Box::new(SourceKernel::new(kernel, CubeDim::new_1d(plan.tiling.wg))),
        CubeCount::Static(gx, gy, gz),
        KernelArguments::new().with_buffers(vec![
            dy.handle.binding(),
            y.handle.binding(),
            x.handle.binding(),
            scale.handle.binding(),
            part.handle.clone().binding(),
            meta.binding(),
        ]),
    );
    if plan.slices == 1 {
        return out;
    }
    let groups = (len as u32).div_ceil(64);
    let meta = [len as u32, plan.slices, groups];
    let meta = client.create_from_slice(bytemuck::cast_slice(&meta));
    let (gx, gy, gz) = fold_grid(groups).expect("fewer workgroups than weights");
    client.launch(
        Box::new(SourceKernel::new(SumSlicesKernel, CubeDim::new_1d(64))),
        CubeCount::Static(gx, gy, gz),
        KernelArguments::new().with_buffers(vec![
            part.handle.binding(),
            out.handle.clone().binding(),
            meta.binding(),
        ]),
    );
    out
}

/// `[2 * co]`: per channel `sum(dy * act'(y))`, then `sum(dy * act'(y) * u)` (zeros without `u`).
pub(crate) fn channel_sums(
    dy: CubeTensor,
    y: CubeTensor,
    u: Option<CubeTensor>,
    act: Activation,
) -> CubeTensor {
    let dy = into_contiguous(dy);
    let y = into_contiguous(y);
    let has_u = u.is_some();
    // Without `u` the shader's `u` binding is never read; bind `y` in its place.
    let u = u.map(into_contiguous).unwrap_or_else(|| y.clone());
    let [n, co, d, h, w] = dims5(&dy);
    let client = dy.client.clone();
    let out = empty_like(&dy, Shape::from([2 * co]));
    let meta = [n as u32, co as u32, (d * h * w) as u32];
    let meta = client.create_from_slice(bytemuck::cast_slice(&meta));
    let (gx, gy, gz) = fold_grid(co as u32).expect("channels fit the grid");
    client.launch(
        Box::new(SourceKernel::new(
            ChannelSumsKernel { act, has_u },
            CubeDim::new_1d(64),
        )),
        CubeCount::Static(gx, gy, gz),
        KernelArguments::new().with_buffers(vec![
            dy.handle.binding(),
            y.handle.binding(),
            u.handle.binding(),
            out.handle.clone().binding(),
            meta.binding(),
        ]),
    );
    out
}
