//! Known-answer and brute-force tests of the surface metrics.

use super::*;
use crate::util::rng::Rng;

/// A mask of `dims` with the box `[lo, hi)` set.
fn boxed(dims: [usize; 3], lo: [usize; 3], hi: [usize; 3]) -> Vec<bool> {
    let mut m = vec![false; dims.iter().product()];
    for k in lo[2]..hi[2] {
        for j in lo[1]..hi[1] {
            for i in lo[0]..hi[0] {
                m[i + dims[0] * (j + dims[1] * k)] = true;
            }
        }
    }
    m
}

fn coords(idx: usize, dims: [usize; 3]) -> [f64; 3] {
    [
        (idx % dims[0]) as f64,
        ((idx / dims[0]) % dims[1]) as f64,
        (idx / (dims[0] * dims[1])) as f64,
    ]
}

fn dist2(a: [f64; 3], b: [f64; 3], s: [f64; 3]) -> f64 {
    (0..3).map(|d| ((a[d] - b[d]) * s[d]).powi(2)).sum()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn cube_surface_counts_and_volume_border() {
    let dims = [5, 5, 5];
    assert_eq!(
        surface(&boxed(dims, [1, 1, 1], [4, 4, 4]), dims)
            .iter()
            .filter(|&&s| s)
            .count(),
        26
    );
    // A mask filling the whole volume: the outside counts as background, so the border is surface.
    let full = vec![true; 125];
    assert_eq!(
        surface(&full, dims).iter().filter(|&&s| s).count(),
        125 - 27
    );
}

#[test]
fn identical_cubes_have_zero_distances() {
    let dims = [6, 6, 6];
    let m = boxed(dims, [1, 2, 1], [4, 5, 5]);
    let sd = mask_surface_distances(&m, &m, dims, [0.5, 0.7, 3.0]);
    assert!(
        sd.pred_to_ref
            .iter()
            .chain(&sd.ref_to_pred)
            .all(|&d| d == 0.0)
    );
    assert_eq!(
        (sd.hd95(), sd.assd(), sd.hd_max()),
        (Some(0.0), Some(0.0), Some(0.0))
    );
}

#[test]
fn cube_shifted_one_voxel_along_anisotropic_x() {
    // 3×3×3 cubes, reference at i = 1..=3, prediction at i = 2..=4, spacing x = 2 mm.
    let dims = [8, 6, 6];
    let r = boxed(dims, [1, 1, 1], [4, 4, 4]);
    let p = boxed(dims, [2, 1, 1], [5, 4, 4]);
    let sd = mask_surface_distances(&p, &r, dims, [2.0, 1.0, 1.0]);
    // Per direction: 16 surface voxels shared (0 mm), the far face (9 voxels) 2 mm away, and the other
    // cube's centre voxel, which is 1 mm (one y step) from the nearest surface voxel.
    let mut expect = vec![0.0; 16];
    expect.push(1.0);
    expect.extend([2.0; 9]);
    assert_eq!(sorted(sd.pred_to_ref.clone()), expect);
    assert_eq!(sorted(sd.ref_to_pred.clone()), expect);
    assert!(close(sd.hd_max().unwrap(), 2.0));
    assert!(close(sd.hd95().unwrap(), 2.0));
    assert!(close(sd.assd().unwrap(), 38.0 / 52.0));
}

#[test]
fn separated_cubes_closed_form() {
    // Reference: 2×2×2 cube at i,j,k ∈ {0,1}; prediction: one voxel at (4,0,0); unit spacing.
    let dims = [6, 3, 3];
    let r = boxed(dims, [0, 0, 0], [2, 2, 2]);
    let p = boxed(dims, [4, 0, 0], [5, 1, 1]);
    let sd = mask_surface_distances(&p, &r, dims, [1.0, 1.0, 1.0]);
    let s = f64::sqrt;
    assert_eq!(sd.pred_to_ref, vec![3.0]);
    let r2p = [
        4.0,
        s(17.0),
        s(17.0),
        s(18.0),
        3.0,
        s(10.0),
        s(10.0),
        s(11.0),
    ];
    for (a, b) in sorted(sd.ref_to_pred.clone())
        .iter()
        .zip(sorted(r2p.to_vec()))
    {
        assert!(close(*a, b));
    }
    // Union of 9 values, sorted: 3 3 √10 √10 √11 4 √17 √17 √18; rank 0.95·8 = 7.6.
    assert!(close(
        sd.hd95().unwrap(),
        s(17.0) + 0.6 * (s(18.0) - s(17.0))
    ));
    let total = 3.0 + r2p.iter().sum::<f64>();
    assert!(close(sd.assd().unwrap(), total / 9.0));
    assert!(close(sd.hd_max().unwrap(), s(18.0)));
    // MONAI variant: max(p95{3}, p95 of the 8 reference distances at rank 6.65).
    assert!(close(
        sd.hd95_max_directed().unwrap(),
        s(17.0) + 0.65 * (s(18.0) - s(17.0))
    ));
}

#[test]
fn anisotropic_spacing_scales_the_right_axis() {
    // Two 2×2×2 cubes with a 2-voxel gap: distances 3 and 4 voxels along the separating axis.
    let spacing = [1.0, 1.0, 3.0];
    let along_x = mask_surface_distances(
        &boxed([6, 2, 2], [4, 0, 0], [6, 2, 2]),
        &boxed([6, 2, 2], [0, 0, 0], [2, 2, 2]),
        [6, 2, 2],
        spacing,
    );
    let along_z = mask_surface_distances(
        &boxed([2, 2, 6], [0, 0, 4], [2, 2, 6]),
        &boxed([2, 2, 6], [0, 0, 0], [2, 2, 2]),
        [2, 2, 6],
        spacing,
    );
    assert_eq!((along_x.assd(), along_x.hd_max()), (Some(3.5), Some(4.0)));
    assert_eq!((along_z.assd(), along_z.hd_max()), (Some(10.5), Some(12.0)));
    assert_eq!(
        sorted(along_z.ref_to_pred),
        vec![9.0, 9.0, 9.0, 9.0, 12.0, 12.0, 12.0, 12.0]
    );
}

#[test]
fn empty_masks_give_undefined_distances() {
    let dims = [4, 4, 4];
    let empty = vec![false; 64];
    let cube = boxed(dims, [1, 1, 1], [3, 3, 3]);
    let sd = mask_surface_distances(&cube, &empty, dims, [1.0; 3]);
    assert_eq!((sd.pred_surface, sd.ref_surface), (8, 0));
    assert!(!sd.is_defined());
    assert_eq!((sd.hd95(), sd.assd(), sd.hd_max()), (None, None, None));
}

#[test]
fn edt_matches_brute_force_on_random_masks() {
    let mut rng = Rng::new(7);
    for trial in 0..40 {
        let dims = [1 + rng.below(9), 1 + rng.below(7), 1 + rng.below(5)];
        let spacing = [
            rng.range(0.3, 3.0),
            rng.range(0.3, 3.0),
            rng.range(0.3, 4.0),
        ];
        let density = [0.02, 0.1, 0.5][trial % 3];
        let n = dims.iter().product();
        let seeds: Vec<bool> = (0..n).map(|_| rng.chance(density)).collect();
        let edt = squared_edt(&seeds, dims, spacing);
        for (v, &got) in edt.iter().enumerate() {
            let want = (0..n)
                .filter(|&q| seeds[q])
                .map(|q| dist2(coords(v, dims), coords(q, dims), spacing))
                .fold(f64::INFINITY, f64::min);
            assert!(
                got == want || (got - want).abs() < 1e-9,
                "trial {trial} voxel {v}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn surface_distances_match_brute_force_on_random_masks() {
    let mut rng = Rng::new(11);
    for _ in 0..30 {
        let dims = [2 + rng.below(8), 2 + rng.below(8), 1 + rng.below(5)];
        let spacing = [
            rng.range(0.3, 1.0),
            rng.range(0.3, 1.0),
            rng.range(1.0, 4.0),
        ];
        let n: usize = dims.iter().product();
        let pred: Vec<u8> = (0..n).map(|_| rng.below(3) as u8).collect();
        let reference: Vec<u8> = (0..n)
            .map(|_| if rng.chance(0.7) { 0 } else { 2 })
            .collect();
        let sd = surface_distances(&pred, &reference, dims, spacing, 2);
        let ps = surface(&pred.iter().map(|&v| v == 2).collect::<Vec<_>>(), dims);
        let rs = surface(&reference.iter().map(|&v| v == 2).collect::<Vec<_>>(), dims);
        let directed = |from: &[bool], to: &[bool]| -> Vec<f64> {
            (0..n)
                .filter(|&a| from[a])
                .map(|a| {
                    (0..n)
                        .filter(|&b| to[b])
                        .map(|b| dist2(coords(a, dims), coords(b, dims), spacing).sqrt())
                        .fold(f64::INFINITY, f64::min)
                })
                .collect()
        };
        if !sd.is_defined() {
            continue;
        }
        for (got, want) in [
            (&sd.pred_to_ref, directed(&ps, &rs)),
            (&sd.ref_to_pred, directed(&rs, &ps)),
        ] {
            assert_eq!(got.len(), want.len());
            assert!(
                got.iter().zip(&want).all(|(a, b)| close(*a, *b)),
                "{got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn large_volume_gives_finite_distances() {
    // A 256×256×40 grid with two overlapping ellipsoids spanning most of it: the whole EDT runs.
    // (Its speed is measured by benchmarks, never asserted here.)
    let dims = [256, 256, 40];
    let ell = |c: [f64; 3], r: [f64; 3]| -> Vec<u8> {
        (0..dims.iter().product::<usize>())
            .map(|idx| {
                let x = coords(idx, dims);
                let q: f64 = (0..3).map(|d| ((x[d] - c[d]) / r[d]).powi(2)).sum();
                u8::from(q <= 1.0)
            })
            .collect()
    };
    let p = ell([128.0, 128.0, 20.0], [120.0, 110.0, 19.0]);
    let r = ell([125.0, 130.0, 20.0], [115.0, 118.0, 18.0]);
    let sd = surface_distances(&p, &r, dims, [0.5, 0.5, 3.0], 1);
    assert!(sd.is_defined());
    let hd95 = sd.hd95().unwrap();
    assert!(hd95 > 0.0 && hd95 < 30.0, "HD95 {hd95}");
    assert!(sd.assd().unwrap() <= hd95);
}
