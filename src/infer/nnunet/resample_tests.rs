//! Resampling against values computed by skimage 0.26 / nnunetv2 2.8.1 (the Python that made
//! them is in the comments), and the separate-axis rule.

use super::*;

/// `np.fromfunction(lambda i,j,k: np.sin(i*1.3+0.2)+np.cos(j*0.7)*(k+1)-0.1*i*k, (3,5,4))`
fn sample() -> Array3<f64> {
    let shape = [3, 5, 4];
    let mut data = Vec::new();
    for i in 0..3 {
        for j in 0..5 {
            for k in 0..4 {
                let (i, j, k) = (i as f64, j as f64, k as f64);
                data.push((i * 1.3 + 0.2).sin() + (j * 0.7).cos() * (k + 1.0) - 0.1 * i * k);
            }
        }
    }
    Array3::from_vec(shape, data)
}

fn at(a: &Array3<f64>, i: [usize; 3]) -> f64 {
    a.data[a.offset(i)]
}

#[test]
fn resize_matches_skimage_for_orders_0_1_3() {
    // resize(a, (5,3,7), order=o, mode='edge', anti_aliasing=False): sum, r[0,0,0], r[4,2,6], r[2,1,3]
    let expected = [
        (
            0,
            [
                47.35804111946817,
                1.1986693307950613,
                -4.033901212518728,
                1.3073964153047777,
            ],
        ),
        (
            1,
            [
                65.71190939665348,
                1.1202833932232241,
                -3.450732897760327,
                1.272412843854657,
            ],
        ),
        (
            3,
            [
                63.39427087070941,
                1.0043359171226707,
                -3.8228314976127353,
                1.2724128438546576,
            ],
        ),
    ];
    for (order, want) in expected {
        let r = resize(&sample(), [5, 3, 7], order);
        let got = [
            r.data.iter().sum::<f64>(),
            at(&r, [0, 0, 0]),
            at(&r, [4, 2, 6]),
            at(&r, [2, 1, 3]),
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "order {order}: {got:?} vs {want:?}");
        }
    }
}

#[test]
fn anisotropic_spacing_resamples_the_coarse_axis_separately() {
    // resample_data_or_seg_to_shape(a[None].astype(float32), (6,6,5), (4,1,1), (2,0.8,0.8),
    //   is_seg=False, order=3, order_z=0, force_separate_z=None) (float32 result)
    let a = sample().map(|v| v as f32 as f64);
    let kw = ResampleKwargs {
        order: 3,
        order_z: 0,
        force_separate_z: None,
    };
    let r =
        resample_channel(&a, [6, 6, 5], [4.0, 1.0, 1.0], [2.0, 0.8, 0.8], &kw).map(|v| v as f32);
    let sum: f64 = r.data.iter().map(|&v| v as f64).sum();
    assert!((sum - 109.0536243475508).abs() < 1e-4, "{sum}");
    assert_eq!(r.data[r.offset([0, 0, 0])], 1.161203145980835);
    assert_eq!(r.data[r.offset([5, 5, 4])], -4.033901214599609);
    assert_eq!(r.data[r.offset([3, 2, 1])], 1.67326819896698);
}

#[test]
fn separate_axis_follows_nnunet_rules() {
    assert_eq!(
        separate_axis(None, [4.0, 1.0, 1.0], [2.0, 1.0, 1.0]),
        Some(0)
    );
    // Current isotropic, target anisotropic: the target decides.
    assert_eq!(
        separate_axis(None, [1.0, 1.0, 1.0], [1.0, 1.0, 3.5]),
        Some(2)
    );
    // Ratio exactly 3 is not anisotropic.
    assert_eq!(separate_axis(None, [3.0, 1.0, 1.0], [3.0, 1.0, 1.0]), None);
    // Two equally coarse axes: no separate axis.
    assert_eq!(
        separate_axis(None, [0.24, 1.25, 1.25], [0.24, 1.25, 1.25]),
        None
    );
    assert_eq!(
        separate_axis(Some(false), [5.0, 1.0, 1.0], [5.0, 1.0, 1.0]),
        None
    );
    assert_eq!(
        separate_axis(Some(true), [1.0, 2.0, 1.0], [1.0, 1.0, 1.0]),
        Some(1)
    );
}

#[test]
fn same_shape_is_returned_unchanged() {
    let a = sample();
    let kw = ResampleKwargs {
        order: 3,
        order_z: 0,
        force_separate_z: None,
    };
    assert_eq!(resample_channel(&a, a.shape, [1.0; 3], [2.0; 3], &kw), a);
}
