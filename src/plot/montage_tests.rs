//! Tests of the montage: display orientation from the affine, physical aspect, overlays, layout.

use super::*;
use crate::data::{Affine, Volume};

/// A dark volume with a bright 2×2 block at in-plane voxel `(i0.., j0..)` on every slice.
fn marked(dims: [usize; 3], spacing: [f64; 3], affine: Affine, i0: usize, j0: usize) -> Image {
    let mut v: Image = Volume::zeros(dims, spacing, affine);
    v.spacing = spacing;
    for k in 0..dims[2] {
        for j in j0..j0 + 2 {
            for i in i0..i0 + 2 {
                v.set(i, j, k, 1000.0);
            }
        }
    }
    v
}

/// Which quadrant (row, col: 0 = top/left) holds the bright grey pixels of a tile.
fn bright_quadrant(c: &Canvas) -> (usize, usize) {
    let mut sums = [[0u64; 2]; 2];
    for y in 0..c.height() as i64 {
        for x in 0..c.width() as i64 {
            let p = c.get(x, y).unwrap();
            if p[0] > 200 && p[0] == p[1] && p[1] == p[2] {
                sums[(2 * y as u64 / c.height() as u64) as usize]
                    [(2 * x as u64 / c.width() as u64) as usize] += 1;
            }
        }
    }
    let best = (0..4).max_by_key(|&q| sums[q / 2][q % 2]).unwrap();
    assert!(sums[best / 2][best % 2] > 0, "no bright pixels");
    (best / 2, best % 2)
}

#[test]
fn ras_affine_puts_patient_left_anterior_top_right() {
    // RAS identity: i grows towards patient right, j towards anterior; left-anterior = (0, ny-1).
    let img = marked([8, 6, 2], [1.0; 3], Affine::identity(), 0, 4);
    let tile = render_tile(&img, &[], 1, 64, (0.0, 1000.0), 1);
    assert_eq!(bright_quadrant(&tile), (0, 1));
}

#[test]
fn lps_affine_puts_patient_left_anterior_top_right() {
    // DICOM order: i grows towards patient left, j towards posterior; left-anterior = (nx-1, 0).
    let eye = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let img = marked([8, 6, 1], [1.0; 3], Affine::from_lps(eye, [0.0; 3]), 6, 0);
    let tile = render_tile(&img, &[], 0, 64, (0.0, 1000.0), 1);
    assert_eq!(bright_quadrant(&tile), (0, 1));
}

#[test]
fn transposed_affine_is_swapped_back() {
    // i grows anteriorly, j towards patient right: left-anterior = (nx-1, 0), shown horizontally by j.
    let mut a = Affine::identity();
    a.0[0] = [0.0, 1.0, 0.0, 0.0];
    a.0[1] = [1.0, 0.0, 0.0, 0.0];
    let img = marked([8, 6, 1], [1.0; 3], a, 6, 0);
    let tile = render_tile(&img, &[], 0, 64, (0.0, 1000.0), 1);
    assert_eq!(bright_quadrant(&tile), (0, 1));
    // Horizontal axis is j (6 voxels), vertical is i (8 voxels).
    assert_eq!((tile.width(), tile.height()), (48, 64));
}

#[test]
fn anisotropic_spacing_keeps_physical_aspect() {
    let img = marked(
        [10, 10, 1],
        [0.5, 1.0, 3.0],
        Affine::from_spacing_origin([0.5, 1.0, 3.0], [0.0; 3]),
        0,
        0,
    );
    let tile = render_tile(&img, &[], 0, 100, (0.0, 1000.0), 1);
    assert_eq!((tile.width(), tile.height()), (50, 100));
}

#[test]
fn overlays_fill_and_outline() {
    let img = marked([20, 20, 1], [1.0; 3], Affine::identity(), 0, 0);
    let mut lab: LabelMap = img.same_grid();
    for j in 5..15 {
        for i in 5..15 {
            lab.set(i, j, 0, if i < 10 { 1 } else { 2 });
        }
    }
    // 20 voxels → 100 px: 5 px per voxel; region spans display 25..75 in both directions.
    let fill = render_tile(&img, &[(&lab, Style::Fill(1.0))], 0, 100, (0.0, 1000.0), 1);
    let centre_left = fill.get(35, 50).unwrap();
    let centre_right = fill.get(65, 50).unwrap();
    // i < 10 is patient right → screen right (x flipped): label 1 on the right, label 2 on the left.
    assert_eq!(centre_right, label_color(1));
    assert_eq!(centre_left, label_color(2));
    let contour = render_tile(&img, &[(&lab, Style::Contour)], 0, 100, (0.0, 1000.0), 1);
    assert_eq!(contour.get(35, 50), Some(BLACK), "interior not filled");
    assert_eq!(
        contour.get(25, 50),
        Some(label_color(2)),
        "left edge outlined"
    );
    render_tile(
        &img,
        &[
            (&lab, Style::DashedContour),
            (&lab, Style::FillContour(0.3)),
        ],
        0,
        100,
        (0.0, 1000.0),
        2,
    );
}

#[test]
fn montage_layout_errors_and_slices() {
    let img = marked(
        [16, 12, 6],
        [0.5, 0.5, 3.0],
        Affine::from_spacing_origin([0.5, 0.5, 3.0], [0.0; 3]),
        2,
        2,
    );
    let mut lab: LabelMap = img.same_grid();
    for k in 2..5 {
        lab.set(4, 4, k, 1);
        lab.set(5, 5, k, 2);
    }
    assert_eq!(spread_slices(&lab, 3), vec![2, 3, 4]);
    assert_eq!(spread_slices(&lab, 2), vec![2, 4]);
    assert_eq!(spread_slices(&img.same_grid::<u8>(), 2), vec![0, 5]);
    let opts = MontageOptions {
        title: "case 1".into(),
        label_names: vec![(1, "peripheral zone".into()), (2, "central gland".into())],
        overlay_names: vec!["reference".into()],
        tile_px: 64,
        ..Default::default()
    };
    let c = axial_montage(&img, &[(&lab, Style::Fill(0.5))], &[2, 3, 4, 5], &opts).unwrap();
    // 2×2 grid of 64-px tiles plus captions and legend.
    assert!(c.width() >= 128 && c.height() >= 128);
    assert!(
        c.pixels().chunks_exact(3).any(|p| p == label_color(2)),
        "legend swatch"
    );
    assert!(axial_montage(&img, &[], &[6], &opts).is_err());
    let other: LabelMap = Volume::zeros([3, 3, 3], [1.0; 3], Affine::identity());
    assert!(axial_montage(&img, &[(&other, Style::Contour)], &[0], &opts).is_err());
    axial_montage(&img, &[], &[], &opts).unwrap();
}

#[test]
fn palette_is_fixed_and_distinct() {
    assert_eq!(label_color(1), [255, 140, 0]);
    assert_eq!(label_color(2), [0, 200, 255]);
    let first: Vec<Rgb> = (1..=10).map(label_color).collect();
    for a in 0..first.len() {
        for b in a + 1..first.len() {
            assert_ne!(first[a], first[b]);
        }
    }
}
