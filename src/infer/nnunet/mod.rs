//! nnU-Net v2 trained models, run by unet3d: the model folder (`plans.json`, `dataset.json`,
//! `fold_K/checkpoint_final.pth`) read into unet3d's one network, and nnU-Net's own inference
//! reproduced step by step (preprocessing, sliding window, export), so a segmentation matches
//! `nnUNetv2_predict`'s.

pub mod architecture;
pub mod array;
pub mod dataset_json;
pub mod export;
mod fields;
pub mod import;
pub mod model;
pub mod plans;
pub mod preprocess;
pub mod resample;
pub mod sliding;
pub mod weights;

pub use import::import_nnunet;
pub use model::{NnunetModel, is_imported_run, is_nnunet_folder};
