//! The padded-line layout shared by the direct convolutions and weight gradients: zero-padding
//! volumes onto lines, each tap's offset along the line, and weights repacked in channel blocks.

use rayon::prelude::*;

/// `planes` volumes `[d, h, w]` (contiguous in `src`) on padded lines `stride` apart: voxel
/// `(z, y, x)` of a plane at `(z + p)·Sz + (y + p)·Sy + p + x`, zeros everywhere else.
pub fn pad_volume(
    src: &[f32],
    planes: usize,
    [d, h, w]: [usize; 3],
    p: usize,
    [sz, sy]: [usize; 2],
    stride: usize,
) -> Vec<f32> {
    let mut out = vec![0f32; planes * stride];
    let plane = d * h * w;
    if plane == 0 {
        return out;
    }
    out.par_chunks_mut(stride)
        .zip(src.par_chunks(plane))
        .for_each(|(dst, src)| {
            for z in 0..d {
                for r in 0..h {
                    let at = (z + p) * sz + (r + p) * sy + p;
                    dst[at..at + w].copy_from_slice(&src[(z * h + r) * w..][..w]);
                }
            }
        });
    out
}

/// Offset along a padded line (strides `[Sz, Sy]`) of each tap of a k×k×k kernel, tap
/// `(a·k + b)·k + c` at `a·Sz + b·Sy + c`.
pub fn tap_offsets(k: usize, [sz, sy]: [usize; 2]) -> Vec<usize> {
    (0..k * k * k)
        .map(|t| (t / (k * k)) * sz + (t / k % k) * sy + t % k)
        .collect()
}

/// `weight` (`[co, ci, taps]`) as `[co / block][ci][taps][block]`: each tap's weights for a block
/// of `block` output channels contiguous, zero for channels beyond `co`.
pub fn repack_weights(weight: &[f32], co: usize, ci: usize, taps: usize, block: usize) -> Vec<f32> {
    let mut wb = vec![0f32; co.div_ceil(block) * ci * taps * block];
    for o in 0..co {
        for i in 0..ci {
            for t in 0..taps {
                wb[((o / block * ci + i) * taps + t) * block + o % block] =
                    weight[(o * ci + i) * taps + t];
            }
        }
    }
    wb
}
