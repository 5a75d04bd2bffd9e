//! The frame every chart shares: title, legend strip under the title (outside the plot, so it never
//! hides data), y label, y ticks with grid lines, x label, plot border, and the plot-area layout
//! that leaves room for all of them. Chart types only decide what goes inside the plot area.

use super::axes::{Axis, truncate};
use super::canvas::{BLACK, Canvas, DARK_GREY, LIGHT_GREY, Rgb};
use super::font::{text_height, text_width};

/// Legend rows shown at most; further entries are summarised as "... N more".
const MAX_LEGEND_ROWS: usize = 3;

/// Default size of a saved chart in pixels.
pub const DEFAULT_SIZE: (u32, u32) = (900, 560);

/// Draws the frame of a chart filling the canvas `c` — `[title, x label, y label]`, the legend
/// entries (name, colour), y ticks with grid lines, x ticks — and returns the layout and the plot
/// area to draw into; with `has_data` false it writes "no data" in the plot area instead and
/// returns `None`.
pub fn draw_frame<'a>(
    c: &mut Canvas,
    [title, x_label, y_label]: [&'a str; 3],
    legend: &[(String, Rgb)],
    x_axis: &Axis,
    y_axis: &Axis,
    has_data: bool,
) -> Option<(Decor<'a>, Rect)> {
    let decor = Decor::new(c.width(), c.height(), title, x_label, y_label, legend);
    let xh = decor.x_ticks_height();
    let area = decor.plot_area(y_axis, xh);
    decor.draw(c, area, y_axis, xh);
    decor.draw_x_ticks(c, area, x_axis);
    if !has_data {
        decor.draw_no_data(c, area);
        return None;
    }
    Some((decor, area))
}

/// A pixel rectangle: top-left and size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
}

impl Rect {
    /// Pixel column of axis fraction `f` (0 = left edge).
    pub fn px(&self, f: f64) -> f64 {
        self.x as f64 + f * self.w as f64
    }

    /// Pixel row of axis fraction `f` (0 = bottom edge).
    pub fn py(&self, f: f64) -> f64 {
        (self.y + self.h) as f64 - f * self.h as f64
    }

    pub fn tuple(&self) -> (i64, i64, i64, i64) {
        (self.x, self.y, self.w, self.h)
    }
}

/// Text and legend around a plot on a canvas of a given size.
#[derive(Clone, Debug)]
pub struct Decor<'a> {
    pub width: u32,
    pub height: u32,
    /// Body text scale and title text scale.
    pub s: u32,
    pub ts: u32,
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// Legend rows of (name, colour); a `None` colour is a text-only entry.
    legend: Vec<Vec<(String, Option<Rgb>)>>,
}

impl<'a> Decor<'a> {
    /// Chooses text scales from the canvas size (8-pixel rows are too small above ~400 px) and
    /// flows the named `legend` entries into rows.
    pub fn new(
        width: u32,
        height: u32,
        title: &'a str,
        x_label: &'a str,
        y_label: &'a str,
        legend: &[(String, Rgb)],
    ) -> Self {
        let s = ((width.min(height) + 125) / 250).clamp(1, 4);
        let ts = if s >= 2 { s + 1 } else { s };
        let mut d = Decor {
            width,
            height,
            s,
            ts,
            title,
            x_label,
            y_label,
            legend: Vec::new(),
        };
        d.legend = d.flow_legend(legend);
        d
    }

    fn pad(&self) -> i64 {
        6 * self.s as i64
    }

    fn entry_width(&self, name: &str, swatch: bool) -> i64 {
        let sw = if swatch {
            2 * text_height(self.s) as i64 + self.pad()
        } else {
            0
        };
        sw + text_width(name, self.s) as i64 + 3 * self.pad()
    }

    fn flow_legend(&self, entries: &[(String, Rgb)]) -> Vec<Vec<(String, Option<Rgb>)>> {
        let named: Vec<(String, Option<Rgb>)> = entries
            .iter()
            .filter(|(n, _)| !n.is_empty())
            .map(|(n, c)| (truncate(n, 40), Some(*c)))
            .collect();
        let max_w = self.width as i64 - 2 * self.pad();
        let mut rows: Vec<Vec<(String, Option<Rgb>)>> = Vec::new();
        let mut used = 0;
        for (n, entry) in named.iter().enumerate() {
            let w = self.entry_width(&entry.0, true);
            if rows.is_empty() || used + w > max_w {
                if rows.len() == MAX_LEGEND_ROWS {
                    // Replace the tail of the last row by a count of what is left out.
                    let last = rows.last_mut().expect("rows exist");
                    let mut left = named.len() - n;
                    while last.len() > 1 && used + self.entry_width("... 999 more", false) > max_w {
                        let (name, _) = last.pop().expect("non-empty");
                        used -= self.entry_width(&name, true);
                        left += 1;
                    }
                    last.push((format!("... {left} more"), None));
                    break;
                }
                rows.push(Vec::new());
                used = 0;
            }
            rows.last_mut().expect("row pushed").push(entry.clone());
            used += w;
        }
        rows
    }

    fn legend_height(&self) -> i64 {
        self.legend.len() as i64 * (text_height(self.s) as i64 + 2 * self.s as i64)
    }

    /// The plot area, leaving room for the decor, y tick labels of `y`, and `x_ticks_h` pixels of
    /// x tick labels under the plot.
    pub fn plot_area(&self, y: &Axis, x_ticks_h: i64) -> Rect {
        let (pad, s) = (self.pad(), self.s as i64);
        let th = |sc: u32| text_height(sc) as i64;
        let tick_w = y
            .ticks
            .iter()
            .map(|(_, l)| text_width(l, self.s) as i64)
            .max()
            .unwrap_or(0);
        let left =
            pad + if self.y_label.is_empty() {
                0
            } else {
                th(self.s) + pad
            } + tick_w
                + pad
                + 2 * s;
        let title_h = if self.title.is_empty() {
            0
        } else {
            th(self.ts) + pad
        };
        let legend_h = if self.legend.is_empty() {
            0
        } else {
            self.legend_height() + pad / 2
        };
        let top = pad + title_h + legend_h + th(self.s) / 2;
        let bottom = 2 * s
            + x_ticks_h
            + pad
            + if self.x_label.is_empty() {
                0
            } else {
                th(self.s) + pad
            };
        let right = pad * 3;
        Rect {
            x: left,
            y: top,
            w: (self.width as i64 - left - right).max(1),
            h: (self.height as i64 - top - bottom).max(1),
        }
    }

    /// Draws title, legend strip, y label, y ticks with grid lines, x label and the plot border.
    pub fn draw(&self, c: &mut Canvas, area: Rect, y: &Axis, x_ticks_h: i64) {
        let (pad, s) = (self.pad(), self.s);
        let mut top = pad;
        if !self.title.is_empty() {
            let w = text_width(self.title, self.ts) as i64;
            c.text((self.width as i64 - w) / 2, top, self.title, BLACK, self.ts);
            top += text_height(self.ts) as i64 + pad;
        }
        for row in &self.legend {
            let total: i64 = row
                .iter()
                .map(|(n, col)| self.entry_width(n, col.is_some()))
                .sum::<i64>()
                - 2 * pad;
            let mut x = (self.width as i64 - total) / 2;
            for (name, col) in row {
                if let Some(col) = col {
                    c.fill_rect(
                        x,
                        top,
                        2 * text_height(s) as i64,
                        text_height(s) as i64 - s as i64,
                        *col,
                    );
                    x += 2 * text_height(s) as i64 + pad;
                }
                x += c.text(x, top, name, BLACK, s) as i64 + 3 * pad;
            }
            top += text_height(s) as i64 + 2 * s as i64;
        }
        for (v, label) in &y.ticks {
            let Some(f) = y.frac(*v) else { continue };
            let py = area.py(f).round() as i64;
            c.fill_rect(area.x, py, area.w, 1, LIGHT_GREY);
            c.fill_rect(area.x - 2 * s as i64, py, 2 * s as i64, s as i64, BLACK);
            let w = text_width(label, s) as i64;
            c.text(
                area.x - 2 * s as i64 - pad / 2 - w,
                py - text_height(s) as i64 / 2 + s as i64,
                label,
                BLACK,
                s,
            );
        }
        if !self.y_label.is_empty() {
            let w = text_width(self.y_label, s) as i64;
            c.text_vertical(pad, area.y + (area.h - w) / 2, self.y_label, BLACK, s);
        }
        if !self.x_label.is_empty() {
            let w = text_width(self.x_label, s) as i64;
            let y0 = area.y + area.h + 2 * s as i64 + x_ticks_h + pad;
            c.text(area.x + (area.w - w) / 2, y0, self.x_label, BLACK, s);
        }
        c.rect(
            area.x - s as i64,
            area.y,
            area.w + s as i64,
            area.h + s as i64,
            DARK_GREY,
            s,
        );
    }

    /// Height the numeric x tick labels need.
    pub fn x_ticks_height(&self) -> i64 {
        text_height(self.s) as i64 + 3 * self.s as i64
    }

    /// Numeric x ticks with vertical grid lines and centred labels.
    pub fn draw_x_ticks(&self, c: &mut Canvas, area: Rect, x: &Axis) {
        let s = self.s;
        for (v, label) in &x.ticks {
            let Some(f) = x.frac(*v) else { continue };
            let px = area.px(f).round() as i64;
            c.fill_rect(px, area.y, 1, area.h, LIGHT_GREY);
            c.fill_rect(px, area.y + area.h, s as i64, 2 * s as i64, BLACK);
            let w = text_width(label, s) as i64;
            c.text(px - w / 2, area.y + area.h + 3 * s as i64, label, BLACK, s);
        }
    }

    /// "no data" centred in the plot area.
    pub fn draw_no_data(&self, c: &mut Canvas, area: Rect) {
        let (msg, sc) = ("no data", self.s + 1);
        let w = text_width(msg, sc) as i64;
        c.text(
            area.x + (area.w - w) / 2,
            area.y + (area.h - text_height(sc) as i64) / 2,
            msg,
            DARK_GREY,
            sc,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_flows_into_rows_and_summarises_overflow() {
        let few: Vec<(String, Rgb)> = vec![
            ("train".into(), [1, 2, 3]),
            ("".into(), [0; 3]),
            ("val".into(), [4, 5, 6]),
        ];
        let d = Decor::new(900, 560, "t", "x", "y", &few);
        assert_eq!(d.legend.len(), 1);
        assert_eq!(d.legend[0].len(), 2, "unnamed entries are dropped");
        let many: Vec<(String, Rgb)> = (0..80)
            .map(|i| (format!("ProstateDx-01-{i:04}"), [0, 0, 0]))
            .collect();
        let d = Decor::new(900, 560, "t", "x", "y", &many);
        assert_eq!(d.legend.len(), MAX_LEGEND_ROWS);
        let last = d.legend.last().unwrap().last().unwrap();
        assert!(last.0.starts_with("... ") && last.1.is_none());
        let shown: usize = d
            .legend
            .iter()
            .map(|r| r.iter().filter(|e| e.1.is_some()).count())
            .sum();
        assert_eq!(last.0, format!("... {} more", 80 - shown));
        let area = d.plot_area(&Axis::linear(0.0, 1.0, true), d.x_ticks_height());
        assert!(area.h > 200, "plot keeps most of the height");
    }
}
