//! The import report: one row per case (imported or skipped, with the reason), printed as a table.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::data::dataset::{DatasetSpec, Split, Splits};

/// What happened to one case.
#[derive(Clone, Debug, PartialEq)]
pub enum CaseStatus {
    /// Written to the dataset; notes say what was reconciled (corrected label, placement, ...).
    Imported { notes: Vec<String> },
    /// Left out, with the reason.
    Skipped { reason: String },
}

/// One case of the import.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseRow {
    pub case_id: String,
    /// The split its label folder gave (`None` when it has no label).
    pub split: Option<Split>,
    /// Image grid `[nx, ny, nz]` when the image was read.
    pub dims: Option<[usize; 3]>,
    /// Voxel size in mm when the image was read.
    pub spacing: Option<[f64; 3]>,
    /// Dataset label value → voxel count, on the image grid.
    pub label_voxels: BTreeMap<u8, usize>,
    pub status: CaseStatus,
}

/// Every case the importer saw.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportSummary {
    /// The dataset folder written.
    pub out: PathBuf,
    pub rows: Vec<CaseRow>,
}

impl CaseRow {
    pub fn is_imported(&self) -> bool {
        matches!(self.status, CaseStatus::Imported { .. })
    }
}

impl ImportSummary {
    pub fn imported(&self) -> usize {
        self.rows.iter().filter(|r| r.is_imported()).count()
    }

    pub fn skipped(&self) -> usize {
        self.rows.len() - self.imported()
    }

    pub fn row(&self, case_id: &str) -> Option<&CaseRow> {
        self.rows.iter().find(|r| r.case_id == case_id)
    }

    /// The splits of the imported cases, in row order.
    pub fn splits(&self) -> Splits {
        let mut s = Splits::default();
        for r in self.rows.iter().filter(|r| r.is_imported()) {
            match r.split {
                Some(Split::Train) => s.train.push(r.case_id.clone()),
                Some(Split::Validation) => s.validation.push(r.case_id.clone()),
                Some(Split::Test) => s.test.push(r.case_id.clone()),
                None => {}
            }
        }
        s
    }
}

/// "peripheral zone" → "PZ".
fn short_name(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .flat_map(char::to_uppercase)
        .collect()
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = DatasetSpec::prostate("", "", Splits::default());
        let values: Vec<u8> = {
            let mut v: Vec<u8> = spec
                .label_values()
                .into_iter()
                .filter(|&v| v != 0)
                .collect();
            v.extend(
                self.rows
                    .iter()
                    .flat_map(|r| r.label_voxels.keys().copied())
                    .filter(|&x| x != 0),
            );
            v.sort_unstable();
            v.dedup();
            v
        };
        let mut header = vec![
            "case".to_string(),
            "split".into(),
            "dims".into(),
            "spacing (mm)".into(),
        ];
        header.extend(
            values
                .iter()
                .map(|&v| format!("{} ({v})", short_name(&spec.label_name(v)))),
        );
        header.push("status".into());
        let mut table = vec![header];
        for r in &self.rows {
            let mut row = vec![
                r.case_id.clone(),
                r.split
                    .map_or("-".into(), |s| format!("{s:?}").to_lowercase()),
                r.dims
                    .map_or("-".into(), |d| format!("{}x{}x{}", d[0], d[1], d[2])),
                r.spacing.map_or("-".into(), |s| {
                    format!("{:.3}x{:.3}x{:.2}", s[0], s[1], s[2])
                }),
            ];
            row.extend(values.iter().map(|v| {
                if r.is_imported() {
                    r.label_voxels.get(v).copied().unwrap_or(0).to_string()
                } else {
                    "-".into()
                }
            }));
            row.push(match &r.status {
                CaseStatus::Imported { notes } if notes.is_empty() => "imported".into(),
                CaseStatus::Imported { notes } => format!("imported ({})", notes.join("; ")),
                CaseStatus::Skipped { reason } => format!("skipped: {reason}"),
            });
            table.push(row);
        }
        let n = table[0].len();
        let widths: Vec<usize> = (0..n)
            .map(|c| {
                table
                    .iter()
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &table {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, s)| {
                    if c + 1 == n {
                        s.clone()
                    } else {
                        format!("{s:<w$}", w = widths[c])
                    }
                })
                .collect();
            writeln!(f, "{}", cells.join("  ").trim_end())?;
        }
        write!(
            f,
            "{} imported, {} skipped -> {}",
            self.imported(),
            self.skipped(),
            self.out.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned_and_names_the_classes() {
        let summary = ImportSummary {
            out: PathBuf::from("/data/prostate"),
            rows: vec![
                CaseRow {
                    case_id: "Prostate3T-01-0001".into(),
                    split: Some(Split::Train),
                    dims: Some([320, 320, 15]),
                    spacing: Some([0.625, 0.625, 3.6]),
                    label_voxels: BTreeMap::from([(1, 1200), (2, 34000)]),
                    status: CaseStatus::Imported { notes: vec![] },
                },
                CaseRow {
                    case_id: "ProstateDx-01-0055".into(),
                    split: Some(Split::Test),
                    dims: None,
                    spacing: None,
                    label_voxels: BTreeMap::new(),
                    status: CaseStatus::Skipped {
                        reason: "no image folder".into(),
                    },
                },
            ],
        };
        let text = summary.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains("PZ (1)") && lines[0].contains("CG (2)"),
            "{text}"
        );
        let col = lines[0].find("status").unwrap();
        assert_eq!(lines[1].find("imported"), Some(col));
        assert_eq!(lines[2].find("skipped: no image folder"), Some(col));
        assert!(lines[3].starts_with("1 imported, 1 skipped"));
        assert_eq!(
            summary.splits().train,
            vec!["Prostate3T-01-0001".to_string()]
        );
    }
}
