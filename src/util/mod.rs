//! Small helpers shared by every stage: seeded randomness, atomic file output, order statistics.

pub mod fsio;
pub mod limits;
pub mod rng;
pub mod stats;
