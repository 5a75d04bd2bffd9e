//! nnU-Net's resampling (`resample_data_or_seg_to_shape`), reproduced to rounding:
//! `skimage.transform.resize(order, mode="edge", anti_aliasing=False)` (= `scipy.ndimage.zoom`
//! with `grid_mode=True`, `mode="nearest"`) per channel, or, when the spacing is anisotropic
//! (max/min > 3), 2-D resizing of every slice across the coarse axis followed by nearest-
//! neighbour selection along it. Everything is computed in f64 as numpy does.
//!
//! The tensor-product spline is evaluated one axis at a time: every step (edge padding, the
//! B-spline prefilter, the interpolation) acts on lines along one axis, so the axes commute and
//! each pass needs one extra array instead of a padded copy of the whole volume.

use serde::{Deserialize, Serialize};

use super::array::Array3;

/// nnU-Net's `ANISO_THRESHOLD`: spacing ratios above it are resampled with a separate z axis.
pub const ANISO_THRESHOLD: f64 = 3.0;

/// scipy pads by this many edge voxels before the spline prefilter (`_prepad_for_spline_filter`).
const SPLINE_PAD: usize = 12;

/// `resampling_fn_*_kwargs` of nnU-Net's plans.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResampleKwargs {
    /// Spline order in-plane (3 for images, 1 for probabilities).
    pub order: u8,
    /// Order along a separate coarse axis (0 in every default plan).
    pub order_z: u8,
    /// `None`: decide from the spacings (see [`separate_axis`]).
    pub force_separate_z: Option<bool>,
}

/// nnU-Net's `determine_do_sep_z_and_axis`: the axis to resample separately, if any. The
/// current spacing is asked first, then the new one; two or three equally coarse axes mean none.
pub fn separate_axis(force: Option<bool>, current: [f64; 3], new: [f64; 3]) -> Option<usize> {
    let aniso = |s: [f64; 3]| max3(s) / min3(s) > ANISO_THRESHOLD;
    let lowres = |s: [f64; 3]| -> Vec<usize> {
        let m = max3(s);
        (0..3).filter(|&i| m / s[i] == 1.0).collect()
    };
    let axes = match force {
        Some(false) => return None,
        Some(true) => lowres(current),
        None if aniso(current) => lowres(current),
        None if aniso(new) => lowres(new),
        None => return None,
    };
    (axes.len() == 1).then(|| axes[0])
}

fn max3(s: [f64; 3]) -> f64 {
    s[0].max(s[1]).max(s[2])
}

fn min3(s: [f64; 3]) -> f64 {
    s[0].min(s[1]).min(s[2])
}

/// One channel to `new_shape` as `resample_data_or_seg(is_seg=False)`: unchanged when the shape
/// already is `new_shape`, else resized in f64 (the caller casts back to its dtype).
pub fn resample_channel(
    data: &Array3<f64>,
    new_shape: [usize; 3],
    current_spacing: [f64; 3],
    new_spacing: [f64; 3],
    kw: &ResampleKwargs,
) -> Array3<f64> {
    if data.shape == new_shape {
        return data.clone();
    }
    match separate_axis(kw.force_separate_z, current_spacing, new_spacing) {
        None => resize(data, new_shape, kw.order),
        Some(axis) => resample_separate(data, new_shape, axis, kw),
    }
}

/// Slices across `axis` resized in 2-D (each clipped to its own range), then the slices chosen
/// by nearest neighbour (`order_z` 0) or blended linearly (`order_z` 1) along `axis`.
fn resample_separate(
    data: &Array3<f64>,
    new_shape: [usize; 3],
    axis: usize,
    kw: &ResampleKwargs,
) -> Array3<f64> {
    let mut tmp_shape = new_shape;
    tmp_shape[axis] = data.shape[axis];
    let mut tmp = Array3::zeros(tmp_shape);
    let mut slice_shape = new_shape;
    slice_shape[axis] = 1;
    for k in 0..data.shape[axis] {
        let resized = resize(&data.slice(axis, k), slice_shape, kw.order);
        tmp.set_slice(axis, k, &resized);
    }
    if data.shape[axis] == new_shape[axis] {
        return tmp;
    }
    // map_coordinates along the axis only (the other coordinates are the identity).
    let order = if kw.order_z == 0 { 0 } else { 1 };
    resize_axis(&tmp, axis, new_shape[axis], order)
}

/// `skimage.transform.resize(a, new_shape, order, mode="edge", anti_aliasing=False)` for
/// orders 0, 1 and 3, including its final clip to the input's range.
pub fn resize(a: &Array3<f64>, new_shape: [usize; 3], order: u8) -> Array3<f64> {
    let (lo, hi) = a
        .data
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let mut out = a.clone();
    for axis in 0..3 {
        if out.shape[axis] != new_shape[axis] {
            out = resize_axis(&out, axis, new_shape[axis], order);
        }
    }
    if !a.is_empty() {
        out.data.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
    }
    out
}

/// Resizes every line along `axis` to `new_len` (grid mode: pixel centres at `i + 0.5`).
fn resize_axis(a: &Array3<f64>, axis: usize, new_len: usize, order: u8) -> Array3<f64> {
    let mut shape = a.shape;
    let old_len = shape[axis];
    shape[axis] = new_len;
    let mut out = Array3::zeros(shape);
    let stride_in = [a.shape[1] * a.shape[2], a.shape[2], 1][axis];
    let stride_out = [shape[1] * shape[2], shape[2], 1][axis];
    let plan = LinePlan::new(old_len, new_len, order);
    let mut line = vec![0.0; old_len];
    let mut result = vec![0.0; new_len];
    let (o0, o1) = match axis {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    for i in 0..a.shape[o0] {
        for j in 0..a.shape[o1] {
            let mut idx = [0; 3];
            idx[o0] = i;
            idx[o1] = j;
            let start_in = a.offset(idx);
            let start_out = out.offset(idx);
            for (k, v) in line.iter_mut().enumerate() {
                *v = a.data[start_in + k * stride_in];
            }
            plan.apply(&line, &mut result);
            for (k, &v) in result.iter().enumerate() {
                out.data[start_out + k * stride_out] = v;
            }
        }
    }
    out
}

/// The taps and weights of every output position of one line length change.
struct LinePlan {
    order: u8,
    old_len: usize,
    /// Per output position: first tap (into the padded line for order 3) and weights.
    taps: Vec<(usize, [f64; 4])>,
}

impl LinePlan {
    fn new(old_len: usize, new_len: usize, order: u8) -> Self {
        let zoom = old_len as f64 / new_len as f64;
        let taps = (0..new_len)
            .map(|o| {
                let cc = (o as f64 + 0.5) * zoom - 0.5;
                match order {
                    0 => {
                        let i = clamp((cc + 0.5).floor(), old_len);
                        (i, [1.0, 0.0, 0.0, 0.0])
                    }
                    1 => {
                        let f = cc.floor();
                        let x = cc - f;
                        // Both taps clamped: store the first; the second is first+1 clamped.
                        let i0 = f as i64;
                        let w = if i0 < 0 {
                            [1.0, 0.0, 0.0, 0.0]
                        } else {
                            [1.0 - x, x, 0.0, 0.0]
                        };
                        (clamp(f, old_len), w)
                    }
                    _ => {
                        let cc = cc + SPLINE_PAD as f64;
                        let f = cc.floor();
                        let x = cc - f;
                        let w0 = (1.0 - x).powi(3) / 6.0;
                        let w1 = (x * x * (x - 2.0) * 3.0 + 4.0) / 6.0;
                        let y = 1.0 - x;
                        let w2 = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
                        let w3 = 1.0 - w0 - w1 - w2;
                        // Taps floor(cc) − 1 … + 2, within the padded line (always, as the pad is
                        // 12 voxels and |cc − 12| stays within the line).
                        ((f as i64 - 1).max(0) as usize, [w0, w1, w2, w3])
                    }
                }
            })
            .collect();
        LinePlan {
            order,
            old_len,
            taps,
        }
    }

    fn apply(&self, line: &[f64], out: &mut [f64]) {
        match self.order {
            0 => {
                for (o, &(i, _)) in self.taps.iter().enumerate() {
                    out[o] = line[i];
                }
            }
            1 => {
                let last = self.old_len - 1;
                for (o, &(i, w)) in self.taps.iter().enumerate() {
                    out[o] = line[i] * w[0] + line[(i + 1).min(last)] * w[1];
                }
            }
            _ => {
                let coeffs = spline_coefficients(line);
                let last = coeffs.len() - 1;
                for (o, &(i, w)) in self.taps.iter().enumerate() {
                    out[o] = (0..4).map(|k| coeffs[(i + k).min(last)] * w[k]).sum();
                }
            }
        }
    }
}

fn clamp(v: f64, len: usize) -> usize {
    if v <= 0.0 {
        0
    } else {
        (v as usize).min(len - 1)
    }
}

/// The cubic B-spline coefficients of `line` edge-padded by [`SPLINE_PAD`] on both sides, as
/// scipy's `spline_filter1d(order=3, mode="nearest")` computes them (gain, causal and
/// anti-causal recursions with the "reflect" initialisations).
fn spline_coefficients(line: &[f64]) -> Vec<f64> {
    let n = line.len() + 2 * SPLINE_PAD;
    let mut c = Vec::with_capacity(n);
    c.extend(std::iter::repeat_n(line[0], SPLINE_PAD));
    c.extend_from_slice(line);
    c.extend(std::iter::repeat_n(line[line.len() - 1], SPLINE_PAD));
    let z: f64 = 3.0f64.sqrt() - 2.0;
    let gain = (1.0 - z) * (1.0 - 1.0 / z);
    c.iter_mut().for_each(|v| *v *= gain);
    // Causal initialisation (_init_causal_reflect).
    let z_n = z.powi(n as i32);
    let c0 = c[0];
    let mut sum = c[0] + z_n * c[n - 1];
    let mut zi = z;
    for i in 1..n {
        sum += zi * (c[i] + z_n * c[n - 1 - i]);
        zi *= z;
    }
    sum *= z / (1.0 - z_n * z_n);
    c[0] = sum + c0;
    for i in 1..n {
        c[i] += z * c[i - 1];
    }
    // Anti-causal initialisation (_init_anticausal_reflect).
    c[n - 1] *= z / (z - 1.0);
    for i in (0..n - 1).rev() {
        c[i] = z * (c[i + 1] - c[i]);
    }
    c
}

#[cfg(test)]
#[path = "resample_tests.rs"]
mod tests;
