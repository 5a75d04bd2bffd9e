//! Small helpers shared by every stage: seeded randomness and atomic file output.

pub mod fsio;
pub mod rng;
