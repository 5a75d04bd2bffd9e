//! The male pelvis around the gland, in the anatomy frame (mm; origin at the gland centre, x left,
//! y posterior, z superior): body outline with skin, subcutaneous fat and a muscle ring; pelvic fat
//! with vessel strands; obturator internus and ischium laterally; levator ani sling; pubic symphysis
//! anteriorly; rectum (anal canal below the apex) posteriorly; bladder anterior-superior; seminal
//! vesicles above the base; periprostatic venous plexus and neurovascular bundles; then the gland.
//! Structures are painted in order with partial-volume coverage, later ones on top.

mod paint;

use super::config::Style;
use super::field::{Noise, Waves};
use super::gland::Gland;
use super::shapes::smoothstep;
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
}

/// Typical gland taper, for placing the lateral muscles clear of the base.
fn gland_taper_guess() -> f64 {
    0.28
}
