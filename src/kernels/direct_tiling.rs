//! Template parameters of the direct (forward / input-gradient) convolution kernel.
//!
//! A workgroup covers `td x th x (twl * rv)` output voxels of one batch item and `rc` output
//! channels; invocation `(lz, ly, lx)` keeps `rv` voxels along W times `rc` channels in
//! registers. Source channels are consumed in chunks of `ch`, each chunk's input halo and
//! weight block staged in workgroup memory. `looped` runs the chunk loop inside the shader;
//! otherwise one dispatch per chunk accumulates into the output, which keeps every shader
//! free of loops (CPU Vulkan drivers such as lavapipe turn loads inside loops into per-lane
//! scalar loops, while a load at a uniform address outside control flow is one broadcast).

use super::plan::ConvGeometry;

/// Tile sizes of the direct kernel; all become WGSL constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DirectTiling {
    pub k: u32,
    pub rv: u32,
    pub rc: u32,
    pub td: u32,
    pub th: u32,
    pub twl: u32,
    pub ch: u32,
    pub looped: bool,
}

impl DirectTiling {
    /// Invocations per workgroup.
    pub fn wg(&self) -> u32 {
        self.td * self.th * self.twl
    }
    /// Output voxels along W per workgroup.
    pub fn tw(&self) -> u32 {
        self.twl * self.rv
    }
    /// Halo extents (tile plus kernel reach).
    pub fn halo_dims(&self) -> (u32, u32, u32) {
        let r = self.k - 1;
        (self.td + r, self.th + r, self.tw() + r)
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
    /// Weight block elements of one chunk.
    pub fn weights(&self) -> u32 {
        self.ch * self.k.pow(3) * self.rc
    }
    /// Weight block rounded up to whole workgroup strides.
    pub fn weights_padded(&self) -> u32 {
        self.weights().div_ceil(self.wg()) * self.wg()
    }
    /// Workgroup memory in bytes.
    pub fn shared_bytes(&self) -> u32 {
        4 * (self.ch * self.halo_padded() + self.weights_padded())
    }

    /// Tiles for a convolution `g` (its `ci` = source channels, `co` = destination channels)
    /// fitting `max_shared` bytes of workgroup memory.
    pub fn choose(g: &ConvGeometry, max_shared: u32, looped: bool) -> Self {
        let k = g.k as u32;
        // Channels per workgroup: all of them up to 16, so weights are uniform per workgroup.
        let rc = (g.co as u32).clamp(1, 16).next_power_of_two().min(16);
        let rv = if g.w >= 16 { 4 } else { 2 };
        let twl = if g.w as u32 >= 8 * rv { 8 } else { 4 };
        let (td, th) = if k == 1 { (2, 4) } else { (2, 4) };
        let mut t = Self {
            k,
            rv,
            rc,
            td,
            th,
            twl,
            ch: 1,
            looped,
        };
        let max_ch = (g.ci as u32).min(if k == 1 { 16 } else { 4 });
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
            let t = DirectTiling::choose(&g, 16384, false);
            assert!(t.shared_bytes() <= 16384, "{t:?}");
            assert_eq!(t.wg() % 8, 0, "{t:?}");
        }
    }
}
