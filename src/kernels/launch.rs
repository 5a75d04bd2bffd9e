//! Host side of the WGSL kernels on `CubeBackend`: buffers, template choice, dispatch.
//!
//! Every function here takes validated inputs (see `api.rs`): contiguous f32 NCDHW tensors of
//! consistent shapes on one wgpu device, within the adapter's binding limits.

use burn::backend::TensorMetadata;
use burn::backend::wgpu::{CubeTensor, SourceKernel, into_contiguous};
use burn::tensor::Shape;
use burn_cubecl::cubecl::server::KernelArguments;
use burn_cubecl::cubecl::{CubeCount, CubeDim};

use super::activation::Activation;
use super::direct_kernel::{DirectKernel, DirectRole};
use super::direct_tiling::DirectTiling;
use super::plan::{ConvGeometry, fold_grid};
use super::weight_grad_kernel::{
    ChannelSumsKernel, SumSlicesKernel, WeightGradKernel, WeightGradPlan,
};

/// Adapter facts the tile choice depends on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdapterInfo {
    pub max_shared: u32,
    /// A CPU implementation (lavapipe, SwiftShader): prefer loop-free shaders.
    pub software: bool,
}

pub(crate) fn adapter_info(t: &CubeTensor) -> AdapterInfo {
    let props = t.client.properties();
    AdapterInfo {
        max_shared: props.hardware.max_shared_memory_size.min(u32::MAX as usize) as u32,
        software: props.identity.physical.is_none(),
    }
}

/// Whether the direct kernel loops over source chunks in the shader (`UNET3D_CONV_LOOPED`
/// overrides the per-adapter default, for benchmarking).
fn looped_default(info: &AdapterInfo) -> bool {
    match std::env::var("UNET3D_CONV_LOOPED").ok().as_deref() {
        Some("1") => true,
        Some("0") => false,
        _ => !info.software,
    }
}

fn dims5(t: &CubeTensor) -> [usize; 5] {
    let s = t.shape();
    [s[0], s[1], s[2], s[3], s[4]]
}

fn empty_like(reference: &CubeTensor, shape: Shape) -> CubeTensor {
    let bytes = shape.num_elements() * reference.dtype.size();
    let handle = reference.client.empty(bytes);
    CubeTensor::new_contiguous(
        reference.client.clone(),
        reference.device.clone(),
        shape,
        handle,
        reference.dtype,
    )
}

/// Runs the direct kernel for `g` (source channels `g.ci`, destination channels `g.co`).
fn run_direct(
    role: DirectRole,
    act: Activation,
    g: ConvGeometry,
    inputs: Vec<CubeTensor>,
) -> CubeTensor {
    let info = adapter_info(&inputs[0]);
    let mut tiling = DirectTiling::choose(&g, info.max_shared, looped_default(&info));
    if let Ok(v) = std::env::var("UNET3D_CONV_TILE") {
        let v: Vec<u32> = v.split(',').filter_map(|s| s.parse().ok()).collect();
        if let [rv, rc, td, th, twl, ch] = v[..] {
            tiling = DirectTiling {
                rv,
                rc,
                td,
                th,
                twl,
                ch,
                ..tiling
            };
        }
    }
    let exp = std::env::var("UNET3D_CONV_EXPERIMENT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let kernel = DirectKernel {
        role,
        tiling,
        act,
        exp,
    };
    let out = empty_like(&inputs[0], Shape::from([g.n, g.co, g.d, g.h, g.w]));
    let tiles = [
        g.w.div_ceil(tiling.tw() as usize),
        g.h.div_ceil(tiling.th as usize),
        g.d.div_ceil(tiling.td as usize),
        g.co.div_ceil(tiling.rc as usize),
    ];
    let total = tiles.iter().product::<usize>() * g.n;
    let (gx, gy, gz) = fold_grid(total as u32).expect("grid checked by the caller");
    let nchunks = g.ci.div_ceil(tiling.ch as usize);
    let client = inputs[0].client.clone();
    let launches = if tiling.looped { 1 } else { nchunks };
    for chunk in 0..launches {
        let meta: [u32; 13] = [
            g.n as u32,
            g.ci as u32,
            g.co as u32,
            g.d as u32,
            g.h as u32,
            g.w as u32,
            tiles[0] as u32,
            tiles[1] as u32,
            tiles[2] as u32,
            tiles[3] as u32,
            total as u32,
            chunk as u32,
            nchunks as u32,
        ];
        let meta = client.create_from_slice(bytemuck::cast_slice(&meta));
        let mut buffers: Vec<_> = inputs.iter().map(|t| t.handle.clone().binding()).collect();
        buffers.push(out.handle.clone().binding());
        buffers.push(meta.binding());
        client.launch(
            Box::new(SourceKernel::new(kernel, CubeDim::new_1d(tiling.wg()))),
            CubeCount::Static(gx, gy, gz),
            KernelArguments::new().with_buffers(buffers),
        );
    }
    out
}

/// `act((conv3d(x, w) + bias) * scale + shift)`, all per-channel vectors of length `co`.
pub(crate) fn forward(
    x: CubeTensor,
    w: CubeTensor,
    bias: CubeTensor,
    scale: CubeTensor,
    shift: CubeTensor,
    act: Activation,
) -> CubeTensor {
    let [x, w, bias, scale, shift] = [x, w, bias, scale, shift].map(into_contiguous);
    let g = ConvGeometry::from_dims(dims5(&x), dims5(&w)).expect("shapes checked by the caller");
    run_direct(DirectRole::Forward, act, g, vec![x, w, bias, scale, shift])
}

/// Gradient w.r.t. the input: `conv_transpose(dy * act'(y) * scale, w)`.
pub(crate) fn input_grad(
    dy: CubeTensor,
    y: CubeTensor,
    w: CubeTensor,
    scale: CubeTensor,
    act: Activation,
) -> CubeTensor {
    let [dy, y, w, scale] = [dy, y, w, scale].map(into_contiguous);
    let [n, co, d, h, ww] = dims5(&dy);
    let [wco, ci, k, _, _] = dims5(&w);
    debug_assert_eq!(co, wco);
    let g = ConvGeometry {
        n,
        ci: co,
        co: ci,
        d,
        h,
        w: ww,
        k,
    };
    run_direct(DirectRole::InputGrad, act, g, vec![dy, y, w, scale])
}

/// Gradient w.r.t. the weight: `sum over voxels of (dy * act'(y) * scale) x shifted input`.
pub(crate) fn weight_grad(
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
    let info = adapter_info(&x);
    let mut plan = WeightGradPlan::choose(&g, info.software);
    if let Ok(v) = std::env::var("UNET3D_WG_TILE") {
        let v: Vec<u32> = v.split(',').filter_map(|s| s.parse().ok()).collect();
        if let [wg, rc, target] = v[..] {
            let t = WeightGradPlan::choose_with(&g, wg, rc, target);
            plan = t;
        }
    }
    let client = x.client.clone();
    let len = co * ci * k.pow(3);
    let wshape = Shape::from([co, ci, k, k, k]);
    let out = empty_like(&x, wshape.clone());
    let part = if plan.slices == 1 {
        out.clone()
    } else {
        empty_like(&x, Shape::from([plan.slices as usize * len]))
    };
    let meta: [u32; 11] = [
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
    let (gx, gy, gz) = fold_grid(plan.total()).expect("grid checked by the caller");
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
    let meta = client.create_from_slice(bytemuck::cast_slice(&[len as u32, plan.slices, groups]));
    let (gx, gy, gz) = fold_grid(groups).expect("grid checked by the caller");
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
    let u = u.map(into_contiguous).unwrap_or_else(|| y.clone());
    let [n, co, d, h, w] = dims5(&dy);
    let client = dy.client.clone();
    let out = empty_like(&dy, Shape::from([2 * co]));
    let meta = client.create_from_slice(bytemuck::cast_slice(&[
        n as u32,
        co as u32,
        (d * h * w) as u32,
    ]));
    let (gx, gy, gz) = fold_grid(co as u32).expect("grid checked by the caller");
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
