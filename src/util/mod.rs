//! Small helpers shared by every stage: seeded randomness, atomic file output, order statistics,
//! time per phase.

pub mod alloc;
pub mod fsio;
pub mod limits;
pub mod phases;
pub mod rng;
pub mod stats;
