//! Clean T2-weighted tissue intensities of one case, relative to subcutaneous fat (≈ 1): urine
//! brightest, fat and seminal vesicles bright, PZ bright, CG intermediate, muscle and rectal wall dark,
//! cortical bone and gas near black. Jittered per case so no two scans share an exact contrast.

use crate::util::rng::Rng;

#[derive(Clone, Debug)]
pub struct Tones {
    pub fat: f64,
    pub fat_in: f64,
    pub skin: f64,
    pub muscle: f64,
    pub cortex: f64,
    pub marrow: f64,
    pub cartilage: f64,
    pub urine: f64,
    pub bladder_wall: f64,
    pub rect_wall: f64,
    pub mucosa: f64,
    /// Rectal content: stool (intermediate) and gas or an air-filled coil balloon (black);
    /// `gas_bias` shifts the gas fraction (large: all gas).
    pub stool: f64,
    pub gas: f64,
    pub gas_bias: f64,
    pub sv: f64,
    pub plexus: f64,
    pub nvb: f64,
}

impl Tones {
    /// `balloon`: an endorectal-coil balloon fills the rectum (black lumen throughout).
    pub fn random(rng: &mut Rng, balloon: bool) -> Self {
        let fat = rng.range(0.92, 1.05);
        Tones {
            fat,
            fat_in: fat * rng.range(0.82, 0.95),
            skin: rng.range(0.4, 0.6),
            muscle: rng.range(0.17, 0.27),
            cortex: rng.range(0.03, 0.08),
            marrow: rng.range(0.6, 0.85),
            cartilage: rng.range(0.2, 0.35),
            urine: rng.range(1.15, 1.45),
            bladder_wall: rng.range(0.22, 0.35),
            rect_wall: rng.range(0.2, 0.3),
            mucosa: rng.range(0.4, 0.6),
            stool: rng.range(0.3, 0.55),
            gas: rng.range(0.02, 0.06),
            gas_bias: if balloon { 10.0 } else { rng.range(-0.4, 0.6) },
            sv: rng.range(0.95, 1.25),
            plexus: rng.range(0.6, 0.85),
            nvb: rng.range(0.3, 0.45),
        }
    }
}
