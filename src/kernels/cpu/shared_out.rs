//! An output buffer that parallel work items write at disjoint positions (each kernel documents
//! which positions belong to which item).

/// A raw pointer to the output, shareable between rayon's threads.
#[derive(Clone, Copy)]
pub struct SharedOut(*mut f32);

// SAFETY: the kernels only write through it at positions no other work item writes, and read
// the buffer only after every item has finished.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    pub fn new(ptr: *mut f32) -> Self {
        SharedOut(ptr)
    }

    /// The pointer (a method, so closures capture the whole `Send` wrapper, not its field).
    pub fn ptr(&self) -> *mut f32 {
        self.0
    }

    /// `start..start + len` as a slice.
    ///
    /// # Safety
    /// The range must be inside the buffer and written by no one else meanwhile.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, len: usize) -> &mut [f32] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}
