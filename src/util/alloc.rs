//! How the process allocator treats freed memory (called once by the `unet3d` binary).
//!
//! Every layer of the network allocates its output and frees its input: tens of megabytes per
//! tensor at the `small` preset. glibc serves blocks that large with `mmap` and unmaps them at
//! `free`, so each forward pays the kernel's page faults and zeroing for every activation again;
//! `unet3d bench --profile` showed it as the whole forward taking 7 % longer than the sum of its
//! ops, and the `small` preset's forward went from 1.17 s to 0.92 s (2-core EPYC, flex) once
//! freed blocks stayed in the heap for the next layer. The price: the process keeps its peak heap
//! until it exits, which is how PyTorch's and most frameworks' caching allocators behave too.

/// Keeps freed memory in the process heap for reuse: no `mmap` for large blocks and no trimming
/// of the heap's top below 2 GiB. A no-op off glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation parameters; called before other threads
    // allocate (at the start of main).
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
