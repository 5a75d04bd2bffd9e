//! Every WGSL variant the project can launch, checked for the GPUs we cannot test on: each is
//! validated by naga (what wgpu does before any driver sees it) and translated to MSL (Metal),
//! HLSL (DX12) and SPIR-V (Vulkan), and its workgroup size and workgroup memory are read back
//! from the module and checked against the limits it was chosen for — the WebGPU defaults (256
//! invocations, 16 KiB) for every variant chosen under them, so a laptop GPU with default
//! limits accepts them. A failure names the kernel, its tiling and the backend.
//!
//! The variants: the direct kernel (forward and input gradient) with every tiling the chooser
//! returns for a grid of layer shapes, channel counts and kernel sizes, for GPU and CPU adapters
//! at several workgroup-memory limits, with every activation; the weight-gradient kernel with
//! both plans; the slice-sum and channel-sum kernels.

use std::collections::BTreeMap;

use burn::backend::wgpu::KernelSource;
use rayon::prelude::*;

use super::direct::{DirectKernel, DirectRole};
use super::plan::ConvGeometry;
use super::tiling::DirectTiling;
use super::weight_grad::{ChannelSumsKernel, SumSlicesKernel, WeightGradKernel, WeightGradPlan};
use crate::kernels::activation::Activation;

/// WebGPU's default `maxComputeInvocationsPerWorkgroup` and `maxComputeWorkgroupStorageSize`.
const DEFAULT_INVOCATIONS: u32 = 256;
const DEFAULT_WORKGROUP_BYTES: u32 = 16 * 1024;

const ACTIVATIONS: [Activation; 4] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.01),
    Activation::LeakyRelu(0.2),
];

/// A shader to check: its name (kernel and tiling), source, and the workgroup-memory limit it
/// was chosen for.
struct Variant {
    name: String,
    source: String,
    max_shared: u32,
}

/// Layer shapes covering the choosers' branches: widths below and above 8 and 16 voxels, small
/// and large problems, 1×1×1 and 3×3×3 kernels, channel counts from 1 to 320 (odd ones too).
fn geometries() -> Vec<ConvGeometry> {
    let mut out = Vec::new();
    let channels = [1, 3, 8, 12, 16, 32, 64, 320];
    let spaces = [(1, 2, 5, 5), (2, 8, 20, 20), (1, 16, 40, 40), (2, 4, 4, 6)];
    for &(n, d, h, w) in &spaces {
        for &ci in &channels {
            for &co in &channels {
                for k in [1, 3] {
                    out.push(ConvGeometry {
                        n,
                        ci,
                        co,
                        d,
                        h,
                        w,
                        k,
                    });
                }
            }
        }
    }
    out
}

fn variants() -> Vec<Variant> {
    let mut by_source: BTreeMap<String, Variant> = BTreeMap::new();
    let mut add = |name: String, source: String, max_shared: u32| {
        let v = by_source.entry(source.clone()).or_insert(Variant {
            name,
            source,
            max_shared,
        });
        v.max_shared = v.max_shared.min(max_shared);
    };
    // (GPU lane layout?, workgroup memory the adapter reports): WebGPU's default, a typical
    // desktop GPU, and lavapipe's.
    let adapters = [
        (true, DEFAULT_WORKGROUP_BYTES),
        (true, 32 * 1024),
        (true, 64 * 1024),
        (false, DEFAULT_WORKGROUP_BYTES),
        (false, 64 * 1024),
    ];
    let mut seen_tilings = std::collections::HashSet::new();
    for g in geometries() {
        for &(gpu, max_shared) in &adapters {
            for (role, geom) in [
                (DirectRole::Forward, g),
                (DirectRole::InputGrad, g.transposed()),
            ] {
                let tiling = DirectTiling::choose(&geom, max_shared, gpu);
                // The activation changes one epilogue (or mask) snippet: every tiling with the
                // most involved one, every activation with the first tiling of each kind.
                let first = seen_tilings.insert((role, gpu, tiling.k, tiling.looped));
                let acts: &[Activation] = if first {
                    &ACTIVATIONS
                } else {
                    &[Activation::LeakyRelu(0.01)]
                };
                for &act in acts {
                    let kernel = DirectKernel { role, tiling, act };
                    let name = format!("direct {role:?} {act:?} {tiling:?}");
                    add(name, kernel.source().complete(), max_shared);
                }
            }
        }
        for software in [false, true] {
            let plan = WeightGradPlan::choose(&g, software);
            for act in ACTIVATIONS {
                let kernel = WeightGradKernel {
                    tiling: plan.tiling,
                    act,
                };
                let name = format!("weight grad {act:?} {:?}", plan.tiling);
                add(name, kernel.source().complete(), DEFAULT_WORKGROUP_BYTES);
            }
        }
    }
    add(
        "sum slices".into(),
        SumSlicesKernel.source().complete(),
        DEFAULT_WORKGROUP_BYTES,
    );
    for act in ACTIVATIONS {
        for has_u in [false, true] {
            let kernel = ChannelSumsKernel { act, has_u };
            add(
                format!("channel sums {act:?} has_u={has_u}"),
                kernel.source().complete(),
                DEFAULT_WORKGROUP_BYTES,
            );
        }
    }
    by_source.into_values().collect()
}

/// Validates and translates one variant; returns (invocations, workgroup bytes).
fn check(v: &Variant) -> Result<(u32, u32), String> {
    let module = naga::front::wgsl::parse_str(&v.source)
        .map_err(|e| format!("WGSL parse: {}", e.emit_to_string(&v.source)))?;
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .map_err(|e| format!("naga validation: {}", e.emit_to_string(&v.source)))?;
    naga::back::msl::write_string(
        &module,
        &info,
        &naga::back::msl::Options::default(),
        &naga::back::msl::PipelineOptions::default(),
    )
    .map_err(|e| format!("MSL (Metal): {e}"))?;
    let mut hlsl = String::new();
    naga::back::hlsl::Writer::new(
        &mut hlsl,
        &naga::back::hlsl::Options::default(),
        &naga::back::hlsl::PipelineOptions::default(),
    )
    .write(&module, &info, None)
    .map_err(|e| format!("HLSL (DX12): {e}"))?;
    naga::back::spv::write_vec(&module, &info, &naga::back::spv::Options::default(), None)
        .map_err(|e| format!("SPIR-V (Vulkan): {e:?}"))?;

    let entry = module
        .entry_points
        .iter()
        .find(|e| e.name == "main")
        .ok_or("no entry point named main")?;
    let [x, y, z] = entry.workgroup_size;
    let invocations = x * y * z;
    let mut layouter = naga::proc::Layouter::default();
    layouter
        .update(module.to_ctx())
        .map_err(|e| format!("layout: {e}"))?;
    let shared: u32 = module
        .global_variables
        .iter()
        .filter(|(_, g)| g.space == naga::AddressSpace::WorkGroup)
        .map(|(_, g)| layouter[g.ty].size)
        .sum();
    Ok((invocations, shared))
}

#[test]
fn every_shader_variant_validates_and_translates_for_metal_dx12_and_vulkan() {
    let variants = variants();
    assert!(
        variants.len() > 50,
        "only {} variants generated",
        variants.len()
    );
    let checked: Vec<(&Variant, Result<(u32, u32), String>)> =
        variants.par_iter().map(|v| (v, check(v))).collect();
    let mut failures = Vec::new();
    for (v, result) in checked {
        match result {
            Err(e) => failures.push(format!("{}: {e}", v.name)),
            Ok((invocations, shared)) => {
                if invocations > DEFAULT_INVOCATIONS {
                    failures.push(format!(
                        "{}: {invocations} invocations per workgroup, above WebGPU's default {DEFAULT_INVOCATIONS}",
                        v.name
                    ));
                }
                if shared > v.max_shared {
                    failures.push(format!(
                        "{}: {shared} bytes of workgroup memory, above the {} it was chosen for",
                        v.name, v.max_shared
                    ));
                }
            }
        }
    }
    eprintln!("checked {} shader variants", variants.len());
    assert!(
        failures.is_empty(),
        "{} of {} variants fail:\n{}",
        failures.len(),
        variants.len(),
        failures.join("\n")
    );
}
