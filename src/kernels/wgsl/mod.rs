//! The WGSL kernels of `shaders/` on burn's wgpu backend: `direct` (forward and input-gradient
//! kernel source) with its lane layout in `tiling`, `weight_grad` (weight gradient, slice sums,
//! channel sums), `launch` / `launch_grads` (dispatch on `CubeBackend`), `extension` + `autodiff`
//! (the burn backend extension and its backward), `plan` (sizes, limits and dispatch grids).

pub mod autodiff;
pub mod direct;
pub mod extension;
pub mod launch;
pub mod launch_grads;
pub mod plan;
#[cfg(test)]
mod shader_check;
pub mod tiling;
pub mod weight_grad;
