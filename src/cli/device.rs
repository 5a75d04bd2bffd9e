//! `--device` and `--kernels`, shared by every computing command.

use anyhow::Result;
use clap::Args;

use crate::backend::{Backend, DeviceChoice};

/// Backend choice shared by every computing command.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    /// auto: a wgpu GPU if one exists, else flex; wgpu-cpu: wgpu on a software adapter (lavapipe).
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
    /// 3×3×3 convolutions: the project's own kernels (`own`: WGSL shaders on wgpu; on flex, our
    /// unfold + GEMM conv and backward; `wgsl` is accepted for it) or burn's built-in conv3d
    /// (default: the model config's, which defaults to own).
    #[arg(long, value_enum)]
    pub kernels: Option<crate::kernels::KernelChoice>,
}

impl DeviceArgs {
    /// Selects the backend and prints what was chosen.
    pub fn select(&self) -> Result<Backend> {
        let b = Backend::select(self.device)?.with_kernels(self.kernels);
        println!("backend: {}", b.describe());
        if b.adapter.as_ref().is_some_and(|a| a.is_cpu()) {
            println!(
                "note: this is a software (CPU) wgpu adapter, for testing the wgpu path; \
                 `--device flex` is the fast CPU path"
            );
        }
        Ok(b)
    }
}
