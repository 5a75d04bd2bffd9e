//! WGSL generation and tiling for the weight-gradient kernel (shaders/conv3d_weight_grad.wgsl).
//!
//! Each invocation owns RCI input channels and an RC x RCI x K^3 block of the weight gradient in
//! registers; the generated body slides a K-wide input window along W for each input channel
//! and does the multiply-adds with straight-line code. More channels per invocation means more
//! multiply-adds per loaded value, which is what a CPU Vulkan driver needs (its loads inside
//! loops are per-lane scalar loops, its spills cheap); GPUs get small blocks.

use std::fmt::Write;

use burn::backend::wgpu::{KernelSource, SourceTemplate};
use burn_cubecl::cubecl::prelude::KernelId;
use derive_new::new;

use super::plan::ConvGeometry;
use crate::kernels::activation::Activation;

burn_cubecl::kernel_source!(WeightGradFrame, "../../../shaders/conv3d_weight_grad.wgsl");

/// Template parameters of the weight-gradient kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WeightGradTiling {
    pub k: u32,
    /// Invocations per workgroup.
    pub wg: u32,
    /// Output channels per invocation.
    pub rc: u32,
    /// Input channels per invocation.
    pub rci: u32,
}

/// A tiling plus the run-time split of the voxel rows into slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightGradPlan {
    pub tiling: WeightGradTiling,
    pub ci_blocks: u32,
    pub co_blocks: u32,
    pub slices: u32,
    pub rows_per_slice: u32,
}

impl WeightGradPlan {
    /// Tiles for `g`; `software` adapters get big register blocks (spills are cheap on a CPU,
    /// loads are not), GPUs small ones.
    pub fn choose(g: &ConvGeometry, software: bool) -> Self {
        let (ci, co) = (g.ci as u32, g.co as u32);
        if software {
            // K^3 x RC x RCI accumulators per invocation. Big blocks cut the per-lane loads
            // (2.3x faster at 32->32, 32^3) but take LLVM ~20 s to compile, so small problems
            // get small blocks.
            let big = g.n * g.voxels() >= 8192;
            let (rc, rci) = match (g.k, big) {
                (1, _) => (co.min(32), ci.div_ceil(8).min(8)),
                (_, true) => (co.min(16), ci.div_ceil(8).min(2)),
                (_, false) => (co.min(8), 1),
            };
            Self::choose_with(g, 8, rc, rci, 64)
        } else {
            let wg = ci.next_multiple_of(32).min(64);
            Self::choose_with(g, wg, co.min(2), 1, 1024)
        }
    }

    /// Tiles with explicit invocations per workgroup, output and input channels per invocation
    /// and a target number of workgroups (the voxel rows are split into slices to reach it).
    pub fn choose_with(g: &ConvGeometry, wg: u32, rc: u32, rci: u32, target: u32) -> Self {
        let k = g.k as u32;
        let ci_blocks = (g.ci as u32).div_ceil(wg * rci);
        let co_blocks = (g.co as u32).div_ceil(rc);
        let rows = (g.n * g.d * g.h) as u32;
        // Partial sums of all slices must stay modest (64 MiB).
        let len = (g.ci * g.co * g.k.pow(3)) as u32;
        let max_slices = ((16u32 << 20) / len.max(1)).max(1);
        let slices = target
            .div_ceil(ci_blocks * co_blocks)
            .clamp(1, rows)
            .min(max_slices);
        let rows_per_slice = rows.div_ceil(slices);
        let slices = rows.div_ceil(rows_per_slice);
        Self {
            tiling: WeightGradTiling { k, wg, rc, rci },
            ci_blocks,
            co_blocks,
            slices,
            rows_per_slice,
        }
    }

    /// Workgroups of one dispatch.
    pub fn total(&self) -> u32 {
        self.ci_blocks * self.co_blocks * self.slices
    }
}

/// One compiled variant of the weight-gradient kernel.
#[derive(Clone, Copy, Debug)]
pub struct WeightGradKernel {
    pub tiling: WeightGradTiling,
    pub act: Activation,
}

impl WeightGradKernel {
    fn body(&self) -> String {
        let t = &self.tiling;
        let (k, rc, rci) = (t.k, t.rc, t.rci);
        let pad = (k - 1) / 2;
        let mut s = String::new();
        let w = &mut s;
        let taps: Vec<(u32, u32)> = (0..k)
            .flat_map(|kd| (0..k).map(move |kh| (kd, kh)))
            .collect();
        for j in 0..rci {
            writeln!(w, "    let ci{j} = ci_first + {j}u; let ciok{j} = ci{j} < n_ci; let cic{j} = min(ci{j}, n_ci - 1u);").unwrap();
        }
        for c in 0..rc {
            writeln!(w, "    let gco{c} = min(co0 + {c}u, n_co - 1u);").unwrap();
            writeln!(
                w,
                "    let sc{c} = select(0.0, scale[gco{c}], co0 + {c}u < n_co);"
            )
            .unwrap();
            for j in 0..rci {
                for &(kd, kh) in &taps {
                    for kw in 0..k {
                        writeln!(w, "    var a{c}_{j}_{kd}{kh}{kw}: f32 = 0.0;").unwrap();
                    }
                }
            }
        }
        writeln!(w, "    for (var row = row0; row < row1; row = row + 1u) {{").unwrap();
        writeln!(
            w,
            "      let yy = row % hh; let zr = row / hh; let z = zr % dd; let nb = zr / dd;"
        )
        .unwrap();
        for kd in 0..k {
            writeln!(w, "      let zi{kd} = i32(z) + {kd} - PAD; let zok{kd} = (zi{kd} >= 0) & (zi{kd} < i32(dd));").unwrap();
            writeln!(w, "      let zc{kd} = u32(clamp(zi{kd}, 0, i32(dd) - 1));").unwrap();
        }
        for kh in 0..k {
            writeln!(w, "      let yi{kh} = i32(yy) + {kh} - PAD; let yok{kh} = (yi{kh} >= 0) & (yi{kh} < i32(hh));").unwrap();
            writeln!(w, "      let yc{kh} = u32(clamp(yi{kh}, 0, i32(hh) - 1));").unwrap();
        }
        for j in 0..rci {
            for &(kd, kh) in &taps {
                let id = format!("{j}_{kd}{kh}");
                writeln!(w, "      let ok{id} = ciok{j} & zok{kd} & yok{kh};").unwrap();
                writeln!(
                    w,
                    "      let xb{id} = ((nb * n_ci + cic{j}) * dd + zc{kd}) * plane + yc{kh} * ww;"
                )
                .unwrap();
                // Window p_q holds x[w - PAD + q] after the shift at the top of iteration w.
                for q in 0..k {
                    let idx = q as i32 - 1 - pad as i32;
                    let init = if q == 0 || idx < 0 {
                        "0.0".to_string()
                    } else {
                        format!(
                            "select(0.0, xin[xb{id} + min({idx}u, ww - 1u)], ok{id} & ({idx}u < ww))"
                        )
                    };
                    writeln!(w, "      var p{id}_{q}: f32 = {init};").unwrap();
                }
            }
        }
        writeln!(w, "      let gb = nb * n_co * vol + z * plane + yy * ww;").unwrap();
        writeln!(w, "      for (var xw = 0u; xw < ww; xw = xw + 1u) {{").unwrap();
        writeln!(w, "        let xn = xw + {pad}u;").unwrap();
        for j in 0..rci {
            for &(kd, kh) in &taps {
                let id = format!("{j}_{kd}{kh}");
                for q in 0..k - 1 {
                    writeln!(w, "        p{id}_{q} = p{id}_{};", q + 1).unwrap();
                }
                writeln!(
                    w,
                    "        p{id}_{} = select(0.0, xin[xb{id} + min(xn, ww - 1u)], ok{id} & (xn < ww));",
                    k - 1
                )
                .unwrap();
            }
        }
        for c in 0..rc {
            writeln!(
                w,
                "        let gi{c} = gb + gco{c} * vol + xw; let g{c} = dy[gi{c}] * grad_mask(yout[gi{c}]) * sc{c};"
            )
            .unwrap();
        }
        for c in 0..rc {
            for j in 0..rci {
                for &(kd, kh) in &taps {
                    for kw in 0..k {
                        writeln!(w, "        a{c}_{j}_{kd}{kh}{kw} = fma(g{c}, p{j}_{kd}{kh}_{kw}, a{c}_{j}_{kd}{kh}{kw});").unwrap();
                    }
                }
            }
        }
        writeln!(w, "      }}").unwrap();
        writeln!(w, "    }}").unwrap();
        for c in 0..rc {
            for j in 0..rci {
                writeln!(w, "    if (live & ciok{j} & (co0 + {c}u < n_co)) {{").unwrap();
                writeln!(
                    w,
                    "      let ob = ((slice * n_co + co0 + {c}u) * n_ci + ci{j}) * K3;"
                )
                .unwrap();
                for &(kd, kh) in &taps {
                    for kw in 0..k {
                        let tap = (kd * k + kh) * k + kw;
                        writeln!(w, "      part[ob + {tap}u] = a{c}_{j}_{kd}{kh}{kw};").unwrap();
                    }
                }
                writeln!(w, "    }}").unwrap();
            }
        }
        s
    }
}

impl KernelSource for WeightGradKernel {
    fn source(&self) -> SourceTemplate {
        let t = &self.tiling;
        WeightGradFrame::new()
            .source()
            .register("wg", t.wg.to_string())
            .register("rc", t.rc.to_string())
            .register("rci", t.rci.to_string())
            .register("k", t.k.to_string())
            .register("pad", ((t.k - 1) / 2).to_string())
            .register("mask", self.act.wgsl_mask())
            .register("body", self.body())
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((self.tiling, self.act.key()))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

burn_cubecl::kernel_source!(SumSlicesSource, "../../../shaders/conv3d_sum_slices.wgsl");
burn_cubecl::kernel_source!(
    ChannelSumsSource,
    "../../../shaders/conv3d_channel_sums.wgsl"
);

/// Sums per-slice partial gradients (no template parameters).
#[derive(Clone, Copy, Debug)]
pub struct SumSlicesKernel;

impl KernelSource for SumSlicesKernel {
    fn source(&self) -> SourceTemplate {
        SumSlicesSource::new().source()
    }
    fn id(&self) -> KernelId {
        KernelId::new::<Self>()
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Per-channel sums of the masked output gradient (and of its product with `u`).
#[derive(Clone, Copy, Debug)]
pub struct ChannelSumsKernel {
    pub act: Activation,
    pub has_u: bool,
}

impl KernelSource for ChannelSumsKernel {
    fn source(&self) -> SourceTemplate {
        ChannelSumsSource::new()
            .source()
            .register("has_u", self.has_u.to_string())
            .register("mask", self.act.wgsl_mask())
    }
    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((self.act.key(), self.has_u))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_covers_all_rows_and_channels() {
        for (n, ci, co, d, h) in [(1, 1, 32, 7, 9), (2, 32, 32, 32, 32), (1, 17, 3, 5, 6)] {
            let g = ConvGeometry {
                n,
                ci,
                co,
                d,
                h,
                w: 8,
                k: 3,
            };
            for software in [true, false] {
                let p = WeightGradPlan::choose(&g, software);
                let rows = (n * d * h) as u32;
                assert!(p.slices * p.rows_per_slice >= rows);
                assert!((p.slices - 1) * p.rows_per_slice < rows);
                assert!(p.ci_blocks * p.tiling.wg * p.tiling.rci >= ci as u32);
                assert!(p.co_blocks * p.tiling.rc >= co as u32);
                assert_eq!(p.tiling.wg % 8, 0);
            }
        }
    }
}
