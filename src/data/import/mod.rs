//! Importers: published datasets as distributed, written out in the project's dataset layout.

pub mod nci_isbi;
