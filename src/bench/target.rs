//! The rows of a benchmark: flex and every wgpu adapter, each with each kernel choice.

use burn::tensor::DeviceKind;
use serde::{Deserialize, Serialize};

use crate::backend::{AdapterSummary, Backend, list_adapters};
use crate::error::{Error, Result};
use crate::kernels::KernelChoice;

/// Backend families `--backends` selects from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BackendFamily {
    /// burn's CPU backend.
    Flex,
    /// Every wgpu adapter found (GPUs and software adapters such as lavapipe).
    Wgpu,
}

/// One device and kernel choice to measure.
#[derive(Clone, Debug)]
pub struct BenchTarget {
    /// Short row label, e.g. `own flex` or `wgsl wgpu llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub label: String,
    pub backend: Backend,
    /// Convolution implementation (on flex: `wgsl` = flex's conv with the project's backward).
    pub kernels: KernelChoice,
}

/// wgpu's device kind for the `index`-th adapter of its type (how cubecl numbers adapters).
fn device_kind(adapter: &AdapterSummary, index: usize) -> DeviceKind {
    match adapter.device_type.as_str() {
        "DiscreteGpu" => DeviceKind::DiscreteGpu(index),
        "IntegratedGpu" => DeviceKind::IntegratedGpu(index),
        "VirtualGpu" => DeviceKind::VirtualGpu(index),
        "Cpu" => DeviceKind::Cpu,
        _ => DeviceKind::DefaultDevice,
    }
}

/// The adapters cubecl can open: one graphics API per adapter (GL duplicates of Vulkan adapters
/// dropped), numbered per device type in wgpu's order.
fn wgpu_backends() -> Vec<Backend> {
    let mut counts = std::collections::HashMap::<String, usize>::new();
    let mut seen_cpu = false;
    let mut out = Vec::new();
    for a in list_adapters().into_iter().filter(|a| a.api != "Gl") {
        let n = counts.entry(a.device_type.clone()).or_default();
        let kind = device_kind(&a, *n);
        *n += 1;
        if matches!(kind, DeviceKind::Cpu) {
            // cubecl opens one CPU adapter.
            if seen_cpu {
                continue;
            }
            seen_cpu = true;
        }
        out.push(Backend::wgpu_with(kind, a));
    }
    out
}

/// Rows for the chosen families and kernel choices. Asking for wgpu where no adapter exists is an
/// error naming the fix.
pub fn targets(families: &[BackendFamily], kernels: &[KernelChoice]) -> Result<Vec<BenchTarget>> {
    let mut out = Vec::new();
    for family in families {
        match family {
            BackendFamily::Flex => {
                for &k in kernels {
                    out.push(BenchTarget {
                        label: format!("{} flex", flex_kernel_name(k)),
                        backend: Backend::flex().with_kernels(Some(k)),
                        kernels: k,
                    });
                }
            }
            BackendFamily::Wgpu => {
                let backends = wgpu_backends();
                if backends.is_empty() {
                    return Err(Error::Backend(
                        "bench: no wgpu adapter found; install a Vulkan/Metal/DX12 driver (lavapipe: apt-get install mesa-vulkan-drivers libvulkan1) or use --backends flex".into(),
                    ));
                }
                for b in backends {
                    for &k in kernels {
                        let name = b.adapter.as_ref().map_or("wgpu".into(), |a| a.name.clone());
                        out.push(BenchTarget {
                            // Kernel first: chart legends truncate long adapter names.
                            label: format!("{} wgpu {name}", kernel_name(k)),
                            backend: b.clone().with_kernels(Some(k)),
                            kernels: k,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// On flex the project's kernels are its CPU conv (forward and backward), not WGSL.
pub fn flex_kernel_name(k: KernelChoice) -> &'static str {
    match k {
        KernelChoice::Own => "own",
        KernelChoice::Builtin => "builtin",
    }
}

pub fn kernel_name(k: KernelChoice) -> &'static str {
    match k {
        KernelChoice::Own => "wgsl",
        KernelChoice::Builtin => "builtin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_gets_one_row_per_kernel_choice() {
        let both = [KernelChoice::Builtin, KernelChoice::Own];
        let rows = targets(&[BackendFamily::Flex], &both).unwrap();
        let labels: Vec<&str> = rows.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["builtin flex", "own flex"]);
        assert!(rows.iter().zip(both).all(|(t, k)| t.kernels == k));
    }
}
