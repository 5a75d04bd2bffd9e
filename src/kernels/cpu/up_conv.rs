//! The decoder's up-convolution (a transposed convolution with stride = kernel) on the CPU,
//! forward and backward, straight on the NCDHW buffers.
//!
//! Every input voxel owns its own `kd×kh×kw` output block, so per sample the forward is one
//! matrix product `Y[co·K, voxels] = Wᵀ[co·K, ci] · X[ci, voxels]` (`X` read in place, no
//! channels-last copy) followed by a scatter of each column into its block. The backward gathers
//! `dY` the same way, then `dX = W · dY` and `dW = X · dYᵀ`. Column blocks of the voxels are split
//! between threads (each with its own partial `dW`, summed in a fixed order). The portable
//! [`up_conv3d`](crate::model::up_conv3d) (a permute, a matmul and a reshuffle, with burn's
//! autodiff) cost 2–3× PyTorch's transposed convolution in `unet3d bench --profile`'s training
//! step; it stays as the reference the tests compare against.

use rayon::prelude::*;

use super::shared_out::SharedOut;

use super::weight_grad::sum_halves;

/// Shapes of one up-convolution: input `[n, ci, d, h, w]`, kernel `[kd, kh, kw]`, `co` outputs.
#[derive(Clone, Copy, Debug)]
pub struct UpConvShape {
    pub x: [usize; 5],
    pub co: usize,
    pub kernel: [usize; 3],
}

impl UpConvShape {
    fn voxels(&self) -> usize {
        self.x[2] * self.x[3] * self.x[4]
    }

    /// Rows of the product: `co·kd·kh·kw`.
    fn rows(&self) -> usize {
        self.co * self.kernel.iter().product::<usize>()
    }

    /// Columns (input voxels) per work item, so one item's `[cols, rows]` block is ≤ 256 KiB.
    fn cols(&self) -> usize {
        (65536 / self.rows().max(1))
            .max(16)
            .min(self.voxels().max(1))
    }

    /// Work items `(sample, first column)`.
    fn items(&self) -> Vec<(usize, usize)> {
        let (v, cols) = (self.voxels(), self.cols());
        (0..self.x[0])
            .flat_map(|s| (0..v.div_ceil(cols)).map(move |b| (s, b * cols)))
            .collect()
    }

    /// Output shape `[n, co, d·kd, h·kh, w·kw]`.
    pub fn output(&self) -> [usize; 5] {
        let [n, _, d, h, w] = self.x;
        let [kd, kh, kw] = self.kernel;
        [n, self.co, d * kd, h * kh, w * kw]
    }

    /// Output offsets: of each product row `r = (o, kz, ky, kx)` within a sample, and of each
    /// input voxel's block corner within sample `s`, so that row `r` of voxel `c` lands at
    /// `col[c] + row[r]`.
    fn offsets(&self, s: usize) -> (Vec<usize>, Vec<usize>) {
        let [_, _, d, h, w] = self.x;
        let [kd, kh, kw] = self.kernel;
        let (w2, hw2) = (w * kw, h * kh * w * kw);
        let plane2 = d * kd * hw2;
        let mut row = Vec::with_capacity(self.rows());
        for o in 0..self.co {
            for kz in 0..kd {
                for ky in 0..kh {
                    for kx in 0..kw {
                        row.push(o * plane2 + kz * hw2 + ky * w2 + kx);
                    }
                }
            }
        }
        let mut col = Vec::with_capacity(self.voxels());
        let first = s * self.co * plane2;
        for z in 0..d {
            for y in 0..h {
                for x in 0..w {
                    col.push(first + z * kd * hw2 + y * kh * w2 + x * kw);
                }
            }
        }
        (row, col)
    }
}

/// `y = conv_transpose3d(x, weight) + bias` with stride = kernel.
///
/// # Shapes
/// - `x`: `shape.x` contiguous; `weight`: `[ci, co, kd, kh, kw]`; `bias`: `[co]`
/// - returns `shape.output()`, contiguous
///
/// # Panics
/// If the buffer lengths do not match the shapes (caller bugs).
pub fn up_conv_forward(x: &[f32], weight: &[f32], bias: &[f32], shape: UpConvShape) -> Vec<f32> {
    let [n, ci, ..] = shape.x;
    let (v, m) = (shape.voxels(), shape.rows());
    assert_eq!(x.len(), n * ci * v, "x buffer does not match its shape");
    assert_eq!(
        weight.len(),
        ci * m,
        "weight buffer does not match its shape"
    );
    assert_eq!(bias.len(), shape.co, "bias does not match the weight");
    let mut y = vec![0f32; n * m * v];
    let out = SharedOut::new(y.as_mut_ptr());
    let kk = m / shape.co.max(1);
    let offsets: Vec<_> = (0..n).map(|s| shape.offsets(s)).collect();
    shape.items().into_par_iter().for_each(|(s, c0)| {
        let nc = shape.cols().min(v - c0);
        let (row, col) = (&offsets[s].0, &offsets[s].1[c0..c0 + nc]);
        let mut block = vec![0f32; m * nc];
        // block(r, j) at r·nc + j = Σ_i weight[i·m + r] · x[s, i, c0 + j]
        // SAFETY: every pointer and stride stays inside its buffer (sizes asserted above).
        unsafe {
            gemm::gemm(
                m,
                nc,
                ci,
                block.as_mut_ptr(),
                1,
                nc as isize,
                false,
                weight.as_ptr(),
                m as isize,
                1,
                x.as_ptr().add(s * ci * v + c0),
                1,
                v as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        for (r, vals) in block.chunks_exact(nc).enumerate() {
            let (at, b) = (row[r], bias[r / kk]);
            for (&c, &val) in col.iter().zip(vals) {
                // SAFETY: each input voxel's block of outputs belongs to this item alone.
                unsafe { *out.ptr().add(c + at) = val + b };
            }
        }
    });
    y
}

/// Gradients of [`up_conv_forward`] for the upstream gradient `dy`: `(dx, dweight, dbias)`.
pub fn up_conv_backward(
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    shape: UpConvShape,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let [n, ci, ..] = shape.x;
    let (v, m, co) = (shape.voxels(), shape.rows(), shape.co);
    assert_eq!(dy.len(), n * m * v, "dy buffer does not match its shape");
    let kk = m / co.max(1);
    let mut dx = vec![0f32; n * ci * v];
    let dx_out = SharedOut::new(dx.as_mut_ptr());
    let items = shape.items();
    let offsets: Vec<_> = (0..n).map(|s| shape.offsets(s)).collect();
    let per_task = items
        .len()
        .div_ceil(rayon::current_num_threads().max(1) * 2)
        .max(1);
    let partial: Vec<Vec<f32>> = items
        .par_chunks(per_task)
        .map(|group| {
            // [dW (ci·m) | dbias (co)]
            let mut part = vec![0f32; ci * m + co];
            for &(s, c0) in group {
                let nc = shape.cols().min(v - c0);
                let (row, col) = (&offsets[s].0, &offsets[s].1[c0..c0 + nc]);
                let mut g = vec![0f32; m * nc]; // g(r, j) at r·nc + j
                for (r, vals) in g.chunks_exact_mut(nc).enumerate() {
                    let at = row[r];
                    let mut sum = 0f32;
                    for (&c, val) in col.iter().zip(vals.iter_mut()) {
                        *val = dy[c + at];
                        sum += *val;
                    }
                    part[ci * m + r / kk] += sum;
                }
                // SAFETY: pointers and strides inside their buffers; this item alone writes
                // dx[s, :, c0..c0 + nc].
                unsafe {
                    // dx(i, j) = Σ_r weight[i·m + r] · g(r, j)
                    gemm::gemm(
                        ci,
                        nc,
                        m,
                        dx_out.ptr().add(s * ci * v + c0),
                        1,
                        v as isize,
                        false,
                        weight.as_ptr(),
                        1,
                        m as isize,
                        g.as_ptr(),
                        1,
                        nc as isize,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                    // dW(i, r) += Σ_j x[s, i, c0 + j] · g(r, j)
                    gemm::gemm(
                        ci,
                        m,
                        nc,
                        part.as_mut_ptr(),
                        1,
                        m as isize,
                        true,
                        x.as_ptr().add(s * ci * v + c0),
                        1,
                        v as isize,
                        g.as_ptr(),
                        nc as isize,
                        1,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
            part
        })
        .collect();
    if partial.is_empty() {
        return (dx, vec![0.0; ci * m], vec![0.0; co]);
    }
    let mut sum = sum_halves(&partial);
    let dbias = sum.split_off(ci * m);
    (dx, sum, dbias)
}
