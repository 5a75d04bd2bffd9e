//! Evaluation metrics at native resolution.

pub mod case;
pub mod overlap;
pub mod summary;
pub mod surface;

pub use case::{ClassMetrics, EmptyKind, evaluate_case};
pub use overlap::{Counts, argmax, foreground_dice};
pub use summary::{ClassSummary, Stats, Summary, summarize, write_per_case_csv};
pub use surface::{SurfaceDistances, surface_distances};
