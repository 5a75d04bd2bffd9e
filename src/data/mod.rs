//! Data: the volume type, the dataset layout, label-map comparisons, and four jobs in their own
//! folders:
//!
//! - [`io`]: reading and writing volumes (NIfTI, NRRD, DICOM series), chosen by file ending;
//! - [`import`]: importers of published datasets into the dataset layout (NCI-ISBI 2013);
//! - [`synth`]: synthetic prostate phantoms, in the dataset layout or the TCIA download layout;
//! - [`prep`]: training-time preparation (preprocessing and its cache, resampling, patch sampling,
//!   augmentation, the loader threads).

pub mod dataset;
pub mod import;
pub mod io;
pub mod labels;
pub mod prep;
pub mod synth;
pub mod volume;

pub use volume::{Affine, Image, LabelMap, Volume};
