//! Training: loss, optimiser and schedule, checkpoints, metrics log and curves, and the loop itself.

pub mod checkpoint;
pub mod config;
pub mod curves;
pub mod history;
pub mod loss;
pub mod optim;
pub mod sparse;
pub mod trainer;

pub use config::TrainConfig;
pub use trainer::{TrainOptions, TrainOutcome, train};
