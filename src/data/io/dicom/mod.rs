//! DICOM series I/O: list the series in a folder tree, read one series into an [`Image`] (slices ordered
//! by position, geometry from the DICOM attributes, LPS → RAS), and write an [`Image`] as an MR series.
//!
//! Native little-endian pixel data is decoded here; compressed series (JPEG baseline and lossless,
//! RLE, JPEG 2000, deflate) through dicom-rs's pure-Rust codecs. JPEG-LS and big-endian files are
//! refused with an error naming the file, the syntax and what to do. Every file is checked before
//! it is parsed: a regular file within the size limit whose declared lengths fit in it.
//!
//! [`Image`]: crate::data::Image

mod attrs;
mod geometry;
mod pixels;
mod precheck;
mod read;
mod scan;
mod write;

#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod tests;

pub use read::read_series;
pub use scan::{SeriesInfo, files_under, list_series};
pub use write::{SeriesMeta, write_series};
