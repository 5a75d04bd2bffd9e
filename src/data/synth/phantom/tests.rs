//! Phantom tests: determinism, geometry per scanner style, label statistics, clean-intensity ordering,
//! and the finished image's scale and background.

use super::pelvis::Tissue;
use super::*;

/// A coarse grid (same anatomy, ~1.1 mm pixels) so the tests stay fast.
fn small() -> PhantomConfig {
    PhantomConfig {
        matrix: 96,
        z_subsamples: 1,
        ..PhantomConfig::default()
    }
}

fn mean_where(values: &[f32], pick: impl Fn(usize) -> bool) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for (i, &v) in values.iter().enumerate() {
        if pick(i) {
            s += v as f64;
            n += 1;
        }
    }
    assert!(n > 0, "no voxels selected");
    s / n as f64
}

#[test]
fn case_ids_alternate_styles() {
    assert_eq!(case_id(0), "ProstateDx-01-0001");
    assert_eq!(case_id(1), "Prostate3T-01-0001");
    assert_eq!(case_id(2), "ProstateDx-01-0002");
    assert_eq!(case_id(19), "Prostate3T-01-0010");
}

#[test]
fn same_seed_same_phantom_other_seed_differs() {
    let cfg = PhantomConfig {
        matrix: 48,
        dx_slices: [20, 20],
        ..small()
    };
    let (a, la) = make_phantom(&cfg, 11, 0);
    let (b, lb) = make_phantom(&cfg, 11, 0);
    assert_eq!(a, b);
    assert_eq!(la, lb);
    let (c, lc) = make_phantom(&cfg, 12, 0);
    assert!(a.data != c.data || a.dims != c.dims);
    assert!(la.data != lc.data || la.dims != lc.dims);
    // Other cases of the same series differ too.
    let (d, _) = make_phantom(&cfg, 11, 2);
    assert!(a.data != d.data || a.dims != d.dims);
}

#[test]
fn grids_follow_the_scanner_styles() {
    let cfg = PhantomConfig::default();
    for index in 0..40 {
        let (plan, _, _) = plan_case(&cfg, 5, index);
        let [nx, ny, nz] = plan.dims;
        let [sx, sy, sz] = plan.spacing;
        assert_eq!(nx, ny);
        assert_eq!(sx, sy);
        match Style::of(index) {
            Style::Dx => {
                assert_eq!(nx, 224);
                assert!((0.40..=0.52).contains(&sx), "Dx pixel {sx}");
                assert!((30..=40).contains(&nz), "Dx slices {nz}");
                assert_eq!(sz, 3.0);
            }
            Style::T3 => {
                assert_eq!(nx, 200);
                assert!((0.49..=0.6).contains(&sx), "3T pixel {sx}");
                assert!((15..=24).contains(&nz), "3T slices {nz}");
                assert!(sz == 3.0 || sz == 4.0);
            }
        }
        // Axial LPS grid stored as RAS: i → left (−R), j → posterior (−A), k → superior.
        let a = plan.affine;
        assert_eq!(a.column(0), [-sx, 0.0, 0.0]);
        assert_eq!(a.column(1), [0.0, -sy, 0.0]);
        assert_eq!(a.column(2), [0.0, 0.0, sz]);
        assert!(
            a.spacing()
                .iter()
                .zip(plan.spacing)
                .all(|(x, y)| (x - y).abs() < 1e-12)
        );
    }
}

#[test]
fn labels_have_realistic_zone_volumes_and_extent() {
    let cfg = small();
    for index in 0..6 {
        let (plan, anat, _) = plan_case(&cfg, 21, index);
        let (_, _, labels) = render::render_clean(&plan, &anat);
        let [nx, ny, nz] = plan.dims;
        let pz = labels.iter().filter(|&&l| l == 1).count() as f64;
        let cg = labels.iter().filter(|&&l| l == 2).count() as f64;
        let ratio = pz / cg;
        assert!(
            (0.3..=0.8).contains(&ratio),
            "case {index}: PZ/CG voxel ratio {ratio:.2}"
        );
        let fg = (pz + cg) / labels.len() as f64;
        assert!(
            (0.003..=0.05).contains(&fg),
            "case {index}: foreground fraction {fg:.4}"
        );
        let ml = (pz + cg) * plan.spacing.iter().product::<f64>() / 1000.0;
        assert!(
            (12.0..=70.0).contains(&ml),
            "case {index}: gland volume {ml:.1} ml"
        );
        let with_gland: Vec<usize> = (0..nz)
            .filter(|&k| {
                labels[k * nx * ny..(k + 1) * nx * ny]
                    .iter()
                    .any(|&l| l > 0)
            })
            .collect();
        let (first, last) = (with_gland[0], *with_gland.last().unwrap());
        assert!(
            first >= 1 && last + 2 <= nz,
            "case {index}: gland on slices {first}..={last} of {nz}"
        );
        assert_eq!(
            with_gland.len(),
            last - first + 1,
            "case {index}: gland slices not contiguous"
        );
        assert!(
            with_gland.len() >= 6,
            "case {index}: gland on only {} slices",
            with_gland.len()
        );
    }
}

#[test]
fn clean_intensities_are_ordered_like_t2() {
    let cfg = small();
    for index in 0..4 {
        let (plan, anat, _) = plan_case(&cfg, 8, index);
        let (v, t, l) = render::render_clean(&plan, &anat);
        let m = |tissue: Tissue| mean_where(&v, |i| t[i] == tissue);
        let (pz, cg) = (mean_where(&v, |i| l[i] == 1), mean_where(&v, |i| l[i] == 2));
        let (urine, fat, muscle, lumen, air) = (
            m(Tissue::Urine),
            m(Tissue::Fat),
            m(Tissue::Muscle),
            m(Tissue::RectalLumen),
            m(Tissue::Air),
        );
        assert!(pz > cg * 1.25, "case {index}: PZ {pz:.3} vs CG {cg:.3}");
        assert!(urine > fat && urine > pz, "case {index}: urine {urine:.3}");
        assert!(
            fat > cg && cg > muscle,
            "case {index}: fat {fat:.3} CG {cg:.3} muscle {muscle:.3}"
        );
        assert!(lumen < cg, "case {index}: rectal lumen {lumen:.3}");
        assert!(air < 0.03, "case {index}: air {air:.4}");
        // Air surrounds the body: every corner of every slice.
        let [nx, ny, nz] = plan.dims;
        for k in 0..nz {
            for (i, j) in [(0, 0), (nx - 1, 0), (0, ny - 1), (nx - 1, ny - 1)] {
                assert_eq!(
                    t[i + nx * (j + ny * k)],
                    Tissue::Air,
                    "case {index}: corner ({i},{j},{k})"
                );
            }
        }
    }
}

#[test]
fn finished_image_has_the_scanner_scale_and_dark_air() {
    let cfg = PhantomConfig {
        matrix: 64,
        ..small()
    };
    for index in 0..2 {
        let (plan, anat, _) = plan_case(&cfg, 3, index);
        let (_, t, _) = render::render_clean(&plan, &anat);
        let (img, lab) = make_phantom(&cfg, 3, index);
        assert_eq!(img.dims, plan.dims);
        assert!(img.same_geometry(&lab, 0.0));
        let max = img.data.iter().fold(0.0f32, |m, &v| m.max(v)) as f64;
        assert!(
            (max - plan.max_intensity).abs() <= 1.0,
            "max {max} vs {}",
            plan.max_intensity
        );
        assert!(img.data.iter().all(|v| v.fract() == 0.0 && *v >= 0.0));
        let air = mean_where(&img.data, |i| t[i] == Tissue::Air);
        let fat = mean_where(&img.data, |i| t[i] == Tissue::Fat);
        assert!(
            air < 0.1 * fat,
            "case {index}: air {air:.1} vs fat {fat:.1}"
        );
    }
}

#[test]
fn config_is_validated() {
    assert!(PhantomConfig::default().validate().is_ok());
    let e = PhantomConfig {
        matrix: 4,
        ..PhantomConfig::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("matrix"), "{e}");
    let e = PhantomConfig {
        t3_slices: [20, 10],
        ..PhantomConfig::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("t3_slices"), "{e}");
    let json = serde_json::to_string(&PhantomConfig::default()).unwrap();
    let back: PhantomConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, PhantomConfig::default());
    let partial: PhantomConfig = serde_json::from_str(r#"{"matrix": 128}"#).unwrap();
    assert_eq!(partial.matrix, 128);
}

/// Debug aid, not a check: writes middle gland slices (image | label overlay) of full-size cases
/// to PNGs under the temp folder and prints timings. `cargo test --release --lib phantom -- --ignored`.
#[test]
#[ignore]
fn dump_png_for_inspection() {
    let cfg = PhantomConfig::default();
    let dir = std::env::temp_dir().join("phantom_png");
    std::fs::create_dir_all(&dir).unwrap();
    for index in 0..6 {
        let t0 = std::time::Instant::now();
        let (img, lab) = make_phantom(&cfg, 1, index);
        let dt = t0.elapsed();
        let [nx, ny, nz] = img.dims;
        let counts = |v: u8| lab.data.iter().filter(|&&l| l == v).count();
        let ks: Vec<usize> = (0..nz)
            .filter(|&k| {
                lab.data[k * nx * ny..(k + 1) * nx * ny]
                    .iter()
                    .any(|&l| l > 0)
            })
            .collect();
        println!(
            "{} dims {:?} spacing {:.3?} max {} time {:?} PZ {} CG {} ratio {:.2} gland slices {:?}..{:?}",
            case_id(index),
            img.dims,
            img.spacing,
            img.data.iter().fold(0.0f32, |m, &v| m.max(v)),
            dt,
            counts(1),
            counts(2),
            counts(1) as f64 / counts(2) as f64,
            ks.first(),
            ks.last()
        );
        let rows = [
            (ks[1]),
            (ks[0] + ks[ks.len() - 1]) / 2,
            ks[ks.len() - 2],
            (ks[ks.len() - 1] + 4).min(nz - 1),
        ];
        let mut png = image::RgbImage::new(2 * nx as u32, (rows.len() * ny) as u32);
        for (r, &k) in rows.iter().enumerate() {
            let sl = &img.data[k * nx * ny..(k + 1) * nx * ny];
            let mut sorted: Vec<f32> = sl.to_vec();
            sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let hi = sorted[(sorted.len() as f64 * 0.995) as usize].max(1.0);
            for j in 0..ny {
                for i in 0..nx {
                    let g = ((sl[i + nx * j] / hi).min(1.0) * 255.0) as u8;
                    let y = (r * ny + j) as u32;
                    png.put_pixel(i as u32, y, image::Rgb([g, g, g]));
                    let c = match lab.data[k * nx * ny + i + nx * j] {
                        1 => [g / 2 + 127, g / 2, g / 2],
                        2 => [g / 2, g / 2 + 100, g / 2 + 127],
                        _ => [g, g, g],
                    };
                    png.put_pixel((nx + i) as u32, y, image::Rgb(c));
                }
            }
        }
        png.save(dir.join(format!("{}.png", case_id(index))))
            .unwrap();
    }
}
