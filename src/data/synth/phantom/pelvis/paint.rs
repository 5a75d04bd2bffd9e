//! Painting a point of the pelvis: every structure in order with partial-volume coverage, later
//! ones on top, giving the clean relative intensity and the dominant tissue.

use super::{Anatomy, Tissue};
use crate::data::synth::phantom::gland::{CG, Gland, GlandEval};
use crate::data::synth::phantom::shapes::{coverage, ellipse, ellipsoid, rounded_box, smoothstep};

impl Anatomy {
    /// Clean relative intensity (fat ≈ 1, air 0) and the dominant tissue at the displaced point `g`
    /// (`mask`: the strand mask from `row`).
    pub fn sample(&self, g: [f64; 3], mask: f64) -> (f64, Tissue) {
        let t = &self.tones;
        let w = self.edge;
        let (x, y, z) = (g[0], g[1], g[2]);
        let (yb, hx) = (
            y - self.body_yc,
            self.body_h[0] * (1.0 + 0.05 * (z / 60.0).clamp(-1.0, 1.0)),
        );
        let sd_body = rounded_box(x, yb, hx, self.body_h[1], self.body_k);
        let inside = coverage(sd_body, w);
        if inside <= 0.0 {
            return (0.0, Tissue::Air);
        }
        // Pelvic fat: bright, with thin dark septa and vessels in some regions only.
        let mask = smoothstep(0.1, 0.5, mask);
        let strands = if mask > 0.0 {
            mask * smoothstep(0.95, 0.99, 1.0 - self.tex.at(g, [9.0, 9.0, 20.0]).abs())
        } else {
            0.0
        };
        let mut p = Paint {
            v: t.fat_in * (1.0 - 0.5 * strands),
            t: Tissue::Fat,
        };
        // Body wall: muscle ring (thicker behind: gluteal), subcutaneous fat, skin.
        let depth = -sd_body;
        let r = (x * x + yb * yb).sqrt().max(1e-9);
        let (sn, cs) = (yb / r, x / r);
        let [skin, fat, mus] = self.layers;
        // Gluteal bulk behind (parted by the natal cleft), two rectus bellies in front (parted at the
        // midline), uneven around.
        let front =
            smoothstep(0.0, -0.3 * self.body_h[1], yb) * (1.0 - smoothstep(2.0, 6.0, x.abs()));
        let cleft =
            smoothstep(0.0, 0.3 * self.body_h[1], yb) * (1.0 - smoothstep(3.0, 9.0, x.abs()));
        let (s2, c2) = (2.0 * sn * cs, cs * cs - sn * sn);
        let uneven = s2 * self.ring_phase.1 + c2 * self.ring_phase.0;
        let mus = mus * (1.15 + 0.45 * sn + 0.25 * uneven) * (1.0 - front) * (1.0 - cleft);
        p.paint(
            t.muscle,
            coverage(depth - (skin + fat + mus), w),
            Tissue::Muscle,
        );
        p.paint(t.fat, coverage(depth - (skin + fat), w), Tissue::Fat);
        p.paint(t.skin, coverage(depth - skin, w), Tissue::Skin);
        // Ischium (cortex, marrow) and obturator internus, both sides.
        let ax = x.abs();
        let [ix, iy, iax, iay] = self.ischium;
        let sd = ellipse(ax - ix, y - iy, iax, iay);
        if sd < w {
            p.paint(t.cortex, coverage(sd, w), Tissue::Bone);
            p.paint(
                t.marrow * (1.0 + 0.15 * self.tex.at(g, [3.0, 3.0, 3.0])),
                coverage(sd + 2.0, w),
                Tissue::Bone,
            );
        }
        let [ox, oy, oax, oay] = self.obturator;
        let sd = ellipse(
            ax - ox,
            y - oy,
            oax * (1.0 + 0.1 * (z / 40.0).clamp(-1.0, 1.0)),
            oay,
        );
        if sd < w {
            p.paint(
                t.muscle * (1.0 + 0.1 * self.tex.at(g, [2.5, 2.5, 10.0])),
                coverage(sd, w),
                Tissue::Muscle,
            );
        }
        self.paint_levator(&mut p, g);
        self.paint_pubis(&mut p, g);
        self.paint_rectum(&mut p, g);
        let b = [
            x - self.bladder_c[0],
            y - self.bladder_c[1],
            z - self.bladder_c[2],
        ];
        if b[2].abs() < self.bladder_r[2] + w {
            let sd = ellipsoid(b, self.bladder_r);
            if sd < w {
                p.paint(t.bladder_wall, coverage(sd, w), Tissue::BladderWall);
                p.paint(t.urine, coverage(sd + self.bladder_wall, w), Tissue::Urine);
            }
        }
        for (c, axes, (sn, cs)) in &self.svs {
            if (z - c[2]).abs() > axes[2] + w {
                continue;
            }
            let (lx, ly) = (
                cs * (x - c[0]) + sn * (y - c[1]),
                cs * (y - c[1]) - sn * (x - c[0]),
            );
            let sd = ellipsoid([lx, ly, z - c[2]], *axes);
            if sd < w {
                let septa = smoothstep(0.75, 0.95, 1.0 - self.tex.at(g, [2.0, 2.0, 2.5]).abs());
                p.paint(
                    t.sv * (1.0 - 0.55 * septa),
                    coverage(sd, w),
                    Tissue::SeminalVesicle,
                );
            }
        }
        if let Some(e) = self.gland.eval(g) {
            self.paint_gland(&mut p, g, &e);
        }
        p.v *= inside;
        (p.v, if inside < 0.5 { Tissue::Air } else { p.t })
    }

    /// Pubic symphysis: the fibrocartilage joint and the two rami running laterally and back.
    fn paint_pubis(&self, p: &mut Paint, g: [f64; 3]) {
        let [py, pz, len, thick, paz, gap] = self.pubis;
        let (t, w, (x, y, z)) = (&self.tones, self.edge, (g[0], g[1], g[2]));
        if (z - pz).abs() > paz + w {
            return;
        }
        let ax = x.abs();
        let (sn, cs) = self.pubis_turn;
        let (cx, cy) = (gap * 0.5 + len * cs, py + len * sn);
        let (lx, ly) = (
            cs * (ax - cx) + sn * (y - cy),
            cs * (y - cy) - sn * (ax - cx),
        );
        let sd = ellipsoid([lx, ly, z - pz], [len, thick, paz]);
        let joint = ellipsoid(
            [x, y - py, z - pz],
            [gap * 0.5 + 1.0, thick * 0.9, paz * 0.9],
        );
        if sd < w {
            p.paint(t.cortex, coverage(sd, w), Tissue::Bone);
            p.paint(
                t.marrow * (1.0 + 0.15 * self.tex.at(g, [3.0, 3.0, 3.0])),
                coverage(sd + 1.8, w),
                Tissue::Bone,
            );
        }
        if joint < w {
            p.paint(t.cartilage, coverage(joint, w), Tissue::Bone);
        }
    }

    /// Levator ani: a thin muscular sling around the lower gland and the rectum, open anteriorly.
    fn paint_levator(&self, p: &mut Paint, g: [f64; 3]) {
        let [yc, th, ztop] = self.levator;
        let z = g[2];
        let fade = 1.0 - smoothstep(ztop - 4.0, ztop + 4.0, z);
        if fade <= 0.0 {
            return;
        }
        let gl = &self.gland;
        let tz = (1.0 + 0.15 * (z / gl.c).clamp(-1.5, 1.0)).max(0.6);
        let axl = gl.a.max(self.rect_r[0]) * tz + 4.0;
        let ayl = self.rect_xy[1] + self.rect_r[1] + 3.0 - yc;
        let sd = ellipse(g[0], g[1] - yc, axl, ayl).abs() - th * 0.5;
        let open = smoothstep(-0.6 * ayl, -0.2 * ayl, g[1] - yc);
        p.paint(
            self.tones.muscle,
            coverage(sd, self.edge) * open * fade,
            Tissue::Muscle,
        );
    }

    /// Rectum with wall, mucosa and lumen; narrows into the thick-walled anal canal below the apex.
    fn paint_rectum(&self, p: &mut Paint, g: [f64; 3]) {
        let (t, w) = (&self.tones, self.edge);
        let z = g[2];
        let s = smoothstep(self.anal_z - 12.0, self.anal_z + 4.0, z);
        let c = self.rectum_centre(z);
        let (rx, ry) = (
            9.0 + (self.rect_r[0] - 9.0) * s,
            8.0 + (self.rect_r[1] - 8.0) * s,
        );
        let sd = ellipse(g[0] - c[0], g[1] - c[1], rx, ry);
        if sd >= w {
            return;
        }
        let wall = 7.0 + (self.rect_wall - 7.0) * s;
        p.paint(t.rect_wall, coverage(sd, w), Tissue::RectalWall);
        p.paint(t.mucosa, coverage(sd + wall - 1.2, w), Tissue::RectalWall);
        let gas = smoothstep(-0.25, 0.25, self.tex.at(g, [6.0, 6.0, 9.0]) + t.gas_bias);
        let lumen =
            t.stool * (1.0 + 0.2 * self.tex.at(g, [2.0, 2.0, 3.0])) * (1.0 - gas) + t.gas * gas;
        p.paint(lumen, coverage(sd + wall, w), Tissue::RectalLumen);
    }

    /// Periprostatic venous plexus (bright, anterolateral), neurovascular bundles, then the gland.
    fn paint_gland(&self, p: &mut Paint, g: [f64; 3], e: &GlandEval) {
        let (t, w, gl) = (&self.tones, self.edge, &self.gland);
        let ant = 1.0 - smoothstep(0.0, 0.6 * gl.b_post, g[1]);
        let shell = coverage(e.sd - self.plexus_w, w) * ant;
        p.paint(
            t.plexus * (1.0 + 0.25 * self.tex.at(g, [2.0, 2.0, 4.0])),
            shell,
            Tissue::Plexus,
        );
        let [nx, ny, nr] = self.nvb;
        let d = ((g[0].abs() - nx).powi(2) + (g[1] - ny).powi(2)).sqrt() - nr;
        let zin = 1.0 - smoothstep(gl.c, gl.c + 6.0, g[2].abs());
        p.paint(
            t.nvb,
            coverage(d, w) * zin * coverage(-e.sd, w),
            Tissue::Fat,
        );
        let tissue = if Gland::label(e) == CG {
            Tissue::Cg
        } else {
            Tissue::Pz
        };
        p.paint(gl.intensity(e), coverage(e.sd, w), tissue);
    }
}

/// Painter's state: the current value and the tissue that covers at least half of the point.
struct Paint {
    v: f64,
    t: Tissue,
}

impl Paint {
    #[inline]
    fn paint(&mut self, value: f64, cov: f64, tissue: Tissue) {
        if cov > 0.0 {
            self.v += (value - self.v) * cov;
            if cov >= 0.5 {
                self.t = tissue;
            }
        }
    }
}
