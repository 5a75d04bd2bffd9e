//! Evaluation metrics at native resolution (Dice and IoU from [`crate::data::labels`], HD95 and
//! ASSD from surface distances, volumes), their summary over cases, and `evaluate`: a trained run
//! scored on a dataset split.

pub mod case;
pub mod evaluate;
pub mod summary;
pub mod surface;

pub use crate::data::labels::{Counts, argmax, foreground_dice};
pub use case::{ClassMetrics, EmptyKind, evaluate_case};
pub use summary::{ClassSummary, Stats, Summary, summarize, write_per_case_csv};
pub use surface::{SurfaceDistances, surface_distances};
