//! The prostate itself: a tapered, posteriorly flattened ellipsoid (apex narrower than base) split into
//! the central gland (CG, label 2: an anterior-superior ellipsoid, lobulated, darker and nodular) and
//! the peripheral zone (PZ, label 1: the bright posterior/lateral crescent that remains). The PZ/CG
//! boundary is blurred in intensity and the two zones differ by only ~30–45 %, so it is the hard edge.

use super::field::{Noise, Waves};
use super::shapes::{coverage, ellipsoid, smoothstep};
use crate::util::rng::Rng;

/// Label values (NCI-ISBI convention used by the project).
pub const PZ: u8 = 1;
pub const CG: u8 = 2;

/// One sampled gland, in the anatomy frame (mm; origin at the gland centre, x left, y posterior,
/// z superior).
#[derive(Clone, Debug)]
pub struct Gland {
    warp: Waves,
    cg_warp: Waves,
    /// Semi-axes: lateral, anterior, posterior, superior-inferior (mm).
    pub a: f64,
    pub b_ant: f64,
    pub b_post: f64,
    pub c: f64,
    /// Relative widening from apex (z = -c) to base (z = +c).
    taper: f64,
    /// Depth of the posterior midline indentation by the rectum (fraction of `b_post`).
    notch: f64,
    cg_centre: [f64; 3],
    cg_axes: [f64; 3],
    cg_taper: f64,
    /// Width (mm) of the intensity transition across the PZ/CG boundary.
    blur_mm: f64,
    /// Relative darkening of the surgical pseudocapsule along the PZ/CG boundary.
    pseudocapsule: f64,
    urethra: [f64; 2],
    urethra_r: f64,
    /// Dark PZ lesions: centre, radius, relative darkening.
    lesions: Vec<([f64; 3], f64, f64)>,
    tex: Noise,
    tex2: Noise,
    /// Clean relative intensities.
    pub pz: f64,
    pub cg: f64,
    capsule: f64,
    urethra_v: f64,
}

/// A gland evaluation at one point: signed distances (mm) to the gland and to the CG, and the point in
/// the gland's (warped) frame for texture lookups.
#[derive(Clone, Copy, Debug)]
pub struct GlandEval {
    pub sd: f64,
    pub sd_cg: f64,
    q: [f64; 3],
}

impl Gland {
    /// A random gland; `compressed` (endorectal coil) flattens it from behind.
    pub fn random(rng: &mut Rng, compressed: bool) -> Self {
        let s = rng.range(0.85, 1.15); // overall size (volume varies ~1.7×)
        let a = s * rng.range(21.0, 27.0);
        let b_ant = s * rng.range(14.0, 18.0);
        let flat = if compressed {
            rng.range(0.65, 0.8)
        } else {
            rng.range(0.8, 0.95)
        };
        let b_post = b_ant * flat;
        let c = s * rng.range(15.0, 19.0);
        let taper = rng.range(0.12, 0.28);
        // The CG sits anterior and superior; it reaches the anterior capsule (anterior stroma is CG).
        let cg_axes = [
            a * rng.range(0.78, 0.86),
            b_ant * rng.range(0.85, 0.97),
            c * rng.range(0.84, 0.95),
        ];
        let cg_centre = [
            rng.range(-1.0, 1.0),
            -b_ant * rng.range(0.2, 0.3),
            c * rng.range(0.12, 0.25),
        ];
        let urethra = [rng.range(-1.0, 1.0), -b_ant * rng.range(0.15, 0.35)];
        let mut lesions = Vec::new();
        let n_lesions = if rng.chance(0.3) { 1 + rng.below(2) } else { 0 };
        for _ in 0..n_lesions {
            let phi = rng.range(-1.3, 1.3);
            let centre = [
                a * 0.75 * phi.sin(),
                b_post * 0.7 * phi.cos(),
                c * rng.range(-0.6, 0.3),
            ];
            lesions.push((centre, rng.range(2.5, 5.5), rng.range(0.25, 0.45)));
        }
        let pz = rng.range(0.7, 0.9);
        let (warp_mm, lobe_mm) = (rng.range(1.0, 2.2), rng.range(0.6, 1.4));
        Gland {
            warp: Waves::new(rng, 4, [30.0, 70.0], warp_mm),
            cg_warp: Waves::new(rng, 5, [14.0, 30.0], lobe_mm),
            a,
            b_ant,
            b_post,
            c,
            taper,
            notch: if compressed {
                rng.range(0.1, 0.22)
            } else {
                rng.range(0.0, 0.12)
            },
            cg_centre,
            cg_axes,
            cg_taper: taper + rng.range(0.05, 0.15),
            blur_mm: rng.range(0.8, 2.0),
            pseudocapsule: rng.range(0.0, 0.18),
            urethra,
            urethra_r: rng.range(1.2, 2.2),
            lesions,
            tex: Noise::new(rng),
            tex2: Noise::new(rng),
            pz,
            cg: pz * rng.range(0.52, 0.7),
            capsule: rng.range(0.25, 0.4),
            urethra_v: rng.range(0.45, 0.7),
        }
    }

    /// Half-extent of the gland's bounding box (mm) including the deformation margin.
    pub fn extent(&self) -> [f64; 3] {
        let m = 1.0 + self.taper;
        [
            self.a * m + 6.0,
            self.b_ant.max(self.b_post) * m + 6.0,
            self.c + 6.0,
        ]
    }

    /// Evaluates the gland at `g` (anatomy frame, after the global warp); `None` when far away.
    #[inline]
    pub fn eval(&self, g: [f64; 3]) -> Option<GlandEval> {
        let e = self.extent();
        if g[0].abs() > e[0] || g[1].abs() > e[1] || g[2].abs() > e[2] {
            return None;
        }
        let q = self.warp.warp(g);
        let tz = 1.0 + self.taper * (q[2] / self.c).clamp(-1.0, 1.0);
        let by = if q[1] < 0.0 {
            self.b_ant
        } else {
            let x = q[0] / (0.45 * self.a);
            self.b_post * (1.0 - self.notch * (-x * x).exp())
        };
        let sd = ellipsoid(q, [self.a * tz, by * tz, self.c]);
        let qc = self.cg_warp.warp(q);
        let p = [
            qc[0] - self.cg_centre[0],
            qc[1] - self.cg_centre[1],
            qc[2] - self.cg_centre[2],
        ];
        let tc = 1.0 + self.cg_taper * (p[2] / self.cg_axes[2]).clamp(-1.0, 1.0);
        let sd_cg = ellipsoid(
            p,
            [self.cg_axes[0] * tc, self.cg_axes[1] * tc, self.cg_axes[2]],
        );
        Some(GlandEval { sd, sd_cg, q })
    }

    /// Label at an evaluated point: PZ or CG inside the gland, 0 outside.
    #[inline]
    pub fn label(e: &GlandEval) -> u8 {
        if e.sd > 0.0 {
            0
        } else if e.sd_cg <= 0.0 {
            CG
        } else {
            PZ
        }
    }

    /// Clean intensity inside the gland at an evaluated point (coverage is applied by the caller).
    pub fn intensity(&self, e: &GlandEval) -> f64 {
        let q = e.q;
        // PZ: bright, mildly heterogeneous, with faint radial striation.
        let mut pz = self.pz * (1.0 + 0.09 * self.tex.fbm2(q, [2.5, 2.5, 4.0]));
        for (c, r, depth) in &self.lesions {
            let d = ((q[0] - c[0]).powi(2) + (q[1] - c[1]).powi(2) + ((q[2] - c[2]) * 0.7).powi(2))
                .sqrt();
            pz *= 1.0 - depth * (1.0 - smoothstep(r * 0.6, r * 1.3, d));
        }
        // CG: darker, nodular (BPH): blobs a few mm across plus fine grain.
        let nod = self.tex2.fbm2(q, [4.5, 4.5, 6.0]);
        let cg = self.cg
            * (1.0
                + 0.28 * (3.0 * nod).tanh()
                + 0.07 * self.tex.value([q[0] / 1.2, q[1] / 1.2, q[2] / 2.5]));
        let t = smoothstep(-0.5, 0.5, -e.sd_cg / self.blur_mm);
        let mut v = pz + (cg - pz) * t;
        v *= 1.0 - self.pseudocapsule * (-(e.sd_cg / 0.7).powi(2)).exp();
        // Urethra: a small tube near the anterior centre.
        let (ux, uy) = (q[0] - self.urethra[0], q[1] - self.urethra[1]);
        let ud = (ux * ux + uy * uy).sqrt() - self.urethra_r;
        v += (self.urethra_v - v) * coverage(ud, 0.8);
        // Capsule: a thin dark rim, clearest posteriorly and laterally.
        let post = smoothstep(-0.4 * self.b_ant, 0.2 * self.b_post, q[1]);
        let rim = (-((e.sd + 0.5) / 0.5).powi(2)).exp() * (0.4 + 0.6 * post);
        v + (self.capsule - v) * rim
    }
}
