//! A dependency-free plotting layer anyone may draw with: an RGB canvas with PNG output, a bitmap
//! font, axes and frames, line / bar / histogram charts, and slice montages with label overlays.

pub mod axes;
pub mod bar;
pub mod canvas;
pub mod chart;
pub mod font;
pub mod frame;
pub mod histogram;
pub mod montage;

pub use bar::{BarChart, BarGroup};
pub use canvas::{Canvas, Rgb};
pub use chart::{LineChart, Series, series_color};
pub use histogram::{HistSeries, Histogram};
pub use montage::{MontageOptions, Style, axial_montage, label_colors};
