//! Grouped bar charts: one cluster of bars per category, one bar colour per group, a legend, and the
//! value written above each bar when it fits. Used for benchmark comparisons and label volumes.
//! Category labels are written horizontally (wrapped at spaces) when they fit under their cluster,
//! otherwise rotated. The legend lists the groups.

use std::path::Path;

use super::axes::{self, Axis};
use super::canvas::{BLACK, Canvas, Rgb, WHITE};
use super::font::{text_height, text_width};
use super::frame::{DEFAULT_SIZE, Decor, Rect};
use crate::error::Result;

/// One group of bars: a value per category (missing or NaN values draw nothing).
#[derive(Clone, Debug, PartialEq)]
pub struct BarGroup {
    pub name: String,
    pub values: Vec<f64>,
    pub color: Rgb,
}

/// Bars grouped by category.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub categories: Vec<String>,
    pub groups: Vec<BarGroup>,
    pub log_y: bool,
    /// Write each bar's value above it (when there is room).
    pub value_labels: bool,
}

/// How category labels fit under their clusters.
enum CategoryLabels {
    /// Horizontal, each label wrapped at spaces into at most three lines.
    Lines(Vec<Vec<String>>),
    /// Rotated to read upwards, truncated to `max_h` pixels.
    Rotated { max_h: i64 },
}

/// Greedy word wrap of `text` into lines at most `max_w` pixels wide; `None` when a word alone is
/// too wide or more than three lines are needed.
fn wrap(text: &str, max_w: f64, s: u32) -> Option<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if text_width(word, s) as f64 > max_w {
            return None;
        }
        match lines.last_mut() {
            Some(line) if text_width(&format!("{line} {word}"), s) as f64 <= max_w => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    (lines.len() <= 3).then_some(lines)
}

impl BarChart {
    /// Draws the chart on a new `width × height` canvas.
    pub fn render(&self, width: u32, height: u32) -> Canvas {
        let mut c = Canvas::new(width, height, WHITE);
        let n_cat = self.categories.len();
        let value = |g: &BarGroup, k: usize| {
            g.values
                .get(k)
                .copied()
                .filter(|v| v.is_finite() && (!self.log_y || *v > 0.0))
        };
        let values: Vec<f64> = self
            .groups
            .iter()
            .flat_map(|g| (0..n_cat).filter_map(move |k| value(g, k)))
            .collect();
        // Linear bars start at zero; value labels need a little headroom.
        let head = if self.value_labels { 1.08 } else { 1.0 };
        let with_base = values
            .iter()
            .map(|v| v * head)
            .chain((!self.log_y).then_some(0.0));
        let y_axis = if values.is_empty() {
            None
        } else {
            Axis::fit(with_base, None, self.log_y)
        };
        let has_data = y_axis.is_some();
        let y_axis = y_axis.unwrap_or_else(|| Axis::linear(0.0, 1.0, true));
        let entries: Vec<(String, Rgb)> = self
            .groups
            .iter()
            .map(|g| (g.name.clone(), g.color))
            .collect();
        let decor = Decor::new(width, height, &self.title, "", &self.y_label, &entries);
        let s = decor.s;

        // The plot width does not depend on the bottom margin, so fit the category labels first.
        let cat_w = decor.plot_area(&y_axis, 0).w as f64 / n_cat.max(1) as f64;
        let wrapped: Option<Vec<Vec<String>>> = self
            .categories
            .iter()
            .map(|l| wrap(l, cat_w - 2.0 * s as f64, s))
            .collect();
        let line_h = text_height(s) as i64 + 2 * s as i64;
        let (labels, labels_h) = match wrapped {
            Some(lines) => {
                let n = lines.iter().map(Vec::len).max().unwrap_or(1).max(1) as i64;
                (CategoryLabels::Lines(lines), n * line_h + s as i64)
            }
            None => {
                let widest = self
                    .categories
                    .iter()
                    .map(|l| text_width(l, s) as i64)
                    .max()
                    .unwrap_or(0);
                let max_h = (height as i64 * 2 / 5).max(text_height(s) as i64);
                (
                    CategoryLabels::Rotated { max_h },
                    widest.min(max_h) + 3 * s as i64,
                )
            }
        };
        let area = decor.plot_area(&y_axis, labels_h);
        decor.draw(&mut c, area, &y_axis, labels_h);
        self.draw_category_labels(&mut c, area, s, &labels);
        if !has_data {
            decor.draw_no_data(&mut c, area);
            return c;
        }

        let cat_w = area.w as f64 / n_cat.max(1) as f64;
        let bar_w = cat_w * 0.8 / self.groups.len().max(1) as f64;
        let base_f = if self.log_y {
            0.0
        } else {
            y_axis.frac(0.0).unwrap_or(0.0).clamp(0.0, 1.0)
        };
        let base_y = area.py(base_f);
        c.set_clip(Some(area.tuple()));
        for (gi, g) in self.groups.iter().enumerate() {
            for k in 0..n_cat {
                let Some(v) = value(g, k) else { continue };
                let Some(f) = y_axis.frac(v) else { continue };
                let x0 = area.px(0.0) + cat_w * (k as f64 + 0.1) + bar_w * gi as f64;
                let top = area.py(f.clamp(-0.01, 1.01));
                let (y0, y1) = if top < base_y {
                    (top, base_y)
                } else {
                    (base_y, top)
                };
                let (xa, xb) = (x0.round() as i64, (x0 + bar_w).round() as i64 - 1);
                let h = (y1 - y0).round().max(1.0) as i64;
                c.fill_rect(xa, y0.round() as i64, (xb - xa).max(1), h, g.color);
                if self.value_labels {
                    value_label(
                        &mut c,
                        area,
                        s,
                        v,
                        (x0, bar_w),
                        (top, top < base_y || v >= 0.0),
                    );
                }
            }
        }
        c.set_clip(None);
        c
    }

    fn draw_category_labels(&self, c: &mut Canvas, area: Rect, s: u32, labels: &CategoryLabels) {
        let cat_w = area.w as f64 / self.categories.len().max(1) as f64;
        let y = area.y + area.h + 3 * s as i64;
        for (k, label) in self.categories.iter().enumerate() {
            let centre = area.px(0.0) + cat_w * (k as f64 + 0.5);
            match labels {
                CategoryLabels::Lines(lines) => {
                    for (n, line) in lines[k].iter().enumerate() {
                        let w = text_width(line, s) as f64;
                        let ly = y + n as i64 * (text_height(s) as i64 + 2 * s as i64);
                        c.text((centre - w / 2.0).round() as i64, ly, line, BLACK, s);
                    }
                }
                CategoryLabels::Rotated { max_h } => {
                    let label = axes::truncate(label, (max_h / (6 * s as i64)).max(1) as usize);
                    // Reads upwards and ends just below its cluster.
                    let x = centre.round() as i64 - text_height(s) as i64 / 2;
                    c.text_vertical(x, y, &label, BLACK, s);
                }
            }
        }
    }

    /// Renders at [`DEFAULT_SIZE`] and writes a PNG atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.render(DEFAULT_SIZE.0, DEFAULT_SIZE.1).save_png(path)
    }
}

/// The value above a bar (below it for negative bars), at the largest scale that fits its width.
fn value_label(
    c: &mut Canvas,
    area: Rect,
    s: u32,
    v: f64,
    (x0, bar_w): (f64, f64),
    (top, up): (f64, bool),
) {
    let text = axes::format_value(v);
    let Some(sc) = (1..=s)
        .rev()
        .find(|&sc| text_width(&text, sc) as f64 <= bar_w * 1.15)
    else {
        return;
    };
    let w = text_width(&text, sc) as f64;
    let h = text_height(sc) as i64;
    let x = (x0 + (bar_w - w) / 2.0).round() as i64;
    let mut y = if up {
        top.round() as i64 - h - 2
    } else {
        top.round() as i64 + 3
    };
    // Inside the plot: values at the very top go just inside the bar instead.
    if y < area.y {
        y = area.y + 2;
    }
    c.text(x, y, &text, BLACK, sc);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> BarChart {
        BarChart {
            title: "Label volumes".into(),
            y_label: "mL".into(),
            categories: vec!["case A".into(), "case B".into(), "case C".into()],
            groups: vec![
                BarGroup {
                    name: "PZ".into(),
                    values: vec![10.0, 12.5, f64::NAN],
                    color: [255, 140, 0],
                },
                BarGroup {
                    name: "CG".into(),
                    values: vec![20.0, 25.0],
                    color: [0, 190, 230],
                },
            ],
            value_labels: true,
            ..Default::default()
        }
    }

    #[test]
    fn bars_use_group_colours() {
        let c = chart().render(600, 400);
        let count = |col: Rgb| c.pixels().chunks_exact(3).filter(|p| *p == col).count();
        // CG bars are twice as tall as PZ bars and equally wide (legend swatches are equal).
        let (pz, cg) = (count([255, 140, 0]), count([0, 190, 230]));
        assert!(pz > 0 && cg > pz, "pz {pz} cg {cg}");
    }

    #[test]
    fn labels_wrap_at_spaces() {
        // Font advance is 6 px at scale 1: "wgpu WGSL" is 53 px.
        assert_eq!(
            wrap("wgpu WGSL tiled", 60.0, 1),
            Some(vec!["wgpu WGSL".into(), "tiled".into()])
        );
        assert_eq!(wrap("ProstateDx-01-0001", 60.0, 1), None);
        assert_eq!(wrap("a b c d", 5.0, 1), None, "more than three lines");
    }

    #[test]
    fn odd_data_does_not_panic() {
        let mut ch = chart();
        ch.log_y = true;
        ch.render(600, 400);
        ch.groups.clear();
        ch.render(600, 400);
        let many = BarChart {
            categories: (0..80).map(|i| format!("ProstateDx-01-{i:04}")).collect(),
            groups: vec![BarGroup {
                name: String::new(),
                values: vec![-1.0, 0.0, 1e9],
                color: [1, 2, 3],
            }],
            ..chart()
        };
        many.render(900, 500);
        BarChart::default().render(50, 40);
    }

    #[test]
    fn saved_png_decodes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("bar.png");
        chart().save(&path).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), DEFAULT_SIZE);
    }
}
