//! The published numbers the report compares against — the only figures in the report not computed
//! from the input files — read from `assets/published.toml` (embedded at build time), where each
//! table names its source.

use std::sync::OnceLock;

use serde::Deserialize;

/// Everything in `assets/published.toml`.
#[derive(Debug, Deserialize)]
pub(crate) struct Published {
    pub paper: Paper,
    pub nci_isbi: NciIsbi,
}

/// The paper's Xenopus-kidney IoU tables.
#[derive(Debug, Deserialize)]
pub(crate) struct Paper {
    /// How the paper's rows are labelled in the tables.
    pub label: String,
    pub source: String,
    /// Table 1, semi-automated: IoU per test fold (3-fold over annotated slices) and the average.
    pub table1: Vec<PaperTable1Row>,
    /// Table 3, fully automated (train on 2 volumes, test on the 3rd): average IoU.
    pub table3: Vec<PaperTable3Row>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PaperTable1Row {
    pub method: String,
    pub folds: [String; 3],
    pub average: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PaperTable3Row {
    pub method: String,
    pub average: String,
}

/// Published NCI-ISBI 2013 results.
#[derive(Debug, Deserialize)]
pub(crate) struct NciIsbi {
    pub source: String,
    pub rows: Vec<NciIsbiRow>,
}

/// One result: method, Dice of the central gland and of the peripheral zone ("–" where not
/// reported), and the note that goes with it.
#[derive(Debug, Deserialize)]
pub(crate) struct NciIsbiRow {
    pub method: String,
    pub dice_cg: String,
    pub dice_pz: String,
    pub note: String,
}

/// The embedded tables (parsed once; the test below checks they parse).
pub(crate) fn published() -> &'static Published {
    static PUBLISHED: OnceLock<Published> = OnceLock::new();
    PUBLISHED.get_or_init(|| {
        toml::from_str(include_str!("../../../assets/published.toml"))
            .expect("assets/published.toml is valid (checked by its test)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_parse_with_the_published_digits() {
        let p = published();
        assert_eq!(p.paper.table1.len(), 3);
        assert_eq!(p.paper.table1[1].folds, ["0.855", "0.871", "0.863"]);
        assert_eq!(p.paper.table1[1].average, "0.863");
        assert_eq!(p.paper.table3[0].average, "0.704");
        assert_eq!(p.nci_isbi.rows.len(), 5);
        assert_eq!(p.nci_isbi.rows[0].dice_pz, "0.790 ± 0.045");
        assert!(p.paper.source.contains("arXiv:1606.06650"));
    }
}
