//! DICOM series I/O: list the series in a folder tree, read one series into an [`Image`] (slices ordered
//! by position, geometry from the DICOM attributes, LPS → RAS), and write an [`Image`] as an MR series.
//!
//! Only native (uncompressed) little-endian pixel data is decoded — `dicom-pixeldata` is not available,
//! so compressed transfer syntaxes are refused with an error naming the file and the syntax.
//!
//! [`Image`]: crate::data::Image

mod attrs;
mod geometry;
mod pixels;
mod read;
mod scan;
mod write;

#[cfg(test)]
mod tests;

pub use read::read_series;
pub use scan::{SeriesInfo, list_series};
pub use write::{SeriesMeta, write_series};
