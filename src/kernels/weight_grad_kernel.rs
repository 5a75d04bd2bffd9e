//! WGSL generation and tiling for the weight-gradient kernel (shaders/conv3d_weight_grad.wgsl).
//!
//! Each invocation owns one input channel and an RC x K^3 block of the weight gradient in
//! registers; the generated body slides the K-wide input window along W and does the
//! multiply-adds with straight-line code, so the accumulators never go through memory indexing.

use std::fmt::Write;

use burn::backend::wgpu::{KernelSource, SourceTemplate};
use burn_cubecl::cubecl::prelude::KernelId;
use derive_new::new;

use super::activation::Activation;
use super::plan::ConvGeometry;

burn_cubecl::kernel_source!(WeightGradFrame, "../../shaders/conv3d_weight_grad.wgsl");

/// Template parameters of the weight-gradient kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WeightGradTiling {
    pub k: u32,
    /// Input channels per workgroup (one per invocation).
    pub wg: u32,
    /// Output channels per invocation.
    pub rc: u32,
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
        let wg = (g.ci as u32)
            .next_multiple_of(8)
            .min(if software { 32 } else { 64 });
        let rc = if software {
            (g.co as u32).min(8)
        } else {
            (g.co as u32).min(2)
        };
        let target: u32 = if software { 64 } else { 1024 };
        Self::choose_with(g, wg, rc, target)
    }

    /// Tiles with explicit lanes per workgroup, output channels per lane and a target number of
    /// workgroups.
    pub fn choose_with(g: &ConvGeometry, wg: u32, rc: u32, target: u32) -> Self {
        let k = g.k as u32;
        let ci_blocks = (g.ci as u32).div_ceil(wg);
        let co_blocks = (g.co as u32).div_ceil(rc);
        let rows = (g.n * g.d * g.h) as u32;
        let slices = target.div_ceil(ci_blocks * co_blocks).clamp(1, rows);
        let rows_per_slice = rows.div_ceil(slices);
        let slices = rows.div_ceil(rows_per_slice);
        Self {
            tiling: WeightGradTiling { k, wg, rc },
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
        let (k, rc) = (t.k, t.rc);
        let pad = (k - 1) / 2;
        let mut s = String::new();
        let w = &mut s;
        let taps: Vec<(u32, u32)> = (0..k)
            .flat_map(|kd| (0..k).map(move |kh| (kd, kh)))
            .collect();
        for c in 0..rc {
            writeln!(w, "    let gco{c} = min(co0 + {c}u, n_co - 1u);").unwrap();
            writeln!(
                w,
                "    let sc{c} = select(0.0, scale[gco{c}], co0 + {c}u < n_co);"
            )
            .unwrap();
            for &(kd, kh) in &taps {
                for kw in 0..k {
                    writeln!(w, "    var a{c}_{kd}{kh}{kw}: f32 = 0.0;").unwrap();
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
        for &(kd, kh) in &taps {
            writeln!(w, "      let ok{kd}{kh} = ci_ok & zok{kd} & yok{kh};").unwrap();
            writeln!(
                w,
                "      let xb{kd}{kh} = ((nb * n_ci + cic) * dd + zc{kd}) * plane + yc{kh} * ww;"
            )
            .unwrap();
            // Window p_j holds x[w - PAD + j] after the shift at the top of iteration w.
            for j in 0..k {
                let idx = j as i32 - 1 - pad as i32;
                let init = if j == 0 || idx < 0 {
                    "0.0".to_string()
                } else {
                    format!(
                        "select(0.0, xin[xb{kd}{kh} + min({idx}u, ww - 1u)], ok{kd}{kh} & ({idx}u < ww))"
                    )
                };
                writeln!(w, "      var p{kd}{kh}_{j}: f32 = {init};").unwrap();
            }
        }
        writeln!(w, "      let gb = nb * n_co * vol + z * plane + yy * ww;").unwrap();
        writeln!(w, "      for (var xw = 0u; xw < ww; xw = xw + 1u) {{").unwrap();
        writeln!(w, "        let xn = xw + {pad}u;").unwrap();
        for &(kd, kh) in &taps {
            for j in 0..k - 1 {
                writeln!(w, "        p{kd}{kh}_{j} = p{kd}{kh}_{};", j + 1).unwrap();
            }
            writeln!(
                w,
                "        p{kd}{kh}_{} = select(0.0, xin[xb{kd}{kh} + min(xn, ww - 1u)], ok{kd}{kh} & (xn < ww));",
                k - 1
            )
            .unwrap();
        }
        for c in 0..rc {
            writeln!(
                w,
                "        let gi{c} = gb + gco{c} * vol + xw; let g{c} = dy[gi{c}] * grad_mask(yout[gi{c}]) * sc{c};"
            )
            .unwrap();
        }
        for c in 0..rc {
            for &(kd, kh) in &taps {
                for kw in 0..k {
                    writeln!(
                        w,
                        "        a{c}_{kd}{kh}{kw} = fma(g{c}, p{kd}{kh}_{kw}, a{c}_{kd}{kh}{kw});"
                    )
                    .unwrap();
                }
            }
        }
        writeln!(w, "      }}").unwrap();
        writeln!(w, "    }}").unwrap();
        for c in 0..rc {
            writeln!(w, "    if (live & ci_ok & (co0 + {c}u < n_co)) {{").unwrap();
            writeln!(
                w,
                "      let ob = ((slice * n_co + co0 + {c}u) * n_ci + ci) * K3;"
            )
            .unwrap();
            for &(kd, kh) in &taps {
                for kw in 0..k {
                    let tap = (kd * k + kh) * k + kw;
                    writeln!(w, "      part[ob + {tap}u] = a{c}_{kd}{kh}{kw};").unwrap();
                }
            }
            writeln!(w, "    }}").unwrap();
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

burn_cubecl::kernel_source!(SumSlicesSource, "../../shaders/conv3d_sum_slices.wgsl");
burn_cubecl::kernel_source!(ChannelSumsSource, "../../shaders/conv3d_channel_sums.wgsl");

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
                assert!(p.ci_blocks * p.tiling.wg >= ci as u32);
                assert!(p.co_blocks * p.tiling.rc >= co as u32);
                assert_eq!(p.tiling.wg % 8, 0);
            }
        }
    }
}
