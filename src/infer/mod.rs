//! Inference: sliding-window prediction over whole volumes, the clean-up of label maps, and
//! `predict` with a trained run (the run's preprocessing, the network, back to the native grid).

pub mod ensemble;
pub mod nnunet;
pub mod postprocess;
pub mod predict;
pub mod sliding_window;

pub use ensemble::Ensemble;
pub use sliding_window::{SlidingWindowConfig, predict_probabilities};
