//! Reports: the `explore` dataset summary and the run report (`report.md`, `report.html`), both
//! drawn with [`crate::plot`].

pub mod explore;
pub mod run_report;

pub use explore::{ExploreOptions, ExploreSummary, explore, explore_cases};
