//! Tests of preprocessing: the planned spacing, the crop, the z-score, class locations, and the way
//! back to the native grid.

use super::*;
use crate::data::LabelMap;

/// A 40×36×8 case at 0.5×0.5×3 mm: air (0) around a body box i 4..36, j 3..33, k 1..7 with a smooth
/// intensity, and an ellipsoid labelled 2 with a 1-labelled rim band.
pub(crate) fn case(id: &str) -> Case {
    let dims = [40, 36, 8];
    let aff = Affine::from_spacing_origin([0.5, 0.5, 3.0], [-10.0, 5.0, 20.0]);
    let mut image = Image::zeros(dims, [0.5, 0.5, 3.0], aff);
    let mut label = LabelMap::zeros(dims, [0.5, 0.5, 3.0], aff);
    for k in 0..8 {
        for j in 0..36 {
            for i in 0..40 {
                if (4..36).contains(&i) && (3..33).contains(&j) && (1..7).contains(&k) {
                    image.set(
                        i,
                        j,
                        k,
                        100.0 + 3.0 * i as f32 + 2.0 * j as f32 + 10.0 * k as f32,
                    );
                }
                let (x, y, z) = (
                    (i as f64 - 20.0) / 10.0,
                    (j as f64 - 18.0) / 8.0,
                    (k as f64 - 4.0) / 2.5,
                );
                let r = x * x + y * y + z * z;
                label.set(
                    i,
                    j,
                    k,
                    if r < 0.5 {
                        2
                    } else if r < 1.0 {
                        1
                    } else {
                        0
                    },
                );
            }
        }
    }
    Case {
        id: id.into(),
        image,
        label,
    }
}

#[test]
fn target_spacing_uses_median_and_the_anisotropic_rule() {
    let aniso = [
        [0.5, 0.5, 3.0],
        [0.5, 0.5, 3.0],
        [0.6, 0.6, 4.0],
        [0.4, 0.4, 3.0],
        [0.5, 0.5, 2.5],
    ];
    let t = plan_target_spacing(&aniso);
    assert_eq!(&t[..2], &[0.5, 0.5]);
    // 10th percentile of z = [2.5, 3, 3, 3, 4] (linear): 2.5 + 0.4 × 0.5 = 2.7, not the median 3.
    assert!((t[2] - 2.7).abs() < 1e-12, "{t:?}");
    let iso = [[1.0, 1.0, 1.2], [1.0, 1.0, 1.4], [1.0, 1.0, 1.3]];
    assert_eq!(plan_target_spacing(&iso), [1.0, 1.0, 1.3]);
}

#[test]
fn crop_removes_the_air_border_and_keeps_the_label() {
    let c = case("a");
    let cfg = PreprocessConfig::default();
    let p = preprocess_case(&c, &cfg, [0.5, 0.5, 3.0]).unwrap();
    // The body box, widened by nothing: the ellipsoid (i 10..31, j 10..27, k 2..7) lies inside it.
    assert_eq!(p.crop, ([4, 3, 1], [36, 33, 7]));
    assert_eq!(p.dims, [32, 30, 6]);
    assert_eq!(p.image.len(), 32 * 30 * 6);
    let n_fg = |l: &[u8]| l.iter().filter(|&&v| v != 0).count();
    assert_eq!(n_fg(&p.label), n_fg(&c.label.data));
    // Without cropping the full grid is kept.
    let full = preprocess_case(
        &c,
        &PreprocessConfig {
            crop_to_nonzero: false,
            ..cfg
        },
        [0.5, 0.5, 3.0],
    )
    .unwrap();
    assert_eq!(full.crop, ([0; 3], [40, 36, 8]));
}

#[test]
fn z_score_is_standard_inside_the_body() {
    let c = case("a");
    let cfg = PreprocessConfig {
        crop_to_nonzero: false,
        ..Default::default()
    };
    let p = preprocess_case(&c, &cfg, [0.5, 0.5, 3.0]).unwrap();
    let body: Vec<f64> = p
        .image
        .iter()
        .zip(&c.image.data)
        .filter(|(_, raw)| **raw > 0.0)
        .map(|(z, _)| *z as f64)
        .collect();
    let mean = body.iter().sum::<f64>() / body.len() as f64;
    let sd = (body.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / body.len() as f64).sqrt();
    assert!(
        mean.abs() < 1e-4 && (sd - 1.0).abs() < 1e-4,
        "mean {mean} sd {sd}"
    );
    // Air lies far below the body mean.
    assert!(p.image[0] < -2.0);
}

#[test]
fn class_locations_point_at_their_class() {
    let c = case("a");
    let cfg = PreprocessConfig {
        max_class_locations: 50,
        ..Default::default()
    };
    let p = preprocess_case(&c, &cfg, [0.5, 0.5, 3.0]).unwrap();
    assert_eq!(p.class_locations.len(), 3);
    assert!(p.class_locations[0].is_empty());
    for class in 1..3u8 {
        let locs = &p.class_locations[class as usize];
        assert_eq!(locs.len(), 50);
        assert!(locs.iter().all(|&n| p.label[n as usize] == class));
    }
}

#[test]
fn restore_brings_one_hot_labels_back_to_the_native_grid() {
    let c = case("a");
    let cfg = PreprocessConfig::default();
    let target = [0.4, 0.4, 2.0];
    let p = preprocess_case(&c, &cfg, target).unwrap();
    let (img, geom) = preprocess_image(&c.image, &cfg, target).unwrap();
    assert_eq!(geom, p.geometry());
    assert_eq!(img, p.image);
    assert_eq!(p.dims, [40, 38, 9]); // 32×30×6 voxels of 0.5×0.5×3 mm at ~0.4×0.4×2 mm
    let probs: Vec<Vec<f32>> = (0..3u8)
        .map(|k| {
            p.label
                .iter()
                .map(|&v| if v == k { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    let back = restore_to_original(&probs, &geom);
    assert!(back.iter().all(|ch| ch.len() == 40 * 36 * 8));
    let agree = (0..back[0].len())
        .filter(|&n| {
            let best = (0..3)
                .max_by(|&a, &b| back[a][n].total_cmp(&back[b][n]))
                .unwrap();
            best == c.label.data[n] as usize
        })
        .count();
    assert!(
        agree as f64 >= 0.99 * back[0].len() as f64,
        "{agree} of {}",
        back[0].len()
    );
}
