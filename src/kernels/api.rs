//! The public entry point: `conv3d_fused` runs the WGSL kernels on wgpu devices and burn's own
//! ops everywhere else, after checking shapes, dtype and the adapter's limits.

use burn::backend::{Dispatch, DispatchDevice};
use burn::tensor::{DType, Device, Tensor};
use burn_cubecl::CubeDevice;
use serde::{Deserialize, Serialize};

use super::activation::Activation;
use super::cpu::flex_conv::{conv3d_flex, flex_conv_supported, is_flex};
use super::reference::{conv3d_fused_reference, epilogue};
use super::wgsl::extension::Conv3dWgslOps;
use super::wgsl::plan::ConvGeometry;
use crate::{Error, Result};

/// Which convolutions a model asks for (its config's `kernels`, or `--kernels`). Configs written
/// before the rename say `"wgsl"` for `Own`, which still loads.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum KernelChoice {
    /// The project's own kernels: the hand-written WGSL shaders on wgpu devices; on flex,
    /// the unfold + GEMM conv and its backward ([`super::cpu::flex_conv`]).
    #[default]
    #[serde(alias = "wgsl")]
    #[value(alias = "wgsl")]
    Own,
    /// burn's built-in conv3d (forward and backward) followed by separate epilogue ops.
    Builtin,
}

/// The convolution implementation that actually runs, decided once from a [`KernelChoice`] and
/// the device (a model's conv blocks decide it when they are built).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConvImpl {
    /// The hand-written WGSL kernels (wgpu devices).
    Wgsl,
    /// The project's CPU conv and fused InstanceNorm (flex).
    Cpu,
    /// burn's own conv3d and its backward (any device).
    Builtin,
}

impl ConvImpl {
    /// `Own` means WGSL on wgpu, the CPU kernels on flex and burn's ops on any other device.
    pub fn choose(choice: KernelChoice, device: &Device) -> Self {
        match choice {
            KernelChoice::Own if wgsl_available(device) => ConvImpl::Wgsl,
            KernelChoice::Own if is_flex(device) => ConvImpl::Cpu,
            _ => ConvImpl::Builtin,
        }
    }
}

/// The wgpu device behind `device` (looking through autodiff), if it is one.
pub(crate) fn wgpu_device(device: &Device) -> Option<CubeDevice> {
    match device.clone().inner().as_dispatch() {
        DispatchDevice::Cube(d @ CubeDevice::Wgpu(_)) => Some(d.clone()),
        _ => None,
    }
}

/// Whether `conv3d_fused` runs the WGSL kernels on `device`.
pub fn wgsl_available(device: &Device) -> bool {
    wgpu_device(device).is_some()
}

/// Whether `conv3d_fused` runs the project's own kernels on `device` (WGSL on wgpu, the flex
/// conv with its own backward on flex) rather than burn's conv3d.
pub fn own_kernels_available(device: &Device) -> bool {
    wgsl_available(device) || is_flex(device)
}

/// Fused `act((conv3d(x, weight) + bias) * scale + shift)`, stride 1, same padding, with the
/// hand-written WGSL kernels on wgpu devices (differentiable on autodiff devices), flex's conv
/// with the project's backward plus the epilogue as burn ops on flex, and
/// [`conv3d_fused_reference`] elsewhere. `bias`, `scale` and `shift` are per output channel.
///
/// # Shapes
/// - x: `[batch, ci, d, h, w]`, weight: `[co, ci, k, k, k]` with k = 1 or 3 -> `[batch, co, d, h, w]`
///
/// # Errors
/// Mismatched shapes, a kernel size other than 1 or 3, a non-f32 dtype, a negative LeakyReLU
/// slope, or tensors larger than the adapter's storage-binding limit.
pub fn conv3d_fused(
    x: Tensor<5>,
    weight: Tensor<5>,
    bias: Option<Tensor<1>>,
    scale: Option<Tensor<1>>,
    shift: Option<Tensor<1>>,
    act: Activation,
) -> Result<Tensor<5>> {
    conv3d_fused_with(KernelChoice::Own, x, weight, bias, scale, shift, act)
}

/// [`conv3d_fused`] with an explicit choice (`Builtin` always uses [`conv3d_fused_reference`],
/// burn's ops).
pub fn conv3d_fused_with(
    choice: KernelChoice,
    x: Tensor<5>,
    weight: Tensor<5>,
    bias: Option<Tensor<1>>,
    scale: Option<Tensor<1>>,
    shift: Option<Tensor<1>>,
    act: Activation,
) -> Result<Tensor<5>> {
    let imp = ConvImpl::choose(choice, &x.device());
    conv3d_fused_as(imp, x, weight, bias, scale, shift, act)
}

/// [`conv3d_fused`] with the implementation already decided. The CPU kernels take f32 tensors
/// with odd cubic kernels and fall back to [`conv3d_fused_reference`] for anything else (e.g. the
/// f64 gradient check); `Wgsl` on a device that is not wgpu, a non-f32 tensor or one beyond the
/// adapter's limits is an error.
pub fn conv3d_fused_as(
    imp: ConvImpl,
    x: Tensor<5>,
    weight: Tensor<5>,
    bias: Option<Tensor<1>>,
    scale: Option<Tensor<1>>,
    shift: Option<Tensor<1>>,
    act: Activation,
) -> Result<Tensor<5>> {
    let g = ConvGeometry::from_dims(x.dims(), weight.dims())?;
    act.validate()?;
    for (name, v) in [("bias", &bias), ("scale", &scale), ("shift", &shift)] {
        if let Some(v) = v
            && v.dims()[0] != g.co
        {
            return Err(Error::config(format!(
                "conv3d: {name} has {} values but the weight has {} output channels",
                v.dims()[0],
                g.co
            )));
        }
    }
    let device = x.device();
    let cube = match imp {
        ConvImpl::Cpu if flex_conv_supported(&x, &weight) => {
            let bias = bias.unwrap_or_else(|| Tensor::<1>::zeros([g.co], &device));
            return Ok(epilogue(conv3d_flex(x, weight, bias), scale, shift, act));
        }
        ConvImpl::Cpu | ConvImpl::Builtin => {
            return Ok(conv3d_fused_reference(x, weight, bias, scale, shift, act));
        }
        ConvImpl::Wgsl => wgpu_device(&device).ok_or_else(|| {
            Error::config("conv3d: the WGSL kernels need a wgpu device; this tensor is elsewhere")
        })?,
    };
    if x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return Err(Error::config(format!(
            "conv3d: the WGSL kernels need f32 tensors, got {:?} and {:?}",
            x.dtype(),
            weight.dtype()
        )));
    }
    g.check_buffers(cube.client().properties().memory.max_page_size)?;
    let vec = |v: Option<Tensor<1>>, fill: f32| {
        v.unwrap_or_else(|| Tensor::<1>::full([g.co], fill, &device))
            .into_dispatch()
    };
    let out = <Dispatch as Conv3dWgslOps>::conv3d_wgsl(
        x.into_dispatch(),
        weight.into_dispatch(),
        vec(bias, 0.0),
        vec(scale, 1.0),
        vec(shift, 0.0),
        act,
    );
    Ok(Tensor::from_dispatch(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_falls_back_to_the_reference() {
        let dev = Device::flex();
        assert!(!wgsl_available(&dev));
        let x = Tensor::<5>::ones([1, 2, 3, 3, 3], &dev);
        let w = Tensor::<5>::ones([4, 2, 3, 3, 3], &dev);
        let y = conv3d_fused(x, w, None, None, None, Activation::Relu).unwrap();
        assert_eq!(y.dims(), [1, 4, 3, 3, 3]);
        // The centre voxel sees all 27 neighbours of both channels.
        let v = y.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(v[13], 54.0);
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        let dev = Device::flex();
        let x = Tensor::<5>::ones([1, 2, 3, 3, 3], &dev);
        let w = Tensor::<5>::ones([4, 3, 3, 3, 3], &dev);
        assert!(conv3d_fused(x.clone(), w, None, None, None, Activation::Relu).is_err());
        let w = Tensor::<5>::ones([4, 2, 3, 3, 3], &dev);
        let b = Some(Tensor::<1>::ones([3], &dev));
        let err = conv3d_fused(x, w, b, None, None, Activation::Relu).unwrap_err();
        assert!(err.to_string().contains("bias"), "{err}");
    }

    #[test]
    fn kernel_choice_parses_from_config_and_cli() {
        let c: KernelChoice = serde_json::from_str("\"builtin\"").unwrap();
        assert_eq!(c, KernelChoice::Builtin);
        use clap::ValueEnum;
        assert_eq!(
            KernelChoice::from_str("wgsl", true).unwrap(),
            KernelChoice::Own
        );
    }
}
