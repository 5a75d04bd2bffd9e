//! Reports: a dependency-free plotting layer (RGB canvas, bitmap font, line/bar/histogram charts,
//! slice montages with label overlays, PNG output) and the `explore` dataset summary built on it.

pub mod axes;
pub mod bar;
pub mod canvas;
pub mod chart;
pub mod explore;
mod explore_dataset;
pub mod explore_figures;
mod explore_markdown;
pub mod font;
pub mod frame;
pub mod histogram;
pub mod montage;
pub mod run_report;
pub mod stats;

pub use canvas::{Canvas, Rgb};
pub use chart::{BarChart, BarGroup, HistSeries, Histogram, LineChart, Series};
pub use explore::{ExploreOptions, ExploreSummary, explore, explore_cases};
pub use montage::{MontageOptions, Style, axial_montage, label_colors};
