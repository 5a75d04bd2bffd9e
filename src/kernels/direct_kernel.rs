//! WGSL generation for the tiled direct convolution (shaders/conv3d_direct.wgsl).
//!
//! The shader file holds the fixed frame (bindings, id decoding, lane coordinates); this file
//! writes the unrolled parts: staging of one source-channel chunk into workgroup memory, the
//! register-blocked multiply-adds over it, and the fused epilogue. Unrolling by generation
//! (rather than WGSL loops) keeps the accumulators in registers on every driver.

use std::fmt::Write;

use burn::backend::wgpu::{KernelSource, SourceTemplate};
use burn_cubecl::cubecl::prelude::KernelId;
use derive_new::new;

use super::activation::Activation;
use super::direct_tiling::DirectTiling;

burn_cubecl::kernel_source!(DirectFrame, "../../shaders/conv3d_direct.wgsl");

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
    /// Experiment bits (temporary).
    pub exp: u32,
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

    fn body(&self) -> String {
        let t = &self.tiling;
        let (rv, rc, k) = (t.rv, t.rc, t.k);
        let mut s = String::new();
        let w = &mut s;
        // Accumulators.
        for r in 0..rv {
            for c in 0..rc {
                writeln!(w, "    var a{r}_{c}: f32 = 0.0;").unwrap();
            }
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
            // Later chunks continue from the partial sums of the earlier dispatches.
            if self.exp & 1 != 0 {
                writeln!(w, "    _ = src[0u];").unwrap();
            }
            for c in 0..(if self.exp & 8 != 0 { 0 } else { rc }) {
                writeln!(
                    w,
                    "    {{ let ob = dst_base + min(t0 + {c}u, dst_c - 1u) * vol + zc * plane + yc * ww;"
                )
                .unwrap();
                for r in 0..rv {
                    writeln!(
                        w,
                        "      a{r}_{c} = select(0.0, dst[ob + min(xb + {r}u, ww - 1u)], chunk > 0u);"
                    )
                    .unwrap();
                }
                writeln!(w, "    }}").unwrap();
            }
        }
        self.stage(w);
        if self.exp & 4 == 0 {
            writeln!(w, "    workgroupBarrier();").unwrap();
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
        let _ = k;
        s
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
                    _ if self.exp & 1 != 0 => "f32(e)",
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
            let wi = match self.role {
                DirectRole::Forward => {
                    "(min(tt, dst_c - 1u) * src_c + min(s, src_c - 1u)) * K3 + kk"
                }
                DirectRole::InputGrad => {
                    "(min(s, src_c - 1u) * dst_c + min(tt, dst_c - 1u)) * K3 + (K3 - 1u - min(kk, K3 - 1u))"
                }
            };
            writeln!(w, "      wsh[e] = select(0.0, w[{wi}], ok); }}").unwrap();
        }
    }

    fn compute(&self, w: &mut String) {
        let t = &self.tiling;
        let (hh, hw) = (t.halo_dims().1, t.halo_dims().2);
        let nv = t.rv + t.k - 1;
        for cl in 0..t.ch {
            for kd in 0..t.k {
                for kh in 0..t.k {
                    let off = cl * t.halo_padded() + (kd * hh + kh) * hw;
                    writeln!(w, "    {{ let hb = lb + {off}u;").unwrap();
                    for q in 0..nv {
                        if self.exp & 16 != 0 {
                            writeln!(w, "      let v{q} = f32(hb + {q}u);").unwrap();
                        } else {
                            writeln!(w, "      let v{q} = halo[hb + {q}u];").unwrap();
                        }
                    }
                    for kw in 0..t.k {
                        for c in 0..t.rc {
                            let wi = (((cl * t.k + kd) * t.k + kh) * t.k + kw) * t.rc + c;
                            if self.exp & 2 != 0 {
                                let wi0 = ((cl * t.k + kd) * t.k + kh) * t.k * t.rc;
                                write!(w, "      {{ let wv = wsh[{wi0}u] + {}.0;", kw * 16 + c)
                                    .unwrap();
                            } else {
                                write!(w, "      {{ let wv = wsh[{wi}u];").unwrap();
                            }
                            for r in 0..t.rv {
                                write!(w, " a{r}_{c} = fma(v{}, wv, a{r}_{c});", r + kw).unwrap();
                            }
                            writeln!(w, " }}").unwrap();
                        }
                    }
                    writeln!(w, "    }}").unwrap();
                }
            }
        }
    }

    fn epilogue(&self, w: &mut String) {
        let t = &self.tiling;
        for c in 0..t.rc {
            writeln!(
                w,
                "    {{ let tt = t0 + {c}u; let tc = min(tt, dst_c - 1u);"
            )
            .unwrap();
            writeln!(
                w,
                "      let ob = dst_base + tc * vol + zc * plane + yc * ww;"
            )
            .unwrap();
            writeln!(
                w,
                "      let cok = live & (tt < dst_c) & (zo < dd) & (yo < hh);"
            )
            .unwrap();
            if self.role == DirectRole::Forward {
                writeln!(
                    w,
                    "      let bs = bias[tc]; let sc = scale[tc]; let sh = shift[tc];"
                )
                .unwrap();
            }
            for r in 0..t.rv {
                let v = match self.role {
                    DirectRole::Forward => {
                        format!("select(a{r}_{c}, act(fma(a{r}_{c} + bs, sc, sh)), last)")
                    }
                    DirectRole::InputGrad => format!("a{r}_{c}"),
                };
                writeln!(
                    w,
                    "      {{ let xo = xb + {r}u; let v = {v}; if (cok & (xo < ww)) {{ dst[ob + xo] = v; }} }}"
                )
                .unwrap();
            }
            writeln!(w, "    }}").unwrap();
        }
    }
}

impl KernelSource for DirectKernel {
    fn source(&self) -> SourceTemplate {
        let t = &self.tiling;
        let (hd, hh, hw) = t.halo_dims();
        DirectFrame::new()
            .source()
            .register("bindings", self.bindings())
            .register("info_binding", self.num_buffers().to_string())
            .register("wg", t.wg().to_string())
            .register("k", t.k.to_string())
            .register("pad", ((t.k - 1) / 2).to_string())
            .register("rv", t.rv.to_string())
            .register("rc", t.rc.to_string())
            .register("td", t.td.to_string())
            .register("th", t.th.to_string())
            .register("twl", t.twl.to_string())
            .register("tw", t.tw().to_string())
            .register("ch", t.ch.to_string())
            .register("hd", hd.to_string())
            .register("hh", hh.to_string())
            .register("hw", hw.to_string())
            .register("halo", t.halo().to_string())
            .register("halo_p", t.halo_padded().to_string())
            .register("halo_len", (t.ch * t.halo_padded()).to_string())
            .register("ws", t.weights().to_string())
            .register("ws_p", t.weights_padded().to_string())
            .register("act", self.act.wgsl_act())
            .register("mask", self.act.wgsl_mask())
            .register("body", self.body())
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((self.role, self.tiling, self.act.key(), self.exp))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}
