//! Axial slice montages of an image with label overlays (explore's case views, and later prediction
//! vs reference contours).
//!
//! Display convention — radiological: anterior up, patient left on the image right. The in-plane
//! voxel axes (i, j) are matched to the screen from the RAS affine's direction columns: the axis
//! whose column has the larger |x| (R–L) component runs horizontally and is flipped when its index
//! grows towards patient right (+x), so patient right is on screen left; the other axis runs
//! vertically and is flipped when its index grows anteriorly (+y), so anterior is at the top. For
//! an identity-like RAS affine both axes are flipped; for DICOM-order data (LPS columns, i towards
//! patient left, j towards posterior) neither is. Pixels keep their physical aspect: a tile is
//! `n·spacing` millimetres wide and tall, sampled nearest-neighbour. The image is windowed to its
//! 1st–99th intensity percentile.

use super::canvas::{BLACK, Canvas, Rgb, WHITE};
use super::font::{text_height, text_width};
use crate::data::{Image, LabelMap};
use crate::error::{Error, Result};
use crate::util::stats;

/// How a label map is drawn over the image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    /// Semi-transparent colour fill with this opacity.
    Fill(f32),
    /// Solid outline of each label region.
    Contour,
    /// Fill and outline.
    FillContour(f32),
    /// Dashed outline (e.g. a prediction drawn over a solid reference contour).
    DashedContour,
}

/// Layout and legend of a montage.
#[derive(Clone, Debug, PartialEq)]
pub struct MontageOptions {
    /// Title across the top (empty: none).
    pub title: String,
    /// Tiles per row; 0 chooses about a square grid.
    pub columns: usize,
    /// Longest side of one slice tile in pixels.
    pub tile_px: u32,
    /// Legend names of label values; unnamed values present in an overlay show as "label N".
    pub label_names: Vec<(u8, String)>,
    /// Legend names of the overlays in order (e.g. "reference", "prediction"); empty: not listed.
    pub overlay_names: Vec<String>,
}

impl Default for MontageOptions {
    fn default() -> Self {
        MontageOptions {
            title: String::new(),
            columns: 0,
            tile_px: 256,
            label_names: Vec::new(),
            overlay_names: Vec::new(),
        }
    }
}

/// Fixed label palette, indexed by label value (entry 0, background, is never drawn):
/// 1 orange (PZ), 2 cyan (CG), then distinct hues.
pub fn label_colors() -> &'static [Rgb] {
    &[
        [0, 0, 0],
        [255, 140, 0],
        [0, 200, 255],
        [230, 40, 200],
        [120, 230, 40],
        [255, 235, 40],
        [240, 40, 40],
        [90, 90, 255],
        [0, 170, 120],
        [255, 150, 190],
        [170, 110, 40],
        [180, 180, 255],
    ]
}

/// A plain-word name of [`label_color`], for text that refers to the overlays.
pub fn label_color_name(value: u8) -> &'static str {
    const NAMES: [&str; 12] = [
        "black", "orange", "cyan", "magenta", "green", "yellow", "red", "blue", "teal", "pink",
        "brown", "lavender",
    ];
    NAMES[1 + (value as usize + NAMES.len() - 2) % (NAMES.len() - 1)]
}

/// The colour of a label value (values beyond the palette cycle through it).
pub fn label_color(value: u8) -> Rgb {
    let p = label_colors();
    p[1 + (value as usize + p.len() - 2) % (p.len() - 1)]
}

/// Where voxel axes go on screen for axial slices.
#[derive(Clone, Copy, Debug, PartialEq)]
struct InPlane {
    /// Voxel axis (0 = i, 1 = j) shown horizontally.
    h_axis: usize,
    h_flip: bool,
    v_flip: bool,
}

fn in_plane(image: &Image) -> InPlane {
    let (c0, c1) = (image.affine.column(0), image.affine.column(1));
    let h_axis = if c1[0].abs() > c0[0].abs() { 1 } else { 0 };
    let (ch, cv) = if h_axis == 0 { (c0, c1) } else { (c1, c0) };
    InPlane {
        h_axis,
        h_flip: ch[0] > 0.0,
        v_flip: cv[1] > 0.0,
    }
}

/// Up to `n` slice indices spread evenly over the slices that hold any label (all slices when none
/// do), for a montage that shows the labelled extent.
pub fn spread_slices(label: &LabelMap, n: usize) -> Vec<usize> {
    let [nx, ny, nz] = label.dims;
    let has_fg = |k: usize| {
        label.data[k * nx * ny..(k + 1) * nx * ny]
            .iter()
            .any(|&v| v != 0 && v != 255)
    };
    let fg: Vec<usize> = (0..nz).filter(|&k| has_fg(k)).collect();
    let (first, last) = match (fg.first(), fg.last()) {
        (Some(&a), Some(&b)) => (a, b),
        _ if nz > 0 => (0, nz - 1),
        _ => return Vec::new(),
    };
    let n = n.min(last - first + 1);
    let mut out: Vec<usize> = (0..n)
        .map(|m| {
            if n == 1 {
                (first + last) / 2
            } else {
                first + (m * (last - first) + (n - 1) / 2) / (n - 1)
            }
        })
        .collect();
    out.dedup();
    out
}

/// A grid of axial slices `slices` (k indices) of `image` with `overlays` drawn on top, captions,
/// orientation letters and a legend of label colours. Errors when an overlay is on another grid
/// or a slice is out of range.
pub fn axial_montage(
    image: &Image,
    overlays: &[(&LabelMap, Style)],
    slices: &[usize],
    opts: &MontageOptions,
) -> Result<Canvas> {
    if image.is_empty() || image.data.len() != image.len() {
        return Err(Error::config(format!(
            "montage: image with dims {:?} has no voxels or a wrong buffer",
            image.dims
        )));
    }
    for (n, (label, _)) in overlays.iter().enumerate() {
        if label.dims != image.dims || label.data.len() != label.len() {
            return Err(Error::config(format!(
                "montage: overlay {n} has grid {:?}, the image {:?}",
                label.dims, image.dims
            )));
        }
    }
    if let Some(&k) = slices.iter().find(|&&k| k >= image.dims[2]) {
        return Err(Error::config(format!(
            "montage: slice {k} is outside 0..{}",
            image.dims[2]
        )));
    }
    let tile_px = opts.tile_px.max(16);
    let s = (tile_px / 128).clamp(1, 3);
    let window = intensity_window(image);
    let tiles: Vec<Canvas> = slices
        .iter()
        .map(|&k| render_tile(image, overlays, k, tile_px, window, s))
        .collect();
    let (tw, th) = tiles
        .iter()
        .fold((1, 1), |(w, h), t| (t.width().max(w), t.height().max(h)));
    let cols = if opts.columns > 0 {
        opts.columns
    } else {
        (tiles.len() as f64).sqrt().ceil().max(1.0) as usize
    };
    let rows = tiles.len().div_ceil(cols).max(1);
    let pad = 4 * s as i64;
    let line = text_height(s) as i64 + 2 * pad;
    let title_h = if opts.title.is_empty() {
        0
    } else {
        text_height(s + 1) as i64 + 2 * pad
    };
    let cell_w = tw as i64 + pad;
    let cell_h = th as i64 + line;
    let grid_w = pad + cols as i64 * cell_w;
    // Legend: label swatches flowed into rows of the grid's width, then one row per overlay.
    let swatch = 2 * text_height(s) as i64;
    let entry_w = |name: &str, col: Option<Rgb>| {
        col.map_or(0, |_| swatch + pad) + text_width(name, s) as i64 + 3 * pad
    };
    let mut legend: Vec<Vec<(String, Option<Rgb>)>> = Vec::new();
    let mut used = 0;
    for (name, col) in legend_entries(overlays, opts) {
        let w = entry_w(&name, Some(col));
        if legend.is_empty() || used + w > grid_w - pad {
            legend.push(Vec::new());
            used = 0;
        }
        used += w;
        legend
            .last_mut()
            .expect("row pushed")
            .push((name, Some(col)));
    }
    for (name, (_, style)) in opts.overlay_names.iter().zip(overlays) {
        legend.push(vec![(format!("{name}: {}", style_name(*style)), None)]);
    }
    let row_w =
        |row: &Vec<(String, Option<Rgb>)>| row.iter().map(|(n, c)| entry_w(n, *c)).sum::<i64>();
    let width = legend
        .iter()
        .map(|r| pad + row_w(r))
        .chain([grid_w, text_width(&opts.title, s + 1) as i64 + 2 * pad])
        .max()
        .unwrap_or(grid_w);
    let height = title_h + rows as i64 * cell_h + line * legend.len() as i64 + pad;
    let mut c = Canvas::new(width as u32, height as u32, BLACK);
    c.text(pad, pad, &opts.title, WHITE, s + 1);
    if tiles.is_empty() {
        c.text(pad, title_h + pad, "no slices", WHITE, s);
    }
    for (n, (tile, &k)) in tiles.iter().zip(slices).enumerate() {
        let (x, y) = (
            pad + (n % cols) as i64 * cell_w,
            title_h + (n / cols) as i64 * cell_h,
        );
        c.text(
            x,
            y + pad,
            &format!("slice {k} of {}", image.dims[2]),
            WHITE,
            s,
        );
        c.blit(tile, x, y + line);
    }
    let mut y = title_h + rows as i64 * cell_h + pad / 2;
    for row in &legend {
        let mut x = pad;
        for (name, col) in row {
            if let Some(col) = col {
                c.fill_rect(x, y, swatch, text_height(s) as i64, *col);
                x += swatch + pad;
            }
            x += c.text(x, y, name, WHITE, s) as i64 + 3 * pad;
        }
        y += line;
    }
    Ok(c)
}

fn style_name(style: Style) -> &'static str {
    match style {
        Style::Fill(_) => "filled",
        Style::Contour => "solid outline",
        Style::FillContour(_) => "filled + outline",
        Style::DashedContour => "dashed outline",
    }
}

/// Legend entries: named labels first, then any other value present in an overlay.
fn legend_entries(overlays: &[(&LabelMap, Style)], opts: &MontageOptions) -> Vec<(String, Rgb)> {
    let mut present = [false; 256];
    for (label, _) in overlays {
        for &v in &label.data {
            present[v as usize] = true;
        }
    }
    let mut out: Vec<(String, Rgb)> = Vec::new();
    let named = |v: u8| {
        opts.label_names
            .iter()
            .find(|(n, _)| *n == v)
            .map(|(_, s)| s.clone())
    };
    for v in 1..=254u8 {
        if present[v as usize] || named(v).is_some() {
            let name = named(v).unwrap_or_else(|| format!("label {v}"));
            out.push((format!("{v} {name}"), label_color(v)));
        }
    }
    out
}

/// The 1st–99th percentile intensity window (sampled on large volumes).
fn intensity_window(image: &Image) -> (f64, f64) {
    let p = stats::percentiles(stats::subsample(&image.data, 2_000_000), &[1.0, 99.0])
        .unwrap_or(vec![0.0, 1.0]);
    let (lo, hi) = (p[0], p[1]);
    if hi > lo { (lo, hi) } else { (lo, lo + 1.0) }
}

/// One slice as a tile with physical aspect, windowed grey, overlays and orientation letters.
fn render_tile(
    image: &Image,
    overlays: &[(&LabelMap, Style)],
    k: usize,
    tile_px: u32,
    (lo, hi): (f64, f64),
    s: u32,
) -> Canvas {
    let o = in_plane(image);
    let v_axis = 1 - o.h_axis;
    let (n_h, n_v) = (image.dims[o.h_axis], image.dims[v_axis]);
    let sp = |a: usize| {
        Some(image.spacing[a])
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(1.0)
    };
    let (mm_w, mm_h) = (n_h as f64 * sp(o.h_axis), n_v as f64 * sp(v_axis));
    let zoom = tile_px as f64 / mm_w.max(mm_h);
    let (w, h) = (
        ((mm_w * zoom).round() as usize).max(1),
        ((mm_h * zoom).round() as usize).max(1),
    );
    // Voxel index of each display pixel (display → voxel, nearest neighbour).
    let map = |px: usize, len: usize, n: usize, flip: bool| {
        let i = ((px as f64 + 0.5) * n as f64 / len as f64) as usize;
        let i = i.min(n - 1);
        if flip { n - 1 - i } else { i }
    };
    let voxel: Vec<usize> = (0..w * h)
        .map(|p| {
            let (a, b) = (map(p % w, w, n_h, o.h_flip), map(p / w, h, n_v, o.v_flip));
            let (i, j) = if o.h_axis == 0 { (a, b) } else { (b, a) };
            image.index(i, j, k)
        })
        .collect();
    let mut c = Canvas::new(w as u32, h as u32, BLACK);
    for (p, &idx) in voxel.iter().enumerate() {
        let g = ((image.data[idx] as f64 - lo) / (hi - lo)).clamp(0.0, 1.0);
        let g = if g.is_finite() {
            (g * 255.0).round() as u8
        } else {
            0
        };
        c.put((p % w) as i64, (p / w) as i64, [g, g, g]);
    }
    let t = s as i64;
    for (label, style) in overlays {
        let lab: Vec<u8> = voxel.iter().map(|&idx| label.data[idx]).collect();
        let at = |x: i64, y: i64| {
            (x >= 0 && y >= 0 && x < w as i64 && y < h as i64)
                .then(|| lab[y as usize * w + x as usize])
        };
        for (p, &v) in lab.iter().enumerate() {
            if v == 0 || v == 255 {
                continue;
            }
            let (x, y) = ((p % w) as i64, (p / w) as i64);
            let col = label_color(v);
            let edge = || {
                (1..=t).any(|d| {
                    [(d, 0), (-d, 0), (0, d), (0, -d)]
                        .iter()
                        .any(|(dx, dy)| at(x + dx, y + dy) != Some(v))
                })
            };
            match *style {
                Style::Fill(a) => c.blend(x, y, col, a),
                Style::Contour => {
                    if edge() {
                        c.put(x, y, col)
                    }
                }
                Style::FillContour(a) => {
                    if edge() {
                        c.put(x, y, col)
                    } else {
                        c.blend(x, y, col, a)
                    }
                }
                Style::DashedContour => {
                    let dash = 3 * t + 1;
                    if (x / dash + y / dash) % 2 == 0 && edge() {
                        c.put(x, y, col)
                    }
                }
            }
        }
    }
    let yellow = [255, 230, 0];
    let (tw, th) = (text_width("A", 1) as i64, text_height(1) as i64);
    c.text((w as i64 - tw) / 2, 2, "A", yellow, 1);
    c.text(2, (h as i64 - th) / 2, "R", yellow, 1);
    c.text(w as i64 - tw - 2, (h as i64 - th) / 2, "L", yellow, 1);
    c
}

#[cfg(test)]
#[path = "montage_tests.rs"]
mod tests;
