//! Histograms of raw values: equal-width bins over a common range, several series overlaid as
//! semi-transparent fills with solid outlines, optional per-series density normalisation (so series
//! of different sizes compare) and a log y axis. Non-finite values are ignored.

use std::path::Path;

use super::axes::Axis;
use super::canvas::{Canvas, Rgb, WHITE};
use super::frame::{DEFAULT_SIZE, draw_frame};
use crate::error::Result;

/// One set of values to bin.
#[derive(Clone, Debug, PartialEq)]
pub struct HistSeries {
    pub name: String,
    pub values: Vec<f64>,
    pub color: Rgb,
}

/// Overlaid histograms sharing one set of bins.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<HistSeries>,
    /// Number of bins (at least 1).
    pub bins: usize,
    /// Binned range; `None` spans the finite values of all series.
    pub range: Option<(f64, f64)>,
    pub log_y: bool,
    /// Plot count / (series total in range × bin width), so each series integrates to 1.
    pub density: bool,
    /// Fill opacity of the bars (outlines are opaque).
    pub alpha: f32,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            series: Vec::new(),
            bins: 50,
            range: None,
            log_y: false,
            density: false,
            alpha: 0.35,
        }
    }
}

/// Counts of `values` in `bins` equal bins over `[lo, hi]` (the last bin includes `hi`); values
/// outside the range or non-finite are not counted.
pub fn bin_counts(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<u64> {
    let bins = bins.max(1);
    let mut counts = vec![0u64; bins];
    let width = (hi - lo) / bins as f64;
    if !(width > 0.0 && width.is_finite()) {
        return counts;
    }
    for &v in values {
        if v.is_finite() && v >= lo && v <= hi {
            let b = (((v - lo) / width) as usize).min(bins - 1);
            counts[b] += 1;
        }
    }
    counts
}

impl Histogram {
    /// The binned range: the fixed one when valid, else the finite extent of all values.
    fn bin_range(&self) -> Option<(f64, f64)> {
        if let Some((lo, hi)) = self
            .range
            .filter(|&(lo, hi)| lo.is_finite() && hi.is_finite() && lo < hi)
        {
            return Some((lo, hi));
        }
        let finite = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if lo > hi {
            None
        } else if lo == hi {
            Some((lo - 0.5, hi + 0.5))
        } else {
            Some((lo, hi))
        }
    }

    /// Bar heights per series (counts or densities).
    fn heights(&self, lo: f64, hi: f64) -> Vec<Vec<f64>> {
        let bins = self.bins.max(1);
        let width = (hi - lo) / bins as f64;
        self.series
            .iter()
            .map(|s| {
                let counts = bin_counts(&s.values, lo, hi, bins);
                let total: u64 = counts.iter().sum();
                let norm = if self.density && total > 0 {
                    1.0 / (total as f64 * width)
                } else {
                    1.0
                };
                counts.iter().map(|&n| n as f64 * norm).collect()
            })
            .collect()
    }

    /// Draws the histogram on a new `width × height` canvas.
    pub fn render(&self, width: u32, height: u32) -> Canvas {
        let mut c = Canvas::new(width, height, WHITE);
        let range = self.bin_range();
        let heights = range
            .map(|(lo, hi)| self.heights(lo, hi))
            .unwrap_or_default();
        let all = heights.iter().flatten().copied();
        let y_axis = if self.log_y {
            Axis::fit(all, None, true)
        } else {
            Axis::fit(all.chain([0.0]), None, false)
        };
        let has_data =
            range.is_some() && heights.iter().flatten().any(|&h| h > 0.0) && y_axis.is_some();
        let y_axis = y_axis.unwrap_or_else(|| Axis::linear(0.0, 1.0, true));
        let (lo, hi) = range.unwrap_or((0.0, 1.0));
        let x_axis = Axis::linear(lo, hi, false);
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
        let s = decor.s;
        c.set_clip(Some(area.tuple()));
        let bins = self.bins.max(1);
        let bottom = area.py(0.0);
        let edge = |b: usize| area.px(b as f64 / bins as f64).round() as i64;
        for (series, hs) in self.series.iter().zip(&heights) {
            let tops: Vec<f64> = hs
                .iter()
                .map(|&h| {
                    y_axis
                        .frac(h)
                        .map(|f| area.py(f.clamp(-0.01, 1.01)))
                        .unwrap_or(bottom)
                })
                .collect();
            for (b, &top) in tops.iter().enumerate() {
                let (x0, x1) = (edge(b), edge(b + 1));
                let t = top.round() as i64;
                c.blend_rect(
                    x0,
                    t,
                    x1 - x0,
                    bottom.round() as i64 - t,
                    series.color,
                    self.alpha,
                );
            }
            // Outline as a step line across the bin tops.
            let mut prev = bottom.round() as i64;
            for (b, &top) in tops.iter().enumerate() {
                let (x0, x1, t) = (edge(b), edge(b + 1), top.round() as i64);
                c.line(x0, prev, x0, t, series.color, s);
                c.line(x0, t, x1, t, series.color, s);
                prev = t;
            }
            c.line(
                edge(bins),
                prev,
                edge(bins),
                bottom.round() as i64,
                series.color,
                s,
            );
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

    #[test]
    fn bins_count_known_values() {
        assert_eq!(
            bin_counts(&[0.0, 0.1, 0.5, 0.99, 1.0, 2.0, f64::NAN], 0.0, 1.0, 2),
            vec![2, 3]
        );
        assert_eq!(bin_counts(&[1.0], 1.0, 1.0, 3), vec![0, 0, 0]);
    }

    #[test]
    fn density_integrates_to_one() {
        let h = Histogram {
            series: vec![HistSeries {
                name: "a".into(),
                values: (0..100).map(|i| i as f64).collect(),
                color: [0, 0, 0],
            }],
            bins: 10,
            density: true,
            ..Default::default()
        };
        let (lo, hi) = h.bin_range().unwrap();
        let area: f64 = h.heights(lo, hi)[0]
            .iter()
            .map(|d| d * (hi - lo) / 10.0)
            .sum();
        assert!((area - 1.0).abs() < 1e-12);
    }

    #[test]
    fn renders_overlays_empty_and_nan() {
        let a = HistSeries {
            name: "case 1".into(),
            values: vec![1.0, 2.0, 2.5, 3.0],
            color: [31, 119, 180],
        };
        let b = HistSeries {
            name: "case 2".into(),
            values: vec![f64::NAN, 2.0, 4.0],
            color: [255, 127, 14],
        };
        let base = Histogram {
            title: "Intensity".into(),
            x_label: "value".into(),
            y_label: "count".into(),
            ..Default::default()
        };
        let c = Histogram {
            series: vec![a.clone(), b.clone()],
            ..base.clone()
        }
        .render(500, 300);
        assert!(c.pixels().chunks_exact(3).any(|p| p == [31, 119, 180]));
        Histogram {
            series: vec![a, b],
            log_y: true,
            bins: 0,
            ..base.clone()
        }
        .render(500, 300);
        Histogram {
            series: vec![],
            ..base.clone()
        }
        .render(500, 300);
        let nan = HistSeries {
            name: "nan".into(),
            values: vec![f64::NAN; 3],
            color: [0, 0, 0],
        };
        Histogram {
            series: vec![nan],
            range: Some((1.0, f64::INFINITY)),
            ..base
        }
        .render(500, 300);
    }
}
