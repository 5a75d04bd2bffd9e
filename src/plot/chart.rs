//! Line charts (training curves, metric trends), and the categorical palette every chart uses.
//! Points that cannot be drawn (NaN, infinite, or
//! ≤ 0 on a log axis) break the line instead of failing; a chart with nothing drawable shows
//! "no data".

use std::path::Path;

use super::axes::Axis;
use super::canvas::{Canvas, Rgb, WHITE};
use super::frame::{DEFAULT_SIZE, draw_frame};
use crate::error::Result;

/// A categorical palette (blue, orange, green, red, purple, brown, pink, grey, olive, teal) for
/// series that have no meaning-bound colour.
pub fn series_color(i: usize) -> Rgb {
    const PALETTE: [Rgb; 10] = [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ];
    PALETTE[i % PALETTE.len()]
}

/// One line of a [`LineChart`].
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text (empty: not listed).
    pub name: String,
    /// `(x, y)` in drawing order.
    pub points: Vec<(f64, f64)>,
    pub color: Rgb,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, color: Rgb) -> Self {
        Series {
            name: name.into(),
            points,
            color,
        }
    }
}

/// Lines over a numeric x axis, with optional fixed y range and log y axis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Fixed y range; `None` fits the data. Lines leaving the range are clipped.
    pub y_range: Option<(f64, f64)>,
    pub log_y: bool,
}

impl LineChart {
    /// Draws the chart on a new `width × height` canvas.
    pub fn render(&self, width: u32, height: u32) -> Canvas {
        let mut c = Canvas::new(width, height, WHITE);
        let usable =
            |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!self.log_y || y > 0.0);
        let points = || {
            self.series
                .iter()
                .flat_map(|se| se.points.iter().copied())
                .filter(usable)
        };
        let x_axis = Axis::fit(points().map(|p| p.0), None, false);
        let y_axis = Axis::fit(points().map(|p| p.1), self.y_range, self.log_y);
        let has_data = x_axis.is_some() && y_axis.is_some();
        let x_axis = x_axis.unwrap_or_else(|| Axis::linear(0.0, 1.0, true));
        let y_axis = y_axis.unwrap_or_else(|| {
            if self.log_y {
                Axis::log(1.0, 10.0, true)
            } else {
                Axis::linear(0.0, 1.0, true)
            }
        });
        let legend: Vec<(String, Rgb)> = self
            .series
            .iter()
            .map(|se| (se.name.clone(), se.color))
            .collect();
        let labels = [&*self.title, &self.x_label, &self.y_label];
        let Some((decor, area)) = draw_frame(&mut c, labels, &legend, &x_axis, &y_axis, has_data)
        else {
            return c;
        };
        c.set_clip(Some(area.tuple()));
        for se in &self.series {
            let to_px = |&(x, y): &(f64, f64)| -> Option<(i64, i64)> {
                if !usable(&(x, y)) {
                    return None;
                }
                let (fx, fy) = (x_axis.frac(x)?, y_axis.frac(y)?);
                Some((area.px(fx).round() as i64, area.py(fy).round() as i64))
            };
            let px: Vec<Option<(i64, i64)>> = se.points.iter().map(to_px).collect();
            for w in px.windows(2) {
                if let [Some(a), Some(b)] = w {
                    c.line(a.0, a.1, b.0, b.1, se.color, decor.s);
                }
            }
            // Markers where points are few enough to be read individually, or are isolated.
            let few = se.points.len() <= 40;
            for (n, p) in px.iter().enumerate() {
                let Some((x, y)) = *p else { continue };
                let isolated =
                    (n == 0 || px[n - 1].is_none()) && px.get(n + 1).is_none_or(|q| q.is_none());
                if few || isolated {
                    let r = 2 * decor.s as i64;
                    c.fill_rect(x - r, y - r, 2 * r + 1, 2 * r + 1, se.color);
                }
            }
        }
        c.set_clip(None);
        c
    }

    /// Renders at [`DEFAULT_SIZE`] and writes a PNG atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.render(DEFAULT_SIZE.0, DEFAULT_SIZE.1).save_png(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(series: Vec<Series>) -> LineChart {
        LineChart {
            title: "Loss".into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            series,
            ..Default::default()
        }
    }

    fn has_color(c: &Canvas, col: Rgb) -> bool {
        c.pixels().chunks_exact(3).any(|p| p == col)
    }

    #[test]
    fn draws_lines_in_series_colours() {
        let red = [214, 39, 40];
        let pts: Vec<(f64, f64)> = (0..50)
            .map(|i| (i as f64, 1.0 / (1.0 + i as f64)))
            .collect();
        let c = chart(vec![Series::new("train", pts, red)]).render(400, 300);
        assert_eq!((c.width(), c.height()), (400, 300));
        assert!(has_color(&c, red));
    }

    #[test]
    fn empty_nan_and_log_data_do_not_panic() {
        let blue = series_color(0);
        for (series, log_y, y_range) in [
            (vec![], false, None),
            (
                vec![Series::new(
                    "nan",
                    vec![(f64::NAN, 1.0), (1.0, f64::NAN)],
                    blue,
                )],
                false,
                None,
            ),
            (
                vec![Series::new("neg", vec![(0.0, -1.0), (1.0, 0.0)], blue)],
                true,
                None,
            ),
            (
                vec![Series::new("one", vec![(2.0, 5.0)], blue)],
                true,
                Some((f64::NAN, 1.0)),
            ),
            (
                vec![Series::new("big", vec![(0.0, 1e300), (1.0, -1e300)], blue)],
                false,
                Some((0.0, 1.0)),
            ),
        ] {
            let c = LineChart {
                log_y,
                y_range,
                ..chart(series)
            }
            .render(320, 200);
            assert_eq!(c.width(), 320);
        }
        // Tiny canvases still render.
        chart(vec![]).render(3, 2);
    }

    #[test]
    fn saved_png_decodes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("line.png");
        let pts = vec![(0.0, 0.5), (1.0, f64::NAN), (2.0, 0.7), (3.0, 0.9)];
        chart(vec![Series::new("dice", pts, series_color(1))])
            .save(&path)
            .unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), DEFAULT_SIZE);
    }
}
