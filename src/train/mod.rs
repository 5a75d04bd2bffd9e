//! Training: preparing a run, the loop (`Trainer`: one step, validation and checkpoints), the loss,
//! sparse annotation, validation, progress display and the training curves. The run folder it
//! writes is `crate::run`'s.

pub mod curves;
pub mod decide;
pub mod loss;
pub mod memory;
mod prepare;
pub mod progress;
pub mod sparse;
pub mod trainer;
pub mod validate;

pub use trainer::{TrainOptions, TrainOutcome, Trainer, train};
