//! An RGB raster canvas with the few drawing primitives the reports need (lines, rectangles, alpha
//! blending, bitmap text) and atomic PNG output. Coordinates are signed pixels with the origin at the
//! top-left; everything is clipped to the canvas (and to an optional clip rectangle), so callers never
//! need bounds checks and nothing here can panic on out-of-range input.

use std::path::Path;

use image::ImageEncoder;

use super::font;
use crate::error::{Error, Result};
use crate::util::fsio;

/// An sRGB colour.
pub type Rgb = [u8; 3];

pub const WHITE: Rgb = [255, 255, 255];
pub const BLACK: Rgb = [0, 0, 0];
pub const GREY: Rgb = [128, 128, 128];
pub const LIGHT_GREY: Rgb = [225, 225, 225];
pub const DARK_GREY: Rgb = [60, 60, 60];

/// A `width × height` RGB image, row-major, 3 bytes per pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
    /// Drawing is limited to `[x0, x1) × [y0, y1)` when set (plot areas clip their data).
    clip: Option<(i64, i64, i64, i64)>,
}

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: u32, height: u32, background: Rgb) -> Self {
        let n = width as usize * height as usize;
        let pixels = background.iter().copied().cycle().take(n * 3).collect();
        Canvas {
            width,
            height,
            pixels,
            clip: None,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The raw RGB bytes, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The colour at `(x, y)`, or `None` outside the canvas.
    pub fn get(&self, x: i64, y: i64) -> Option<Rgb> {
        self.offset(x, y)
            .map(|o| [self.pixels[o], self.pixels[o + 1], self.pixels[o + 2]])
    }

    fn offset(&self, x: i64, y: i64) -> Option<usize> {
        let inside =
            x >= 0 && y >= 0 && (x as u64) < self.width as u64 && (y as u64) < self.height as u64;
        inside.then(|| (y as usize * self.width as usize + x as usize) * 3)
    }

    /// Limits later drawing to the rectangle `(x, y, w, h)`; `None` removes the limit.
    pub fn set_clip(&mut self, rect: Option<(i64, i64, i64, i64)>) {
        self.clip = rect.map(|(x, y, w, h)| (x, y, x + w, y + h));
    }

    fn clipped(&self, x: i64, y: i64) -> bool {
        matches!(self.clip, Some((x0, y0, x1, y1)) if x < x0 || y < y0 || x >= x1 || y >= y1)
    }

    /// Sets one pixel (ignored outside the canvas or clip rectangle).
    pub fn put(&mut self, x: i64, y: i64, c: Rgb) {
        if self.clipped(x, y) {
            return;
        }
        if let Some(o) = self.offset(x, y) {
            self.pixels[o..o + 3].copy_from_slice(&c);
        }
    }

    /// Mixes `c` into one pixel with opacity `alpha` in [0, 1].
    pub fn blend(&mut self, x: i64, y: i64, c: Rgb, alpha: f32) {
        if self.clipped(x, y) {
            return;
        }
        let a = if alpha.is_finite() {
            alpha.clamp(0.0, 1.0)
        } else {
            0.0
        };
        if let Some(o) = self.offset(x, y) {
            for ch in 0..3 {
                let old = self.pixels[o + ch] as f32;
                self.pixels[o + ch] = (old + (c[ch] as f32 - old) * a).round() as u8;
            }
        }
    }

    /// Fills the whole canvas (ignores the clip rectangle).
    pub fn fill(&mut self, c: Rgb) {
        for px in self.pixels.chunks_exact_mut(3) {
            px.copy_from_slice(&c);
        }
    }

    /// Fills the rectangle with top-left `(x, y)` and size `w × h`.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        self.blend_rect(x, y, w, h, c, 1.0);
    }

    /// Blends `c` over the rectangle with opacity `alpha`.
    pub fn blend_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb, alpha: f32) {
        let (x0, x1) = (x.max(0), (x + w).min(self.width as i64));
        let (y0, y1) = (y.max(0), (y + h).min(self.height as i64));
        for yy in y0..y1 {
            for xx in x0..x1 {
                if alpha >= 1.0 {
                    self.put(xx, yy, c)
                } else {
                    self.blend(xx, yy, c, alpha)
                }
            }
        }
    }

    /// Outline of a rectangle, `thickness` pixels drawn inwards.
    pub fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb, thickness: u32) {
        let t = (thickness.max(1) as i64).min(w.max(1)).min(h.max(1));
        self.fill_rect(x, y, w, t, c);
        self.fill_rect(x, y + h - t, w, t, c);
        self.fill_rect(x, y, t, h, c);
        self.fill_rect(x + w - t, y, t, h, c);
    }

    /// A straight line from `(x0, y0)` to `(x1, y1)` (Bresenham) drawn with a square pen of
    /// `thickness` pixels centred on the path.
    pub fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb, thickness: u32) {
        let t = thickness.max(1) as i64;
        let lo = -(t - 1) / 2;
        // Clip the segment to the canvas (plus the pen) first, so far-away points cost nothing.
        let pad = t as f64 + 1.0;
        let bounds = (
            -pad,
            -pad,
            self.width as f64 + pad,
            self.height as f64 + pad,
        );
        let Some((x0, y0, x1, y1)) =
            clip_segment(x0 as f64, y0 as f64, x1 as f64, y1 as f64, bounds)
        else {
            return;
        };
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            for oy in lo..lo + t {
                for ox in lo..lo + t {
                    self.put(x + ox, y + oy, c);
                }
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Draws `text` with its top-left at `(x, y)`, each font pixel a `scale × scale` block; returns
    /// the width drawn in pixels.
    pub fn text(&mut self, x: i64, y: i64, text: &str, c: Rgb, scale: u32) -> u32 {
        let s = scale.max(1) as i64;
        for (n, ch) in text.chars().enumerate() {
            let gx = x + n as i64 * font::ADVANCE as i64 * s;
            for fy in 0..font::GLYPH_H {
                for fx in 0..font::GLYPH_W {
                    if font::ink(ch, fx, fy) {
                        self.fill_rect(gx + fx as i64 * s, y + fy as i64 * s, s, s, c);
                    }
                }
            }
        }
        font::text_width(text, scale.max(1))
    }

    /// Draws `text` rotated 90° anticlockwise (reading bottom to top) with the top-left of its
    /// bounding box at `(x, y)`; the box is `text_height × text_width` pixels.
    pub fn text_vertical(&mut self, x: i64, y: i64, text: &str, c: Rgb, scale: u32) {
        let s = scale.max(1) as i64;
        let total = font::text_width(text, scale.max(1)) as i64;
        for (n, ch) in text.chars().enumerate() {
            let along = n as i64 * font::ADVANCE as i64 * s;
            for fy in 0..font::GLYPH_H {
                for fx in 0..font::GLYPH_W {
                    if font::ink(ch, fx, fy) {
                        // Font x runs up the canvas, font y runs right.
                        let px = x + fy as i64 * s;
                        let py = y + total - along - (fx as i64 + 1) * s;
                        self.fill_rect(px, py, s, s, c);
                    }
                }
            }
        }
    }

    /// Copies `other` onto this canvas with its top-left at `(x, y)`.
    pub fn blit(&mut self, other: &Canvas, x: i64, y: i64) {
        for yy in 0..other.height as i64 {
            for xx in 0..other.width as i64 {
                if let Some(c) = other.get(xx, yy) {
                    self.put(x + xx, y + yy, c);
                }
            }
        }
    }

    /// The canvas encoded as a PNG file in memory.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(
                &self.pixels,
                self.width,
                self.height,
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| {
                Error::config(format!(
                    "PNG encoding of a {}x{} canvas failed: {e}",
                    self.width, self.height
                ))
            })?;
        Ok(bytes)
    }

    /// Encodes to PNG in memory, then writes `path` atomically (never a partial file).
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let bytes = self
            .to_png()
            .map_err(|e| Error::invalid(path, e.to_string()))?;
        fsio::write_atomic(path, &bytes)
    }
}

/// Liang–Barsky: the part of a segment inside `(xmin, ymin, xmax, ymax)`, rounded to pixels.
fn clip_segment(
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    b: (f64, f64, f64, f64),
) -> Option<(i64, i64, i64, i64)> {
    let (dx, dy) = (x1 - x0, y1 - y0);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, x0 - b.0),
        (dx, b.2 - x0),
        (-dy, y0 - b.1),
        (dy, b.3 - y0),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then(|| {
        let at = |t: f64| ((x0 + t * dx).round() as i64, (y0 + t * dy).round() as i64);
        let ((a, b2), (c, d)) = (at(t0), at(t1));
        (a, b2, c, d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_draw_known_pixels() {
        let mut c = Canvas::new(20, 10, WHITE);
        c.fill_rect(2, 3, 4, 2, BLACK);
        assert_eq!(c.get(2, 3), Some(BLACK));
        assert_eq!(c.get(5, 4), Some(BLACK));
        assert_eq!(c.get(6, 4), Some(WHITE));
        assert_eq!(c.get(20, 0), None);
        c.line(0, 9, 19, 9, [255, 0, 0], 1);
        assert!((0..20).all(|x| c.get(x, 9) == Some([255, 0, 0])));
        c.line(10, 0, 10, 8, [0, 0, 255], 3);
        assert_eq!(c.get(9, 4), Some([0, 0, 255]));
        assert_eq!(c.get(11, 4), Some([0, 0, 255]));
        assert_eq!(c.get(12, 4), Some(WHITE));
        c.blend(0, 0, BLACK, 0.5);
        assert_eq!(c.get(0, 0), Some([128, 128, 128]));
        // Clipping and out-of-range input never panic.
        c.set_clip(Some((0, 0, 5, 5)));
        c.put(7, 1, BLACK);
        assert_eq!(c.get(7, 1), Some(WHITE));
        c.set_clip(None);
        c.line(-1_000_000, -5, 1_000_000, 50, BLACK, 2);
        c.rect(-3, -3, 100, 100, BLACK, 1);
    }

    #[test]
    fn text_draws_the_glyph_scaled() {
        let mut c = Canvas::new(30, 20, WHITE);
        let w = c.text(1, 1, "L", BLACK, 2);
        assert_eq!(w, 10);
        // 'L' left column: font pixel (0, y) → canvas block at (1..3, 1 + 2y..).
        assert_eq!(c.get(1, 1), Some(BLACK));
        assert_eq!(c.get(2, 13), Some(BLACK));
        // bottom bar of 'L' is font row 6 → canvas rows 13..15, spanning 10 pixels.
        assert_eq!(c.get(10, 13), Some(BLACK));
        assert_eq!(c.get(10, 1), Some(WHITE));
        let mut v = Canvas::new(20, 20, WHITE);
        v.text_vertical(0, 0, "L", BLACK, 1);
        // Rotated: the left column of 'L' becomes the bottom row of its 8×5 box.
        assert!((0..7).all(|x| v.get(x, 4) == Some(BLACK)));
    }

    #[test]
    fn png_round_trips() {
        let mut c = Canvas::new(7, 5, [10, 20, 30]);
        c.put(6, 4, [200, 100, 50]);
        let img = image::load_from_memory(&c.to_png().unwrap())
            .unwrap()
            .to_rgb8();
        assert_eq!(img.dimensions(), (7, 5));
        assert_eq!(img.get_pixel(6, 4).0, [200, 100, 50]);
        assert_eq!(img.get_pixel(0, 0).0, [10, 20, 30]);
    }
}
