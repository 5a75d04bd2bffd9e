//! Backend selection, in one place for every command: `--device auto|wgpu|wgpu-cpu|flex`.
//!
//! `auto` takes a wgpu GPU adapter when one exists (Vulkan, Metal or DX12), else burn's `flex` CPU
//! backend. `wgpu-cpu` asks wgpu for a software adapter (lavapipe on Linux), which is how CI exercises
//! the wgpu path without a GPU.

use burn::tensor::wgpu::wgpu;
use burn::tensor::{Device, DeviceKind};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kernels::KernelChoice;

/// What the user asked for on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceChoice {
    /// A GPU through wgpu when one exists, else flex.
    Auto,
    /// wgpu's default adapter (GPU preferred).
    Wgpu,
    /// wgpu on a CPU adapter (lavapipe / llvmpipe / WARP).
    WgpuCpu,
    /// burn's pure-Rust CPU backend.
    Flex,
}

/// The compute backend family, which decides e.g. whether hand-written WGSL kernels can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Flex,
    Wgpu,
}

/// A wgpu adapter as the user sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterSummary {
    pub name: String,
    /// Graphics API: Vulkan, Metal, Dx12, Gl.
    pub api: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu, Other.
    pub device_type: String,
    pub driver: String,
}

impl AdapterSummary {
    fn from_info(info: &wgpu::AdapterInfo) -> Self {
        AdapterSummary {
            name: info.name.clone(),
            api: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
        }
    }

    pub fn is_cpu(&self) -> bool {
        self.device_type == "Cpu"
    }
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.api, self.device_type)
    }
}

/// The device every command computes on, with what was chosen and why.
#[derive(Clone, Debug)]
pub struct Backend {
    pub device: Device,
    pub kind: BackendKind,
    pub adapter: Option<AdapterSummary>,
    /// `--kernels`: overrides the model config's convolution implementation when set.
    pub kernels: Option<KernelChoice>,
}

impl Backend {
    /// The flex CPU backend.
    pub fn flex() -> Self {
        Backend {
            device: Device::flex(),
            kind: BackendKind::Flex,
            adapter: None,
            kernels: None,
        }
    }

    /// Resolves a `--device` choice, probing wgpu adapters first so a missing adapter is an error here
    /// (or, for `auto`, a fall-back to flex) instead of a panic inside the runtime.
    pub fn select(choice: DeviceChoice) -> Result<Self> {
        match choice {
            DeviceChoice::Flex => Ok(Backend::flex()),
            DeviceChoice::Auto => {
                let gpus: Vec<_> = list_adapters()
                    .into_iter()
                    .filter(|a| !a.is_cpu())
                    .collect();
                match pick_gpu(&gpus) {
                    Some(a) => Ok(Backend::wgpu_with(DeviceKind::DefaultDevice, a)),
                    None => Ok(Backend::flex()),
                }
            }
            DeviceChoice::Wgpu => {
                let adapters = list_adapters();
                let gpus: Vec<_> = adapters.iter().filter(|a| !a.is_cpu()).cloned().collect();
                if let Some(chosen) = pick_gpu(&gpus) {
                    return Ok(Backend::wgpu_with(DeviceKind::DefaultDevice, chosen));
                }
                if adapters.is_empty() {
                    return Err(no_adapter());
                }
                Err(only_software(&adapters))
            }
            DeviceChoice::WgpuCpu => {
                let cpu = list_adapters().into_iter().find(|a| a.is_cpu()).ok_or_else(|| {
                    Error::Backend(
                        "no CPU wgpu adapter found (install Mesa's lavapipe: apt-get install mesa-vulkan-drivers libvulkan1)"
                            .into(),
                    )
                })?;
                Ok(Backend::wgpu_with(DeviceKind::Cpu, cpu))
            }
        }
    }

    pub(crate) fn wgpu_with(kind: DeviceKind, adapter: AdapterSummary) -> Self {
        Backend {
            device: Device::wgpu(kind),
            kind: BackendKind::Wgpu,
            adapter: Some(adapter),
            kernels: None,
        }
    }

    /// The same device with `--kernels` set.
    pub fn with_kernels(self, kernels: Option<KernelChoice>) -> Self {
        Backend { kernels, ..self }
    }

    /// The convolution implementation a model with `configured` runs here: the `--kernels`
    /// override, else the config's.
    pub fn kernels_for(&self, configured: KernelChoice) -> KernelChoice {
        self.kernels.unwrap_or(configured)
    }

    /// One line for logs and reports: backend, adapter name, graphics API and type.
    pub fn describe(&self) -> String {
        match (&self.kind, &self.adapter) {
            (BackendKind::Wgpu, Some(a)) => format!("wgpu on {a}"),
            (BackendKind::Wgpu, None) => "wgpu".into(),
            (BackendKind::Flex, _) => {
                let threads = std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1);
                format!("flex (CPU, {threads} threads)")
            }
        }
    }
}

/// `--device wgpu` where every adapter is a software one: say so rather than spend minutes
/// autotuning kernels on a CPU.
fn only_software(adapters: &[AdapterSummary]) -> Error {
    let names: Vec<String> = adapters.iter().map(|a| a.to_string()).collect();
    Error::Backend(format!(
        "--device wgpu found no GPU, only software (CPU) adapters: {}. `--device flex` is the fast \
         CPU path; `--device wgpu-cpu` runs wgpu on the software adapter anyway",
        names.join(", ")
    ))
}

fn no_adapter() -> Error {
    Error::Backend("no wgpu adapter found (no Vulkan/Metal/DX12 driver); use --device flex".into())
}

/// Discrete before integrated before virtual.
fn pick_gpu(gpus: &[AdapterSummary]) -> Option<AdapterSummary> {
    let rank = |a: &AdapterSummary| match a.device_type.as_str() {
        "DiscreteGpu" => 0,
        "IntegratedGpu" => 1,
        _ => 2,
    };
    gpus.iter().min_by_key(|a| rank(a)).cloned()
}

/// Every adapter wgpu can see on this machine (all graphics APIs), without opening a device.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    let mut out: Vec<AdapterSummary> = adapters
        .iter()
        .map(|a| AdapterSummary::from_info(&a.get_info()))
        .collect();
    out.dedup();
    out
}

/// Runs device work that may panic inside the runtime (wgpu out of memory, a lost device) and
/// turns a panic into an error: out of memory with `advice` (e.g. "lower --batch"), anything else
/// naming `what` failed.
pub fn guard_device<T>(what: &str, advice: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            let lower = msg.to_lowercase();
            if lower.contains("memory") || lower.contains("allocat") {
                Err(Error::Backend(format!(
                    "{what}: the device ran out of memory: {advice} ({msg})"
                )))
            } else {
                Err(Error::Backend(format!("{what} failed: {msg}")))
            }
        }
    }
}

/// Waits until all queued work on the device has finished (for timing and before reading results).
pub fn sync(device: &Device) {
    let _ = device.sync();
}

/// Caps cubecl's autotuning at `samples` timed runs per candidate kernel (min = max samples),
/// keeping every other setting from cubecl.toml and the environment. Must run before the first
/// wgpu device is opened: cubecl reads its configuration once.
pub fn set_autotune_samples(samples: usize) -> Result<()> {
    use burn_cubecl::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
    let mut cfg = CubeClRuntimeConfig::from_current_dir().override_from_env();
    cfg.autotune.bench.min_samples = samples;
    cfg.autotune.bench.max_samples = samples;
    if CubeClRuntimeConfig::try_set(cfg) {
        Ok(())
    } else {
        Err(Error::Backend(
            "cubecl's configuration was already read; set autotune samples before opening a wgpu device".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_is_always_available() {
        let b = Backend::select(DeviceChoice::Flex).unwrap();
        assert_eq!(b.kind, BackendKind::Flex);
        assert!(b.describe().starts_with("flex"));
    }

    #[test]
    fn a_software_adapter_is_never_taken_for_a_gpu_silently() {
        let lavapipe = AdapterSummary {
            name: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            api: "Vulkan".into(),
            device_type: "Cpu".into(),
            driver: String::new(),
        };
        let err = only_software(&[lavapipe]).to_string();
        assert!(
            err.contains("llvmpipe") && err.contains("--device flex") && err.contains("wgpu-cpu"),
            "{err}"
        );
        // On this machine (no GPU) `--device wgpu` must refuse, not pick lavapipe.
        let adapters = list_adapters();
        if !adapters.is_empty() && adapters.iter().all(AdapterSummary::is_cpu) {
            let err = Backend::select(DeviceChoice::Wgpu).unwrap_err().to_string();
            assert!(err.contains("only software"), "{err}");
        }
    }

    #[test]
    fn device_panics_become_errors_with_advice() {
        let err = guard_device::<()>("training step", "lower --batch", || {
            panic!("Unable to allocate buffer of 68719476736 bytes: out of memory")
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("training step")
                && err.contains("out of memory")
                && err.contains("lower --batch"),
            "{err}"
        );
        let err = guard_device::<()>("sliding window", "x", || panic!("device lost"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sliding window failed: device lost"), "{err}");
        assert_eq!(guard_device("ok", "", || Ok(3)).unwrap(), 3);
    }

    #[test]
    fn gpu_ranking_prefers_discrete() {
        let mk = |t: &str| AdapterSummary {
            name: t.into(),
            api: "Vulkan".into(),
            device_type: t.into(),
            driver: String::new(),
        };
        let picked = pick_gpu(&[mk("IntegratedGpu"), mk("DiscreteGpu")]).unwrap();
        assert_eq!(picked.device_type, "DiscreteGpu");
        assert!(pick_gpu(&[]).is_none());
    }

    /// With `UNET3D_REQUIRE_WGPU=1` (CI) a missing CPU adapter is a failure, not a skip.
    #[test]
    fn wgpu_cpu_adapter_runs_a_tensor_op() {
        match Backend::select(DeviceChoice::WgpuCpu) {
            Ok(b) => {
                let t = burn::tensor::Tensor::<1>::from_floats([1.0, 2.0, 3.0], &b.device);
                let s: f32 = t.sum().into_scalar();
                assert_eq!(s, 6.0);
            }
            Err(e) => {
                assert!(
                    std::env::var("UNET3D_REQUIRE_WGPU").is_err(),
                    "wgpu required but unavailable: {e}"
                );
                eprintln!("skipping: {e}");
            }
        }
    }
}
