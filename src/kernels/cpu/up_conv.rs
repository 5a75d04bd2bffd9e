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

    /// Flat index in the output of sample `s`, product row `r = (o, kz, ky, kx)` and input
    /// voxel `c`.
    fn out_index(&self, s: usize, r: usize, c: usize) -> usize {
        let [_, _, d, h, w] = self.x;
        let [kd, kh, kw] = self.kernel;
        let (o, kz, ky, kx) = (r / (kd * kh * kw), r / (kh * kw) % kd, r / kw % kh, r % kw);
        let (z, y, x) = (c / (h * w), c / w % h, c % w);
        (((s * self.co + o) * d * kd + z * kd + kz) * h * kh + y * kh + ky) * w * kw + x * kw + kx
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
    let out = SharedOut(y.as_mut_ptr());
    let kk = m / shape.co.max(1);
    shape.items().into_par_iter().for_each(|(s, c0)| {
        let nc = shape.cols().min(v - c0);
        let mut block = vec![0f32; nc * m];
        // block(r, j) at j·m + r = Σ_i weight[i·m + r] · x[s, i, c0 + j]
        // SAFETY: every pointer and stride stays inside its buffer (sizes asserted above).
        unsafe {
            gemm::gemm(
                m,
                nc,
                ci,
                block.as_mut_ptr(),
                m as isize,
                1,
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
        for (j, col) in block.chunks_exact(m).enumerate() {
            for (r, &val) in col.iter().enumerate() {
                // SAFETY: each input voxel's block of outputs belongs to this item alone.
                unsafe { *out.ptr().add(shape.out_index(s, r, c0 + j)) = val + bias[r / kk] };
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
    let dx_out = SharedOut(dx.as_mut_ptr());
    let items = shape.items();
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
                let mut g = vec![0f32; nc * m]; // g(r, j) at j·m + r
                for (j, col) in g.chunks_exact_mut(m).enumerate() {
                    for (r, val) in col.iter_mut().enumerate() {
                        *val = dy[shape.out_index(s, r, c0 + j)];
                        part[ci * m + r / kk] += *val;
                    }
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
                        m as isize,
                        1,
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
                        1,
                        m as isize,
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

/// An output buffer written by the work items in parallel at disjoint positions.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);

// SAFETY: only used for writes to disjoint positions (see the functions above).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// The pointer (a method, so closures capture the whole `Send` wrapper, not its field).
    fn ptr(&self) -> *mut f32 {
        self.0
    }
}
