//! The male pelvis around the gland, in the anatomy frame (mm; origin at the gland centre, x left,
//! y posterior, z superior): body outline with skin, subcutaneous fat and a muscle ring; pelvic fat
//! with vessel strands; obturator internus and ischium laterally; levator ani sling; pubic symphysis
//! anteriorly; rectum (anal canal below the apex) posteriorly; bladder anterior-superior; seminal
//! vesicles above the base; periprostatic venous plexus and neurovascular bundles; then the gland.
//! Structures are painted in order with partial-volume coverage, later ones on top.

use super::Style;
use super::field::{Noise, Waves};
use super::gland::{CG, Gland, GlandEval};
use super::shapes::{coverage, ellipse, ellipsoid, rounded_box, smoothstep};
use super::tones::Tones;
use crate::util::rng::Rng;

/// What a point mostly is (for tests and statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Tissue {
    Air,
    Skin,
    Fat,
    Muscle,
    Bone,
    RectalWall,
    RectalLumen,
    BladderWall,
    Urine,
    SeminalVesicle,
    Plexus,
    Pz,
    Cg,
}

/// One sampled pelvis.
#[derive(Clone, Debug)]
pub struct Anatomy {
    global: Waves,
    strand_mask: Waves,
    pub gland: Gland,
    pub tones: Tones,
    tex: Noise,
    /// Body: centre y, half-axes, squareness, skin / fat / muscle thickness.
    pub body_yc: f64,
    pub body_h: [f64; 2],
    body_k: f64,
    layers: [f64; 3],
    /// (sin, cos) of the phase of the muscle ring's uneven thickness.
    ring_phase: (f64, f64),
    /// Rectum: centre x / y at the gland, outer semi-axes, wall, upward posterior bend, anal-canal level.
    pub rect_xy: [f64; 2],
    rect_r: [f64; 2],
    rect_wall: f64,
    rect_bend: [f64; 2],
    pub anal_z: f64,
    bladder_c: [f64; 3],
    bladder_r: [f64; 3],
    bladder_wall: f64,
    /// Seminal vesicles: centre, semi-axes, (sin, cos) of the in-plane turn.
    svs: [([f64; 3], [f64; 3], (f64, f64)); 2],
    obturator: [f64; 4],
    ischium: [f64; 4],
    levator: [f64; 3],
    /// Pubic rami: medial-end y, centre z, half-length, half-thickness, half-height, joint gap, and
    /// (sin, cos) of their turn (lateral ends posterior).
    pubis: [f64; 6],
    pubis_turn: (f64, f64),
    plexus_w: f64,
    nvb: [f64; 3],
    /// Partial-volume ramp width (mm), the in-plane voxel size.
    pub edge: f64,
}

impl Anatomy {
    pub fn random(rng: &mut Rng, style: Style) -> Self {
        let erc = style == Style::Dx; // 1.5 T with an endorectal coil: balloon in the rectum
        let gland = Gland::random(rng, erc);
        let tones = Tones::random(rng, erc);
        let (a, ba, bp, c) = (gland.a, gland.b_ant, gland.b_post, gland.c);
        let layers = [
            rng.range(0.8, 1.5),
            rng.range(3.0, 7.0),
            rng.range(4.0, 7.0),
        ];
        // Posterior chain: gland, Denonvilliers fat, rectum, perirectal fat, muscle, fat, skin.
        let gap = if erc {
            rng.range(0.5, 2.0)
        } else {
            rng.range(1.5, 4.0)
        };
        let rect_r = if erc {
            [rng.range(15.0, 19.0), rng.range(10.0, 13.0)]
        } else {
            [rng.range(12.0, 17.0), rng.range(6.0, 10.0)]
        };
        let rect_y = bp + gap + rect_r[1];
        let rect_bend = [rng.range(0.0, 1.0) * c, rng.range(2.0, 8.0)];
        let post_edge = rect_y
            + rect_r[1]
            + rect_bend[1]
            + rng.range(1.0, 4.0)
            + layers.iter().sum::<f64>()
            + layers[2] * 0.5;
        // Anterior chain: retropubic space, pubic symphysis, fat, muscle, skin.
        let retro = rng.range(5.0, 9.0);
        let pub_ry = rng.range(5.0, 7.5);
        let pub_y = -(ba + retro + pub_ry);
        let ant_edge = pub_y - pub_ry - rng.range(1.0, 4.0) - layers.iter().sum::<f64>();
        let body_yc = 0.5 * (post_edge + ant_edge);
        let hy = 0.5 * (post_edge - ant_edge);
        // Lateral: obturator internus then the ischium, inside the body.
        let ob_ax = rng.range(5.0, 8.0);
        let ob_x = a * (1.0 + gland_taper_guess()) + rng.range(5.0, 9.0) + ob_ax;
        let obturator = [ob_x, rng.range(-6.0, 4.0), ob_ax, rng.range(22.0, 30.0)];
        let is_ax = rng.range(6.0, 9.0);
        let ischium = [
            ob_x + ob_ax + is_ax * 0.6,
            obturator[1] + rng.range(-4.0, 6.0),
            is_ax,
            rng.range(16.0, 24.0),
        ];
        let hx =
            (hy * rng.range(1.2, 1.45)).max(ischium[0] + is_ax + layers.iter().sum::<f64>() + 2.0);
        // Bladder: anterior-superior, resting on the base; kept clear of the rectum and the body wall.
        let bl_r = [
            rng.range(22.0, 34.0).min(ob_x - ob_ax - 3.0),
            rng.range(16.0, 24.0),
            rng.range(16.0, 28.0),
        ];
        let bl_y = -ba * rng.range(0.1, 0.5);
        let bl_ry = bl_r[1]
            .min(rect_y - rect_r[1] - 6.0 - bl_y)
            .min(bl_y - (body_yc - hy) - layers.iter().sum::<f64>() - 3.0);
        let bladder_c = [
            rng.range(-3.0, 3.0),
            bl_y,
            c * rng.range(0.6, 0.9) + bl_r[2] * rng.range(0.55, 0.8),
        ];
        let sv_z = c * rng.range(0.8, 1.0) + rng.range(1.0, 6.0);
        let svs = [1.0, -1.0].map(|side: f64| {
            let centre = [
                side * rng.range(9.0, 15.0),
                bp * rng.range(0.3, 0.8),
                sv_z + rng.range(-2.0, 2.0),
            ];
            let axes = [
                rng.range(10.0, 15.0),
                rng.range(3.5, 6.0),
                rng.range(4.5, 7.5),
            ];
            (centre, axes, (side * rng.range(0.2, 0.6)).sin_cos())
        });
        let levator = [rect_y * 0.5, rng.range(2.5, 4.0), c * rng.range(0.0, 0.5)];
        let pubis = [
            pub_y,
            -c * rng.range(0.3, 0.8),
            rng.range(14.0, 20.0),
            pub_ry,
            rng.range(18.0, 26.0),
            rng.range(3.0, 5.0),
        ];
        let bend_mm = rng.range(1.5, 3.5);
        Anatomy {
            global: Waves::new(rng, 4, [60.0, 140.0], bend_mm).scaled([1.0, 1.0, 0.5]),
            strand_mask: Waves::new(rng, 4, [30.0, 70.0], 0.5),
            gland,
            tones,
            tex: Noise::new(rng),
            body_yc,
            body_h: [hx, hy],
            body_k: rng.range(0.3, 0.75),
            layers,
            ring_phase: rng.range(0.0, std::f64::consts::TAU).sin_cos(),
            rect_xy: [rng.range(-3.0, 3.0), rect_y],
            rect_r,
            rect_wall: rng.range(2.0, 3.5),
            rect_bend,
            anal_z: -c - rng.range(6.0, 14.0),
            bladder_c,
            bladder_r: [bl_r[0], bl_ry.max(8.0), bl_r[2]],
            bladder_wall: rng.range(1.5, 3.0),
            svs,
            obturator,
            ischium,
            levator,
            pubis,
            pubis_turn: rng.range(0.25, 0.55).sin_cos(),
            plexus_w: rng.range(1.5, 3.5),
            nvb: [
                a * rng.range(0.6, 0.75),
                bp * rng.range(0.7, 0.9),
                rng.range(1.5, 2.5),
            ],
            edge: 0.5,
        }
    }

    /// Rectal centre line (coil axis) at height `z`.
    pub fn rectum_centre(&self, z: f64) -> [f64; 2] {
        let b = self.rect_bend[1] * smoothstep(self.rect_bend[0], self.rect_bend[0] + 40.0, z);
        [self.rect_xy[0], self.rect_xy[1] + b]
    }

    /// Along a row of points `q0 + i * dq`: the whole-pelvis displacement (add it to the points before
    /// `label` / `sample`) and the smooth mask that says where the fat shows strands (for `sample`).
    pub fn row(&self, q0: [f64; 3], dq: [f64; 3], disp: &mut [[f64; 3]], mask: &mut [[f64; 3]]) {
        self.global.row(q0, dq, disp);
        self.strand_mask.row(q0, dq, mask);
    }

    /// Label (0, PZ, CG) at the displaced point `g`.
    pub fn label(&self, g: [f64; 3]) -> u8 {
        self.gland.eval(g).map(|e| Gland::label(&e)).unwrap_or(0)
    }

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

/// Typical gland taper, for placing the lateral muscles clear of the base.
fn gland_taper_guess() -> f64 {
    0.28
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
