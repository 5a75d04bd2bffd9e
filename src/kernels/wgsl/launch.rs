//! Host side of the direct-convolution kernel on `CubeBackend`: template choice, buffers and
//! dispatch of the forward pass and the input gradient.
//!
//! Every function here takes validated inputs (see `api.rs`): f32 NCDHW tensors of consistent
//! shapes on one wgpu device, within the adapter's binding limits.

use burn::backend::TensorMetadata;
use burn::backend::wgpu::{CubeTensor, SourceKernel, into_contiguous};
use burn::tensor::Shape;
use burn_cubecl::cubecl::server::KernelArguments;
use burn_cubecl::cubecl::{CubeCount, CubeDim};

use super::direct::{DirectKernel, DirectRole};
use super::plan::{ConvGeometry, fold_grid};
use super::tiling::DirectTiling;
use crate::kernels::activation::Activation;

/// Adapter facts the tile choice depends on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdapterInfo {
    /// Workgroup memory per workgroup, bytes.
    pub max_shared: u32,
    /// A CPU implementation (lavapipe, SwiftShader): its loads inside shader loops run lane by
    /// lane, so it gets loop-free shaders with big register blocks.
    pub software: bool,
}

pub(crate) fn adapter_info(t: &CubeTensor) -> AdapterInfo {
    let props = t.client.properties();
    AdapterInfo {
        max_shared: props.hardware.max_shared_memory_size.min(u32::MAX as usize) as u32,
        software: props.identity.physical.is_none(),
    }
}

pub(crate) fn dims5(t: &CubeTensor) -> [usize; 5] {
    let s = t.shape();
    [s[0], s[1], s[2], s[3], s[4]]
}

/// An uninitialised contiguous f32 tensor on `reference`'s device.
pub(crate) fn empty_like(reference: &CubeTensor, shape: Shape) -> CubeTensor {
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

/// Runs the direct kernel for `g` (source channels `g.ci`, destination channels `g.co`):
/// one launch when the shader loops over source chunks, else one launch per chunk, each
/// continuing from the partial sums of the previous one.
fn run_direct(kernel: DirectKernel, g: ConvGeometry, inputs: Vec<CubeTensor>) -> CubeTensor {
    let t = kernel.tiling;
    let out = empty_like(&inputs[0], Shape::from([g.n, g.co, g.d, g.h, g.w]));
    let (tile_d, tile_h, tile_w) = t.tile();
    let tiles = [
        g.w.div_ceil(tile_w as usize),
        g.h.div_ceil(tile_h as usize),
        g.d.div_ceil(tile_d as usize),
        g.co.div_ceil(t.channels() as usize),
    ];
    // Fewer workgroups than output elements, so always below the 65,535^3 grid limit.
    let total = tiles.iter().product::<usize>() * g.n;
    let (gx, gy, gz) = fold_grid(total as u32).expect("fewer workgroups than output elements");
    let nchunks = g.ci.div_ceil(t.ch as usize);
    let client = inputs[0].client.clone();
    let launches = if t.looped { 1 } else { nchunks };
    for chunk in 0..launches {
        let meta = [
            g.n, g.ci, g.co, g.d, g.h, g.w, tiles[0], tiles[1], tiles[2], tiles[3], total, chunk,
            nchunks,
        ]
        .map(|v| v as u32);
        let meta = client.create_from_slice(bytemuck::cast_slice(&meta));
        let mut buffers: Vec<_> = inputs.iter().map(|t| t.handle.clone().binding()).collect();
        buffers.push(out.handle.clone().binding());
        buffers.push(meta.binding());
        client.launch(
            Box::new(SourceKernel::new(kernel, CubeDim::new_1d(t.wg()))),
            CubeCount::Static(gx, gy, gz),
            KernelArguments::new().with_buffers(buffers),
        );
    }
    out
}

/// The tiling the adapter of `t` gets for `g`.
fn default_tiling(t: &CubeTensor, g: &ConvGeometry) -> DirectTiling {
    let info = adapter_info(t);
    DirectTiling::choose(g, info.max_shared, !info.software)
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
    forward_with(None, x, w, bias, scale, shift, act)
}

/// [`forward`] with an explicit tiling (`None`: the adapter's default).
pub(crate) fn forward_with(
    tiling: Option<DirectTiling>,
    x: CubeTensor,
    w: CubeTensor,
    bias: CubeTensor,
    scale: CubeTensor,
    shift: CubeTensor,
    act: Activation,
) -> CubeTensor {
    let [x, w, bias, scale, shift] = [x, w, bias, scale, shift].map(into_contiguous);
    let g = ConvGeometry::from_dims(dims5(&x), dims5(&w)).expect("shapes checked by the caller");
    let tiling = tiling.unwrap_or_else(|| default_tiling(&x, &g));
    let kernel = DirectKernel {
        role: DirectRole::Forward,
        tiling,
        act,
    };
    run_direct(kernel, g, vec![x, w, bias, scale, shift])
}

/// Gradient w.r.t. the input: `conv_transpose(dy * act'(y) * scale, w)`.
pub(crate) fn input_grad(
    dy: CubeTensor,
    y: CubeTensor,
    w: CubeTensor,
    scale: CubeTensor,
    act: Activation,
) -> CubeTensor {
    input_grad_with(None, dy, y, w, scale, act)
}

/// [`input_grad`] with an explicit tiling (`None`: the adapter's default).
pub(crate) fn input_grad_with(
    tiling: Option<DirectTiling>,
    dy: CubeTensor,
    y: CubeTensor,
    w: CubeTensor,
    scale: CubeTensor,
    act: Activation,
) -> CubeTensor {
    let [dy, y, w, scale] = [dy, y, w, scale].map(into_contiguous);
    let [n, co, d, h, ww] = dims5(&dy);
    let [_, ci, k, _, _] = dims5(&w);
    // The transposed convolution: source channels are the forward's outputs.
    let g = ConvGeometry {
        n,
        ci: co,
        co: ci,
        d,
        h,
        w: ww,
        k,
    };
    let tiling = tiling.unwrap_or_else(|| default_tiling(&dy, &g));
    let kernel = DirectKernel {
        role: DirectRole::InputGrad,
        tiling,
        act,
    };
    run_direct(kernel, g, vec![dy, y, w, scale])
}
