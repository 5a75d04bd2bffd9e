//! Sums and means over several axes, reduced one axis at a time.
//!
//! Why: on wgpu, burn 0.22.1's reductions over one long axis (cubecl's reduce) silently drop
//! elements once the axis is longer than about 65 535 lines — summing 65 537 ones gives 65 532,
//! 400 000 ones (4-wide lines) give 262 128 (measured on lavapipe; 65 535 is also the WebGPU
//! limit on workgroups per dimension, so GPUs are not assumed safe). burn's multi-axis
//! reductions, its InstanceNorm (a group norm over the flattened volume) and `batch_norm_train`
//! merge every voxel into one such axis, so at the small preset's 2×16×96×96 batch their
//! statistics were wrong. A patch's single axes stay far below that length, so reducing z, y, x
//! (and the batch) separately gives the exact result on every backend; the autodiff backward of
//! each step is a broadcast. The order of summation differs from a flat sum only by rounding.

use burn::prelude::*;

/// Sum over `axes` (kept as size-1 axes), one axis at a time, last axis first.
pub fn sum_axes<const D: usize>(x: Tensor<D>, axes: &[usize]) -> Tensor<D> {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    sorted.into_iter().fold(x, |acc, axis| acc.sum_dim(axis))
}

/// Mean over `axes` (kept as size-1 axes), one axis at a time; every step divides by its own
/// axis length, so the result is the mean over all the elements of the reduced axes.
pub fn mean_axes<const D: usize>(x: Tensor<D>, axes: &[usize]) -> Tensor<D> {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    sorted.into_iter().fold(x, |acc, axis| acc.mean_dim(axis))
}

/// Sum of every element, as a one-element tensor (burn's `sum()` on wgpu shares the limit above
/// for 1-D inputs).
pub fn sum_all<const D: usize>(x: Tensor<D>) -> Tensor<1> {
    let axes: Vec<usize> = (0..D).collect();
    sum_axes(x, &axes).reshape([1])
}
