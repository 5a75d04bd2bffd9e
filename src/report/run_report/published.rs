//! The published numbers the report compares against — the only figures in the report not computed
//! from the input files. Cited exactly (as text, so the printed digits are the published ones) from
//! /work/shared/reference/anchors.md, which gathers them from the papers and challenge reports named
//! in each `SOURCE_*` note.

/// How the paper's rows are labelled in the tables.
pub(crate) const PAPER_LABEL: &str = "published, Xenopus kidney, Çiçek et al. 2016";

/// Source of the Xenopus-kidney IoU tables.
pub(crate) const SOURCE_PAPER: &str = "Çiçek, Abdulkadir, Lienkamp, Brox, Ronneberger: 3D U-Net: Learning Dense Volumetric Segmentation from Sparse Annotation, MICCAI 2016 (arXiv:1606.06650), Tables 1 and 3";

/// One row of the paper's Table 1: IoU per test fold (3-fold over annotated slices) and the average.
pub(crate) struct PaperTable1Row {
    pub method: &'static str,
    pub folds: [&'static str; 3],
    pub average: &'static str,
}

/// Table 1 of the paper: the semi-automated setting (sparsely annotated slices), IoU.
pub(crate) const PAPER_TABLE1: [PaperTable1Row; 3] = [
    PaperTable1Row {
        method: "3D w/o BN",
        folds: ["0.822", "0.857", "0.846"],
        average: "0.842",
    },
    PaperTable1Row {
        method: "3D with BN",
        folds: ["0.855", "0.871", "0.863"],
        average: "0.863",
    },
    PaperTable1Row {
        method: "2D with BN",
        folds: ["0.785", "0.820", "0.782"],
        average: "0.796",
    },
];

/// Table 3 of the paper: the fully automated setting (train on 2 volumes, test on the 3rd), average IoU.
pub(crate) const PAPER_TABLE3: [(&str, &str); 2] = [("3D with BN", "0.704"), ("2D", "0.547")];

/// Source of the NCI-ISBI 2013 results.
pub(crate) const SOURCE_NCI_ISBI: &str = "NCI-ISBI 2013 prostate challenge, official test set (n = 10) unless noted; Jaeger (DKFZ) reports and an earlier TensorFlow implementation of this brief, as gathered in anchors.md";

/// One published NCI-ISBI 2013 result: method, Dice of the central gland and of the peripheral zone
/// ("–" where not reported), and the note that goes with it.
pub(crate) struct NciIsbiRow {
    pub method: &'static str,
    pub dice_cg: &'static str,
    pub dice_pz: &'static str,
    pub note: &'static str,
}

pub(crate) const NCI_ISBI: [NciIsbiRow; 5] = [
    NciIsbiRow {
        method: "2D U-Net, batch-Dice loss, 5-fold ensemble + mirror TTA (Jaeger, DKFZ)",
        dice_cg: "0.874 ± 0.053",
        dice_pz: "0.790 ± 0.045",
        note: "in-plane 0.4 mm, 288² crops",
    },
    NciIsbiRow {
        method: "2D U-Net, per-slice Dice loss (Jaeger)",
        dice_cg: "0.829",
        dice_pz: "0.763",
        note: "",
    },
    NciIsbiRow {
        method: "3D U-Net (Jaeger; 12 base filters, no first z-pool, 288×288×32 patches)",
        dice_cg: "0.846 ± 0.064",
        dice_pz: "0.737 ± 0.111",
        note: "",
    },
    NciIsbiRow {
        method: "Same methods, 5-fold CV on train+leaderboard (n=69): 2D / 3D",
        dice_cg: "0.900 / 0.875",
        dice_pz: "0.797 / 0.750",
        note: "cross-validation, not the test set",
    },
    NciIsbiRow {
        method: "3D U-Net + BN in TensorFlow, earlier implementation of this same brief",
        dice_cg: "–",
        dice_pz: "–",
        note: "mean IoU over {background, CG, PZ}: 0.338 at native resolution, 0.473 at 128²; no augmentation, no spacing resampling",
    },
];
