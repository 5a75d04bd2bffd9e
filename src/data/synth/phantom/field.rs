//! Smooth random fields for the phantoms: low-frequency displacements (a few random plane waves) that
//! bend the anatomy per case, and hash-based gradient noise for tissue texture. Both are pure functions of
//! a seed and a position in millimetres, so a phantom never depends on evaluation order or threads.

use crate::util::rng::Rng;

/// A sum of a few random plane waves: smooth, band-limited, cheap to evaluate anywhere.
#[derive(Clone, Debug)]
pub struct Waves {
    /// `(wave vector in rad/mm, phase, amplitude per output component)`.
    waves: Vec<([f64; 3], f64, [f64; 3])>,
}

impl Waves {
    /// `n` waves with wavelengths in `wavelength_mm` and a total RMS amplitude of about `amplitude`
    /// (mm for displacements) per component.
    pub fn new(rng: &mut Rng, n: usize, wavelength_mm: [f64; 2], amplitude: f64) -> Self {
        let per = amplitude * (2.0 / n.max(1) as f64).sqrt();
        let waves = (0..n)
            .map(|_| {
                let dir = unit(rng);
                let k = std::f64::consts::TAU / rng.range(wavelength_mm[0], wavelength_mm[1]);
                let amp = [
                    per * rng.range(0.5, 1.0),
                    per * rng.range(0.5, 1.0),
                    per * rng.range(0.5, 1.0),
                ];
                (
                    [dir[0] * k, dir[1] * k, dir[2] * k],
                    rng.range(0.0, std::f64::consts::TAU),
                    amp,
                )
            })
            .collect();
        Waves { waves }
    }

    /// The same waves with every amplitude multiplied by `f` (e.g. to flatten the z component).
    pub fn scaled(mut self, f: [f64; 3]) -> Self {
        for w in &mut self.waves {
            for c in 0..3 {
                w.2[c] *= f[c];
            }
        }
        self
    }

    /// Displacement vector at `p` (mm).
    #[inline]
    pub fn displace(&self, p: [f64; 3]) -> [f64; 3] {
        let mut d = [0.0; 3];
        for (k, phase, amp) in &self.waves {
            let s = (k[0] * p[0] + k[1] * p[1] + k[2] * p[2] + phase).sin();
            d[0] += amp[0] * s;
            d[1] += amp[1] * s;
            d[2] += amp[2] * s;
        }
        d
    }

    /// `p` moved by the displacement field.
    #[inline]
    pub fn warp(&self, p: [f64; 3]) -> [f64; 3] {
        let d = self.displace(p);
        [p[0] + d[0], p[1] + d[1], p[2] + d[2]]
    }

    /// Displacements at `p0 + i * dp` for `i` in `0..out.len()`, by the angle-addition recurrence
    /// (one `sin_cos` per wave and row instead of one `sin` per wave and point).
    pub fn row(&self, p0: [f64; 3], dp: [f64; 3], out: &mut [[f64; 3]]) {
        out.fill([0.0; 3]);
        for (k, phase, amp) in &self.waves {
            let (mut s, mut c) = (k[0] * p0[0] + k[1] * p0[1] + k[2] * p0[2] + phase).sin_cos();
            let (sd, cd) = (k[0] * dp[0] + k[1] * dp[1] + k[2] * dp[2]).sin_cos();
            for o in out.iter_mut() {
                o[0] += amp[0] * s;
                o[1] += amp[1] * s;
                o[2] += amp[2] * s;
                (s, c) = (s * cd + c * sd, c * cd - s * sd);
            }
        }
    }
}

/// A random unit vector.
fn unit(rng: &mut Rng) -> [f64; 3] {
    loop {
        let v = [
            rng.range(-1.0, 1.0),
            rng.range(-1.0, 1.0),
            rng.range(-1.0, 1.0),
        ];
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if n > 0.1 && n <= 1.0 {
            return [v[0] / n, v[1] / n, v[2] / n];
        }
    }
}

/// Gradient (Perlin) noise on an integer lattice, hashed so it needs no tables; smooth, about [-1, 1],
/// and free of the blocky, axis-aligned look of value noise.
#[derive(Clone, Copy, Debug)]
pub struct Noise {
    seed: u64,
}

impl Noise {
    pub fn new(rng: &mut Rng) -> Self {
        Noise {
            seed: rng.next_u64(),
        }
    }

    /// Dot product of the hashed corner gradient (one of the 12 cube-edge directions) with `(x, y, z)`.
    #[inline]
    fn grad(&self, ix: i64, iy: i64, iz: i64, x: f64, y: f64, z: f64) -> f64 {
        let mut h = self.seed
            ^ (ix as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (iy as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            ^ (iz as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
        h = (h ^ (h >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 29;
        match (h >> 40) % 12 {
            0 => x + y,
            1 => x - y,
            2 => -x + y,
            3 => -x - y,
            4 => x + z,
            5 => x - z,
            6 => -x + z,
            7 => -x - z,
            8 => y + z,
            9 => y - z,
            10 => -y + z,
            _ => -y - z,
        }
    }

    /// Noise at `p` in lattice units (divide millimetres by the feature size first).
    #[inline]
    pub fn value(&self, p: [f64; 3]) -> f64 {
        let f = [p[0].floor(), p[1].floor(), p[2].floor()];
        let (x, y, z) = (f[0] as i64, f[1] as i64, f[2] as i64);
        let d = [p[0] - f[0], p[1] - f[1], p[2] - f[2]];
        let t = [fade(d[0]), fade(d[1]), fade(d[2])];
        let mut acc = 0.0;
        for dz in 0..2 {
            let wz = if dz == 0 { 1.0 - t[2] } else { t[2] };
            for dy in 0..2 {
                let wy = if dy == 0 { 1.0 - t[1] } else { t[1] };
                let (ry, rz) = (d[1] - dy as f64, d[2] - dz as f64);
                let a = self.grad(x, y + dy, z + dz, d[0], ry, rz);
                let b = self.grad(x + 1, y + dy, z + dz, d[0] - 1.0, ry, rz);
                acc += wz * wy * (a + (b - a) * t[0]);
            }
        }
        acc
    }

    /// Noise with anisotropic feature sizes `scale_mm` (mm per lattice step along x, y, z).
    #[inline]
    pub fn at(&self, q: [f64; 3], scale_mm: [f64; 3]) -> f64 {
        self.value([q[0] / scale_mm[0], q[1] / scale_mm[1], q[2] / scale_mm[2]])
    }

    /// Two octaves (feature size `scale_mm` and half of it), about [-1, 1].
    #[inline]
    pub fn fbm2(&self, q: [f64; 3], scale_mm: [f64; 3]) -> f64 {
        let p = [q[0] / scale_mm[0], q[1] / scale_mm[1], q[2] / scale_mm[2]];
        0.67 * self.value(p)
            + 0.33 * self.value([p[0] * 2.03 + 17.1, p[1] * 2.03 - 5.3, p[2] * 2.03 + 9.7])
    }
}

/// Quintic fade (C2-smooth interpolation weights).
#[inline]
fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_deterministic_bounded_and_continuous() {
        let n = Noise::new(&mut Rng::new(3));
        let m = Noise::new(&mut Rng::new(3));
        let mut prev = n.value([0.0, 0.3, 0.7]);
        let mut sum2 = 0.0;
        for s in 1..2000 {
            let p = [s as f64 * 0.01, 0.3, 0.7];
            let v = n.value(p);
            assert_eq!(v, m.value(p));
            assert!(v.abs() <= 1.5);
            assert!((v - prev).abs() < 0.05, "jump at {p:?}");
            prev = v;
            sum2 += v * v;
        }
        let sd = (sum2 / 1999.0).sqrt();
        assert!(sd > 0.1, "noise has almost no spread: sd {sd}");
    }

    #[test]
    fn rows_match_pointwise_evaluation() {
        let w = Waves::new(&mut Rng::new(9), 5, [20.0, 60.0], 2.0);
        let (p0, dp) = ([-50.0, 12.0, 7.0], [0.45, 0.02, -0.01]);
        let mut row = vec![[0.0; 3]; 300];
        w.row(p0, dp, &mut row);
        for (i, d) in row.iter().enumerate() {
            let e = w.displace(std::array::from_fn(|c| p0[c] + i as f64 * dp[c]));
            assert!(
                (0..3).all(|c| (d[c] - e[c]).abs() < 1e-9),
                "{i}: {d:?} vs {e:?}"
            );
        }
    }

    #[test]
    fn waves_have_the_requested_size() {
        let w = Waves::new(&mut Rng::new(5), 4, [40.0, 80.0], 3.0);
        let mut max = 0.0f64;
        for s in 0..1000 {
            let d = w.displace([s as f64 * 0.7, -(s as f64) * 0.3, s as f64 * 0.1]);
            max = max.max(d[0].abs()).max(d[1].abs()).max(d[2].abs());
        }
        assert!(
            max > 1.0 && max < 3.0 * (2.0f64 / 4.0).sqrt() * 4.0 + 1e-9,
            "max displacement {max}"
        );
    }
}
