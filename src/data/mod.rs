//! Data: volume type and I/O (NIfTI, NRRD, DICOM), the dataset layout, the NCI-ISBI importer,
//! synthetic prostate phantoms, and (for training) preprocessing, sampling and augmentation.

pub mod dataset;
pub mod dicom_io;
pub mod import_nci_isbi;
pub mod io;
pub mod loader;
pub mod nifti_io;
pub mod nrrd;
pub mod phantom;
pub mod preprocess;
pub mod resample;
pub mod sampler;
pub mod augment;
pub mod synth;
pub mod synth_tcia;
pub mod volume;

pub use volume::{Affine, Image, LabelMap, Volume};
