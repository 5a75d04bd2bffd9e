//! Template parameters of the direct (forward / input-gradient) convolution kernel.
//!
//! Invocations form a lane grid of `td x th x twl` voxel positions times `lc` channel groups;
//! each keeps a register block of `rd x rh x rv` voxels times `rc` destination channels. The
//! workgroup therefore covers `(td*rd) x (th*rh) x (twl*rv)` output voxels of one batch item
//! and `lc*rc` destination channels. Source channels are consumed in chunks of `ch`, each
//! chunk's input halo staged in workgroup memory (and, with `lc == 1`, its weight block too).
//!
//! Two shapes of this grid matter:
//! - GPUs: many voxel lanes, one channel group (`lc = 1`): every staged weight is read by all
//!   lanes at one address, every lane reads its own stretch of the halo. `looped`: one launch
//!   whose shader loops over the chunks.
//! - CPU adapters (lavapipe): one voxel position, lanes over channels (`lc > 1`): the halo is
//!   read at workgroup-uniform addresses (one broadcast load each), weights per lane once per
//!   chunk. Loop-free: one launch per chunk, continuing from the previous partial sums, because
//!   such drivers run every load inside a shader loop lane by lane.

use super::plan::ConvGeometry;

/// Tile sizes of the direct kernel; all become WGSL constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DirectTiling {
    pub k: u32,
    pub td: u32,
    pub th: u32,
    pub twl: u32,
    pub lc: u32,
    pub rd: u32,
    pub rh: u32,
    pub rv: u32,
    pub rc: u32,
    pub ch: u32,
    pub looped: bool,
}

impl DirectTiling {
    /// Invocations per workgroup.
    pub fn wg(&self) -> u32 {
        self.td * self.th * self.twl * self.lc
    }
    /// Output voxels per workgroup along D, H, W.
    pub fn tile(&self) -> (u32, u32, u32) {
        (self.td * self.rd, self.th * self.rh, self.twl * self.rv)
    }
    /// Destination channels per workgroup.
    pub fn channels(&self) -> u32 {
        self.lc * self.rc
    }
    /// Whether the weight block is staged in workgroup memory (one channel group).
    pub fn staged_weights(&self) -> bool {
        self.lc == 1
    }
    /// Halo extents (tile plus kernel reach).
    pub fn halo_dims(&self) -> (u32, u32, u32) {
        let (a, b, c) = self.tile();
        let r = self.k - 1;
        (a + r, b + r, c + r)
    }
    /// Halo elements per source channel.
    pub fn halo(&self) -> u32 {
        let (a, b, c) = self.halo_dims();
        a * b * c
    }
    /// Halo elements per channel rounded up to whole workgroup strides.
    pub fn halo_padded(&self) -> u32 {
        self.halo().div_ceil(self.wg()) * self.wg()
    }
    /// Staged weight elements of one chunk (0 without staged weights).
    pub fn weights(&self) -> u32 {
        if self.staged_weights() {
            self.ch * self.k.pow(3) * self.rc
        } else {
            0
        }
    }
    /// Staged weights rounded up to whole workgroup strides.
    pub fn weights_padded(&self) -> u32 {
        self.weights().div_ceil(self.wg()) * self.wg()
    }
    /// Workgroup memory in bytes: the staged halo and weights, and the chunk count every lane
    /// of a looped kernel reads (`uniform_nchunks`, declared in every variant).
    pub fn shared_bytes(&self) -> u32 {
        4 * (self.ch * self.halo_padded() + self.weights_padded() + 1)
    }

    /// Tiles for a convolution `g` (its `ci` = source channels, `co` = destination channels)
    /// fitting `max_shared` bytes of workgroup memory; `gpu` picks the GPU shape of the lane
    /// grid (see the module docs), otherwise the CPU-adapter shape. On lavapipe at 32->32, 32^3
    /// the CPU shape (4x4x4 voxels per lane, 32 channel lanes) runs 1.7x faster than the GPU
    /// shape; bigger register blocks compile for tens of seconds for little gain.
    pub fn choose(g: &ConvGeometry, max_shared: u32, gpu: bool) -> Self {
        let k = g.k as u32;
        let mut t = if gpu {
            let rv = if g.w >= 16 { 4 } else { 2 };
            let twl = if g.w as u32 >= 8 * rv { 8 } else { 4 };
            let rc = (g.co as u32).clamp(1, 16).next_power_of_two();
            Self {
                k,
                td: 2,
                th: 4,
                twl,
                lc: 1,
                rd: 1,
                rh: 1,
                rv,
                rc,
                ch: 1,
                looped: true,
            }
        } else {
            let lc = (g.co as u32).next_multiple_of(8).min(32);
            Self {
                k,
                td: 1,
                th: 1,
                twl: 1,
                lc,
                rd: 4,
                rh: 4,
                rv: 4,
                rc: 1,
                ch: 1,
                looped: false,
            }
        };
        // Source channels per chunk: more chunks mean more partial-sum round trips (CPU) or
        // loop trips (GPU), bigger chunks longer compiles (8 compiles in ~12 s on lavapipe and
        // runs 20% faster than 4 at 32->32, 32^3; small problems keep 4).
        let big = g.n * g.voxels() >= 8192;
        let max_ch = (g.ci as u32).min(match (k, big) {
            (1, _) => 16,
            (_, true) => 8,
            (_, false) => 4,
        });
        for ch in (1..=max_ch).rev() {
            t.ch = ch;
            if t.shared_bytes() <= max_shared {
                break;
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_tiles_fit_workgroup_memory() {
        for (ci, co, k) in [(1, 32, 3), (32, 32, 3), (17, 3, 1), (256, 256, 3)] {
            let g = ConvGeometry {
                n: 1,
                ci,
                co,
                d: 32,
                h: 32,
                w: 32,
                k,
            };
            for gpu in [true, false] {
                let t = DirectTiling::choose(&g, 16384, gpu);
                assert!(t.shared_bytes() <= 16384, "{t:?}");
                assert_eq!(t.wg() % 8, 0, "{t:?}");
                assert_eq!(t.looped, gpu);
            }
        }
    }
}
