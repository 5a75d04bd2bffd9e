//! Inference: sliding-window prediction over whole volumes.

pub mod evaluate;
pub mod postprocess;
pub mod predict;
pub mod sliding_window;

pub use sliding_window::{SlidingWindowConfig, predict_probabilities};
