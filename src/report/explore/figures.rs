//! The PNG figures of `explore`: an axial montage with coloured label overlays for the first cases,
//! an intensity histogram (each case rescaled to its own 0.5–99.5 percentile range, overlaid for up
//! to ten cases, pooled beyond), and a bar chart of label volumes per case. Figures are kept as
//! encoded PNG bytes until every case has loaded, so a failure leaves no partial output.

use super::summary::{CaseSummary, ExploreSummary, Figures, label_name};
use crate::data::dataset::{Case, DatasetSpec};
use crate::error::Result;
use crate::plot::montage::{MontageOptions, Style, axial_montage, label_color, spread_slices};
use crate::plot::{BarChart, BarGroup, HistSeries, Histogram, series_color};
use crate::util::stats;

/// Encoded figures and their names.
pub(crate) struct Rendered {
    pub names: Figures,
    pub files: Vec<(String, Vec<u8>)>,
}

/// Per-case material gathered while cases stream past.
#[derive(Default)]
pub(crate) struct FigureSource {
    montages: Vec<(String, Vec<u8>)>,
    /// Case id and a subsample of its rescaled intensities.
    intensities: Vec<(String, Vec<f64>)>,
}

/// Voxels kept per case for the histogram (enough for 100 smooth bins).
const HIST_SAMPLES: usize = 50_000;
/// Cases overlaid individually in the histogram; more are pooled into one series.
const MAX_OVERLAID: usize = 10;

/// A file-name-safe form of a case id.
fn safe_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl FigureSource {
    /// Adds a case: its histogram sample, and its montage when `montage` is set.
    pub fn add_case(
        &mut self,
        spec: &DatasetSpec,
        case: &Case,
        row: &CaseSummary,
        montage: bool,
        n_slices: usize,
    ) -> Result<()> {
        let (lo, hi) = (row.intensity.p0_5, row.intensity.p99_5);
        let scale = if hi > lo { hi - lo } else { 1.0 };
        let sample = stats::subsample(&case.image.data, HIST_SAMPLES)
            .map(|v| (v - lo) / scale)
            .collect();
        self.intensities.push((case.id.clone(), sample));
        if montage {
            let [sx, sy, sz] = row.spacing;
            let [nx, ny, nz] = row.dims;
            let opts = MontageOptions {
                title: format!(
                    "{} ({})  {nx}x{ny}x{nz}  {sx:.2}x{sy:.2}x{sz:.2} mm",
                    case.id, row.split
                ),
                label_names: spec
                    .label_values()
                    .into_iter()
                    .filter(|&v| v != 0)
                    .map(|v| (v, label_name(spec, v)))
                    .collect(),
                ..Default::default()
            };
            let slices = spread_slices(&case.label, n_slices);
            let canvas = axial_montage(
                &case.image,
                &[(&case.label, Style::FillContour(0.35))],
                &slices,
                &opts,
            )?;
            self.montages.push((
                format!("montage_{}.png", safe_name(&case.id)),
                canvas.to_png()?,
            ));
        }
        Ok(())
    }

    /// Draws the dataset-wide figures and returns every figure encoded.
    pub fn render(self, summary: &ExploreSummary) -> Result<Rendered> {
        let mut names = Figures {
            montages: self.montages.iter().map(|(n, _)| n.clone()).collect(),
            ..Default::default()
        };
        let mut files = self.montages;

        let series = if self.intensities.len() <= MAX_OVERLAID {
            let it = self.intensities.into_iter().enumerate();
            it.map(|(i, (id, values))| HistSeries {
                name: id,
                values,
                color: series_color(i),
            })
            .collect()
        } else {
            let n = self.intensities.len();
            let values = self.intensities.into_iter().flat_map(|(_, v)| v).collect();
            vec![HistSeries {
                name: format!("all {n} cases (pooled)"),
                values,
                color: series_color(0),
            }]
        };
        let hist = Histogram {
            title: "Intensity distribution per case".into(),
            x_label: "intensity rescaled per case: 0 = p0.5, 1 = p99.5".into(),
            y_label: "density".into(),
            series,
            bins: 100,
            range: Some((-0.25, 1.5)),
            density: true,
            alpha: 0.2,
            ..Default::default()
        };
        names.intensity_histogram = "intensity_histogram.png".into();
        files.push((
            names.intensity_histogram.clone(),
            hist.render(900, 560).to_png()?,
        ));

        let structures: Vec<_> = summary
            .classes
            .iter()
            .filter(|c| c.value != 0 && c.value != 255)
            .collect();
        let groups = structures
            .iter()
            .map(|c| {
                let ml = |row: &CaseSummary| {
                    row.labels
                        .iter()
                        .find(|l| l.value == c.value)
                        .map_or(0.0, |l| l.ml)
                };
                BarGroup {
                    name: format!("{} {}", c.value, c.name),
                    values: summary.cases.iter().map(ml).collect(),
                    color: label_color(c.value),
                }
            })
            .collect();
        let n = summary.cases.len();
        let bars = BarChart {
            title: "Label volume per case".into(),
            y_label: "volume (mL)".into(),
            categories: summary.cases.iter().map(|c| c.id.clone()).collect(),
            groups,
            log_y: false,
            value_labels: n <= 12,
        };
        let width = (300 + 16 * n as u32 * structures.len().max(1) as u32).clamp(900, 4000);
        names.label_volumes = "label_volumes.png".into();
        files.push((
            names.label_volumes.clone(),
            bars.render(width, 560).to_png()?,
        ));
        Ok(Rendered { names, files })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_safe_file_names() {
        assert_eq!(safe_name("ProstateDx-01-0001"), "ProstateDx-01-0001");
        assert_eq!(safe_name("a/b c"), "a_b_c");
    }
}
