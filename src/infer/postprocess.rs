//! Post-processing of a label map: keep only the largest 26-connected component of each class (nnU-Net's
//! optional step), removing small false-positive islands far from the organ.

use std::collections::VecDeque;

/// For each class in `classes`, keeps its largest connected component (26-connectivity); voxels of
/// smaller components become background (0). `dims` = `[nx, ny, nz]`, x fastest.
pub fn keep_largest_component(labels: &mut [u8], dims: [usize; 3], classes: &[u8]) {
    for &class in classes {
        let comps = components(labels, dims, class);
        if comps.len() <= 1 {
            continue;
        }
        let largest = comps
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| c.len())
            .map(|(i, _)| i)
            .unwrap_or(0);
        for (i, comp) in comps.iter().enumerate() {
            if i != largest {
                for &v in comp {
                    labels[v] = 0;
                }
            }
        }
    }
}

/// Voxel lists of the 26-connected components of `class`.
pub fn components(labels: &[u8], dims: [usize; 3], class: u8) -> Vec<Vec<usize>> {
    let [nx, ny, nz] = dims;
    let mut seen = vec![false; labels.len()];
    let mut out = Vec::new();
    let mut queue = VecDeque::new();
    for start in 0..labels.len() {
        if labels[start] != class || seen[start] {
            continue;
        }
        seen[start] = true;
        queue.push_back(start);
        let mut comp = Vec::new();
        while let Some(v) = queue.pop_front() {
            comp.push(v);
            let (x, y, z) = (v % nx, (v / nx) % ny, v / (nx * ny));
            for dz in -1i64..=1 {
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let (xx, yy, zz) = (x as i64 + dx, y as i64 + dy, z as i64 + dz);
                        if xx < 0
                            || yy < 0
                            || zz < 0
                            || xx >= nx as i64
                            || yy >= ny as i64
                            || zz >= nz as i64
                        {
                            continue;
                        }
                        let n = xx as usize + nx * (yy as usize + ny * zz as usize);
                        if labels[n] == class && !seen[n] {
                            seen[n] = true;
                            queue.push_back(n);
                        }
                    }
                }
            }
        }
        out.push(comp);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_islands_are_removed_and_diagonal_neighbours_connect() {
        let dims = [6, 6, 3];
        let mut l = vec![0u8; 108];
        let idx = |x: usize, y: usize, z: usize| x + 6 * (y + 6 * z);
        for x in 0..3 {
            for y in 0..3 {
                l[idx(x, y, 1)] = 1; // 9 voxels
            }
        }
        l[idx(3, 3, 2)] = 1; // touches (2,2,1) diagonally: same component
        l[idx(5, 0, 0)] = 1; // an island
        l[idx(5, 5, 2)] = 2;
        assert_eq!(components(&l, dims, 1).len(), 2);
        keep_largest_component(&mut l, dims, &[1, 2]);
        assert_eq!(l[idx(5, 0, 0)], 0);
        assert_eq!(l[idx(3, 3, 2)], 1);
        assert_eq!(
            l[idx(5, 5, 2)],
            2,
            "a single component of another class stays"
        );
        assert_eq!(l.iter().filter(|&&v| v == 1).count(), 10);
    }
}
