//! WGSL generation for the tiled direct convolution (shaders/conv3d_direct.wgsl).
//!
//! The shader file holds the fixed frame (bindings, id decoding, lane coordinates); this file
//! writes the unrolled parts: staging of one source-channel chunk into workgroup memory, the
//! register-blocked multiply-adds over it, and the fused epilogue (or, for the input gradient,
//! the activation mask applied while staging). Unrolling by generation (rather than WGSL loops)
//! keeps the accumulators in registers on every driver and lets CPU drivers see halo and weight
//! reads at constant offsets. The lane grid (voxel lanes for GPUs, channel lanes for CPU
//! adapters) is described in direct_tiling.rs.

use std::fmt::Write;

use burn::backend::wgpu::{KernelSource, SourceTemplate};
use burn_cubecl::cubecl::prelude::KernelId;
use derive_new::new;

use super::tiling::DirectTiling;
use crate::kernels::activation::Activation;

burn_cubecl::kernel_source!(DirectFrame, "../../../shaders/conv3d_direct.wgsl");

/// What the direct kernel computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DirectRole {
    /// `y = act((conv(x, w) + bias) * scale + shift)`.
    Forward,
    /// `dx = conv_transpose(dy * act'(y) * scale, w)`: a convolution of the masked output
    /// gradient with the spatially flipped, channel-transposed weights.
    InputGrad,
}

/// One compiled variant of the direct kernel.
#[derive(Clone, Copy, Debug)]
pub struct DirectKernel {
    pub role: DirectRole,
    pub tiling: DirectTiling,
    pub act: Activation,
}

impl DirectKernel {
    /// Number of buffers before `info`.
    pub fn num_buffers(&self) -> usize {
        match self.role {
            DirectRole::Forward => 6,
            DirectRole::InputGrad => 5,
        }
    }

    /// Storage bindings in launch order. All are `read_write`: cubecl sub-allocates tensors
    /// from shared buffers, and one buffer bound both read-only and writable is a conflict.
    fn bindings(&self) -> String {
        let names: &[&str] = match self.role {
            DirectRole::Forward => &["src", "w", "bias", "scale", "shift", "dst"],
            DirectRole::InputGrad => &["dy", "yout", "w", "scale", "dst"],
        };
        let mut s = String::new();
        for (i, name) in names.iter().enumerate() {
            writeln!(
                s,
                "@group(0) @binding({i}) var<storage, read_write> {name}: array<f32>;"
            )
            .unwrap();
        }
        s
    }

    /// Name of the accumulator of block voxel (d, h, w) and channel c.
    fn acc(d: u32, h: u32, w: u32, c: u32) -> String {
        format!("a{d}_{h}_{w}_{c}")
    }

    fn body(&self) -> String {
        let t = &self.tiling;
        let mut s = String::new();
        let w = &mut s;
        for (d, h, x, c) in self.block() {
            writeln!(w, "    var {}: f32 = 0.0;", Self::acc(d, h, x, c)).unwrap();
        }
        if t.looped {
            // A barrier inside the loop needs a provably uniform trip count.
            writeln!(w, "    if (l == 0u) {{ uniform_nchunks = info[12]; }}").unwrap();
            writeln!(
                w,
                "    let nchunks = workgroupUniformLoad(&uniform_nchunks);"
            )
            .unwrap();
            writeln!(
                w,
                "    for (var chunk: u32 = 0u; chunk < nchunks; chunk = chunk + 1u) {{"
            )
            .unwrap();
        } else {
            writeln!(w, "    let nchunks = info[12];").unwrap();
            writeln!(w, "    let chunk = info[11];").unwrap();
            // Later chunks continue from the partial sums of the earlier launches.
            for (d, h, x, c) in self.block() {
                writeln!(
                    w,
                    "    {} = select(0.0, dst[{}], chunk > 0u);",
                    Self::acc(d, h, x, c),
                    Self::out_index(d, h, x, c)
                )
                .unwrap();
            }
        }
        self.stage(w);
        writeln!(w, "    workgroupBarrier();").unwrap();
        if !t.staged_weights() {
            self.lane_weights(w);
        }
        self.compute(w);
        if t.looped {
            writeln!(w, "    workgroupBarrier();").unwrap();
            writeln!(w, "    }}").unwrap();
            writeln!(w, "    let last = true;").unwrap();
        } else {
            writeln!(w, "    let last = chunk + 1u == nchunks;").unwrap();
        }
        self.epilogue(w);
        s
    }

    /// The lane's register block: (d, h, w, channel).
    fn block(&self) -> Vec<(u32, u32, u32, u32)> {
        let t = &self.tiling;
        let mut v = Vec::new();
        for c in 0..t.rc {
            for d in 0..t.rd {
                for h in 0..t.rh {
                    for x in 0..t.rv {
                        v.push((d, h, x, c));
                    }
                }
            }
        }
        v
    }

    /// Clamped destination index of block voxel (d, h, w), channel c (always in bounds).
    fn out_index(d: u32, h: u32, w: u32, c: u32) -> String {
        format!(
            "dst_base + min(tl + {c}u, dst_c - 1u) * vol + min(zo + {d}u, dd - 1u) * plane \
             + min(yo + {h}u, hh - 1u) * ww + min(xb + {w}u, ww - 1u)"
        )
    }

    /// Flat weight index of (destination `tt`, source `s`, tap `kk`), both roles.
    fn weight_index(&self, tt: &str, s: &str, kk: &str) -> String {
        match self.role {
            DirectRole::Forward => {
                format!("(min({tt}, dst_c - 1u) * src_c + min({s}, src_c - 1u)) * K3 + {kk}")
            }
            // Input gradient: the forward weight [src][dst] with the taps flipped.
            DirectRole::InputGrad => format!(
                "(min({s}, src_c - 1u) * dst_c + min({tt}, dst_c - 1u)) * K3 + (K3 - 1u - min({kk}, K3 - 1u))"
            ),
        }
    }

    fn stage(&self, w: &mut String) {
        let t = &self.tiling;
        let wg = t.wg();
        writeln!(w, "    let s0 = chunk * CH;").unwrap();
        for cl in 0..t.ch {
            writeln!(
                w,
                "    {{ let s = s0 + {cl}u; let s_ok = s < src_c; let sc = min(s, src_c - 1u);"
            )
            .unwrap();
            writeln!(w, "      let sb = src_base + sc * vol;").unwrap();
            if self.role == DirectRole::InputGrad {
                writeln!(w, "      let sg = scale[sc];").unwrap();
            }
            for i in 0..t.halo_padded() / wg {
                writeln!(w, "      {{ let e = l + {}u;", i * wg).unwrap();
                writeln!(
                    w,
                    "        let hz = e / (HH * HW); let hy = (e / HW) % HH; let hx = e % HW;"
                )
                .unwrap();
                writeln!(
                    w,
                    "        let gz = i32(z0 + hz) - PAD; let gy = i32(y0 + hy) - PAD; let gx = i32(x0 + hx) - PAD;"
                )
                .unwrap();
                writeln!(
                    w,
                    "        let ok = s_ok & (e < HALO) & (gz >= 0) & (gz < i32(dd)) & (gy >= 0) & (gy < i32(hh)) & (gx >= 0) & (gx < i32(ww));"
                )
                .unwrap();
                writeln!(
                    w,
                    "        let gi = sb + u32(clamp(gz, 0, i32(dd) - 1)) * plane + u32(clamp(gy, 0, i32(hh) - 1)) * ww + u32(clamp(gx, 0, i32(ww) - 1));"
                )
                .unwrap();
                let value = match self.role {
                    DirectRole::Forward => "src[gi]",
                    DirectRole::InputGrad => "dy[gi] * grad_mask(yout[gi]) * sg",
                };
                writeln!(
                    w,
                    "        halo[{}u + e] = select(0.0, {value}, ok); }}",
                    cl * t.halo_padded()
                )
                .unwrap();
            }
            writeln!(w, "    }}").unwrap();
        }
        for i in 0..t.weights_padded() / wg {
            writeln!(w, "    {{ let e = l + {}u;", i * wg).unwrap();
            writeln!(
                w,
                "      let c = e % RC; let q = e / RC; let kk = q % K3; let cl = q / K3;"
            )
            .unwrap();
            writeln!(w, "      let s = s0 + cl; let tt = t0 + c;").unwrap();
            writeln!(w, "      let ok = (e < WS) & (s < src_c) & (tt < dst_c);").unwrap();
            writeln!(
                w,
                "      wsh[e] = select(0.0, w[{}], ok); }}",
                self.weight_index("tt", "s", "kk")
            )
            .unwrap();
        }
    }

    /// With several channel groups each lane loads its own weights of the chunk once.
    fn lane_weights(&self, w: &mut String) {
        let t = &self.tiling;
        for cl in 0..t.ch {
            for c in 0..t.rc {
                writeln!(
                    w,
                    "    let wok{cl}_{c} = (s0 + {cl}u < src_c) & (tl + {c}u < dst_c);"
                )
                .unwrap();
                for kk in 0..t.k.pow(3) {
                    let idx = self.weight_index(
                        &format!("(tl + {c}u)"),
                        &format!("(s0 + {cl}u)"),
                        &format!("{kk}u"),
                    );
                    writeln!(
                        w,
                        "    let wr{cl}_{kk}_{c} = select(0.0, w[{idx}], wok{cl}_{c});"
                    )
                    .unwrap();
                }
            }
        }
    }

    fn compute(&self, w: &mut String) {
        let t = &self.tiling;
        let (_, hh, hw) = t.halo_dims();
        let nv = t.rv + t.k - 1;
        for cl in 0..t.ch {
            for kd in 0..t.k {
                for kh in 0..t.k {
                    for d in 0..t.rd {
                        for h in 0..t.rh {
                            let off = cl * t.halo_padded() + ((d + kd) * hh + h + kh) * hw;
                            writeln!(w, "    {{ let hb = lb + {off}u;").unwrap();
                            for q in 0..nv {
                                writeln!(w, "      let v{q} = halo[hb + {q}u];").unwrap();
                            }
                            for kw in 0..t.k {
                                let kk = (kd * t.k + kh) * t.k + kw;
                                for c in 0..t.rc {
                                    if t.staged_weights() {
                                        write!(
                                            w,
                                            "      {{ let wv = wsh[{}u];",
                                            (cl * t.k.pow(3) + kk) * t.rc + c
                                        )
                                        .unwrap();
                                    } else {
                                        write!(w, "      {{ let wv = wr{cl}_{kk}_{c};").unwrap();
                                    }
                                    for x in 0..t.rv {
                                        let a = Self::acc(d, h, x, c);
                                        write!(w, " {a} = fma(v{}, wv, {a});", x + kw).unwrap();
                                    }
                                    writeln!(w, " }}").unwrap();
                                }
                            }
                            writeln!(w, "    }}").unwrap();
                        }
                    }
                }
            }
        }
    }

    fn epilogue(&self, w: &mut String) {
        let t = &self.tiling;
        for c in 0..t.rc {
            writeln!(
                w,
                "    {{ let tt = tl + {c}u; let tc = min(tt, dst_c - 1u);"
            )
            .unwrap();
            if self.role == DirectRole::Forward {
                writeln!(
                    w,
                    "      let bs = bias[tc]; let sc = scale[tc]; let sh = shift[tc];"
                )
                .unwrap();
            }
            for d in 0..t.rd {
                for h in 0..t.rh {
                    writeln!(
                        w,
                        "      {{ let ok = live & (tt < dst_c) & (zo + {d}u < dd) & (yo + {h}u < hh);"
                    )
                    .unwrap();
                    for x in 0..t.rv {
                        let a = Self::acc(d, h, x, c);
                        let v = match self.role {
                            DirectRole::Forward => {
                                format!("select({a}, act(fma({a} + bs, sc, sh)), last)")
                            }
                            DirectRole::InputGrad => a.clone(),
                        };
                        writeln!(
                            w,
                            "        {{ let v = {v}; if (ok & (xb + {x}u < ww)) {{ dst[{}] = v; }} }}",
                            Self::out_index(d, h, x, c)
                        )
                        .unwrap();
                    }
                    writeln!(w, "      }}").unwrap();
                }
            }
            writeln!(w, "    }}").unwrap();
        }
    }
}

impl KernelSource for DirectKernel {
    fn source(&self) -> SourceTemplate {
        let t = &self.tiling;
        let (_, hh, hw) = t.halo_dims();
        let (tdt, tht, tw) = t.tile();
        DirectFrame::new()
            .source()
            .register("bindings", self.bindings())
            .register("info_binding", self.num_buffers().to_string())
            .register("wg", t.wg().to_string())
            .register("k", t.k.to_string())
            .register("pad", ((t.k - 1) / 2).to_string())
            .register("td", t.td.to_string())
            .register("th", t.th.to_string())
            .register("twl", t.twl.to_string())
            .register("rd", t.rd.to_string())
            .register("rh", t.rh.to_string())
            .register("rv", t.rv.to_string())
            .register("rc", t.rc.to_string())
            .register("tdt", tdt.to_string())
            .register("tht", tht.to_string())
            .register("tw", tw.to_string())
            .register("ct", t.channels().to_string())
            .register("ch", t.ch.to_string())
            .register("hh", hh.to_string())
            .register("hw", hw.to_string())
            .register("halo", t.halo().to_string())
            .register("halo_p", t.halo_padded().to_string())
            .register("halo_len", (t.ch * t.halo_padded()).to_string())
            .register("ws", t.weights().to_string())
            .register("ws_len", t.weights_padded().max(1).to_string())
            .register("act", self.act.wgsl_act())
            .register("mask", self.act.wgsl_mask())
            .register("body", self.body())
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((self.role, self.tiling, self.act.key()))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}
