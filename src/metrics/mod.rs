//! Evaluation metrics at native resolution.

pub mod overlap;

pub use overlap::{Counts, argmax, foreground_dice};
