//! Zero-padding volumes onto padded lines, shared by the direct convolutions and weight gradients.

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
