//! Implicit shape primitives for the phantoms: approximate signed distances in millimetres (negative
//! inside) and a partial-volume coverage ramp, so every structure gets soft, voxel-size edges.

/// Approximate signed distance (mm) from `q` to the ellipsoid with semi-axes `axes`, centred at 0.
/// Measured along the ray from the centre: exact for spheres, close for moderate eccentricities.
#[inline]
pub fn ellipsoid(q: [f64; 3], axes: [f64; 3]) -> f64 {
    let u = [q[0] / axes[0], q[1] / axes[1], q[2] / axes[2]];
    let r = (u[0] * u[0] + u[1] * u[1] + u[2] * u[2]).sqrt();
    let len = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2]).sqrt();
    if r < 1e-9 {
        return -axes[0].min(axes[1]).min(axes[2]);
    }
    len * (1.0 - 1.0 / r)
}

/// Approximate signed distance (mm) from `(x, y)` to the ellipse with semi-axes `(ax, ay)` at 0.
#[inline]
pub fn ellipse(x: f64, y: f64, ax: f64, ay: f64) -> f64 {
    let (u, v) = (x / ax, y / ay);
    let r = (u * u + v * v).sqrt();
    if r < 1e-9 {
        return -ax.min(ay);
    }
    (x * x + y * y).sqrt() * (1.0 - 1.0 / r)
}

/// Approximate signed distance (mm) to the rounded box `u² + v² − k·u²v² = 1` (`u = x/hx`,
/// `v = y/hy`): an ellipse for k = 0, squarer towards k = 1; used for the body outline.
#[inline]
pub fn rounded_box(x: f64, y: f64, hx: f64, hy: f64, k: f64) -> f64 {
    let (u2, v2) = ((x / hx).powi(2), (y / hy).powi(2));
    // The boundary along the ray through (u, v) is at scale t with k·u²v²·t⁴ − (u² + v²)·t² + 1 = 0;
    // the smaller root (stable form; real for k ≤ 1), and r = 1/t as for the ellipse.
    let (a, b) = (k * u2 * v2, u2 + v2);
    if b < 1e-18 {
        return -hx.min(hy);
    }
    let t2 = 2.0 / (b + (b * b - 4.0 * a).max(0.0).sqrt());
    let r = 1.0 / t2.sqrt();
    (x * x + y * y).sqrt() * (1.0 - 1.0 / r)
}

/// Fraction of a voxel of width `w` (mm) inside a surface at signed distance `sd`: 1 deep inside,
/// 0 outside, a linear ramp across the boundary (the exact box-filter result for a flat surface).
#[inline]
pub fn coverage(sd: f64, w: f64) -> f64 {
    (0.5 - sd / w).clamp(0.0, 1.0)
}

/// Hermite smoothstep from 0 at `e0` to 1 at `e1`.
#[inline]
pub fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sphere_distance_is_exact() {
        let d = ellipsoid([3.0, 4.0, 0.0], [2.0, 2.0, 2.0]);
        assert!((d - 3.0).abs() < 1e-12);
        assert!((ellipsoid([0.0, 0.0, 1.0], [2.0, 2.0, 2.0]) + 1.0).abs() < 1e-12);
        assert!((ellipse(0.0, 5.0, 3.0, 4.0) - 1.0).abs() < 1e-12);
        assert!((rounded_box(0.0, 5.0, 3.0, 4.0, 0.5) - 1.0).abs() < 1e-12);
        assert!((rounded_box(4.0, 0.0, 3.0, 4.0, 0.0) - 1.0).abs() < 1e-12);
        // Squarer than the ellipse: the corner point (0.8, 0.8) is inside for k = 0.7, outside for 0.
        assert!(
            rounded_box(0.8, 0.8, 1.0, 1.0, 0.7) < 0.0
                && rounded_box(0.8, 0.8, 1.0, 1.0, 0.0) > 0.0
        );
    }

    #[test]
    fn coverage_ramps_across_the_boundary() {
        assert_eq!(coverage(-1.0, 0.5), 1.0);
        assert_eq!(coverage(1.0, 0.5), 0.0);
        assert!((coverage(0.0, 0.5) - 0.5).abs() < 1e-12);
    }
}
