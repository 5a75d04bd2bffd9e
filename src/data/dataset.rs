//! The project's dataset layout on disk (nnU-Net-like), read by every command after import/synth:
//!
//! ```text
//! DATASET/dataset.json
//! DATASET/imagesTr/<case>.nii.gz   DATASET/labelsTr/<case>.nii.gz   (train + validation cases)
//! DATASET/imagesTs/<case>.nii.gz   DATASET/labelsTs/<case>.nii.gz   (test cases)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::io::{read_image, read_labels};
use crate::data::{Image, LabelMap};
use crate::error::{Error, Result};
use crate::util::fsio;

pub const SPEC_FILE: &str = "dataset.json";
pub const FILE_ENDING: &str = ".nii.gz";

/// Which cases are used for what.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Splits {
    pub train: Vec<String>,
    pub validation: Vec<String>,
    pub test: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
    Test,
}

/// Contents of `dataset.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Channel index → modality name, e.g. `{"0": "T2"}`.
    pub modality: BTreeMap<String, String>,
    /// Label value → name, e.g. `{"0": "background", "1": "peripheral zone", "2": "central gland"}`.
    pub labels: BTreeMap<String, String>,
    pub file_ending: String,
    pub splits: Splits,
}

impl DatasetSpec {
    /// The prostate spec shared by the NCI-ISBI importer and the phantoms.
    pub fn prostate(name: &str, description: &str, splits: Splits) -> Self {
        DatasetSpec {
            name: name.into(),
            description: description.into(),
            modality: BTreeMap::from([("0".into(), "T2".into())]),
            labels: BTreeMap::from([
                ("0".into(), "background".into()),
                ("1".into(), "peripheral zone".into()),
                ("2".into(), "central gland".into()),
            ]),
            file_ending: FILE_ENDING.into(),
            splits,
        }
    }

    /// Number of classes including background (max label value + 1).
    pub fn num_classes(&self) -> usize {
        self.label_values()
            .last()
            .map(|&v| v as usize + 1)
            .unwrap_or(1)
    }

    /// Declared label values, sorted.
    pub fn label_values(&self) -> Vec<u8> {
        let mut v: Vec<u8> = self.labels.keys().filter_map(|k| k.parse().ok()).collect();
        v.sort_unstable();
        v
    }

    /// Name of a label value ("label 3" when undeclared).
    pub fn label_name(&self, value: u8) -> String {
        self.labels
            .get(&value.to_string())
            .cloned()
            .unwrap_or_else(|| format!("label {value}"))
    }

    pub fn cases(&self, split: Split) -> &[String] {
        match split {
            Split::Train => &self.splits.train,
            Split::Validation => &self.splits.validation,
            Split::Test => &self.splits.test,
        }
    }
}

/// One case loaded from disk: the image and its label map on the same grid.
#[derive(Clone, Debug)]
pub struct Case {
    pub id: String,
    pub image: Image,
    pub label: LabelMap,
}

/// A dataset folder with its parsed spec.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub root: PathBuf,
    pub spec: DatasetSpec,
}

impl Dataset {
    /// Opens `root/dataset.json` and checks the split lists name distinct cases.
    pub fn open(root: &Path) -> Result<Self> {
        let path = root.join(SPEC_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let spec: DatasetSpec = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(&path, format!("not a dataset.json: {e}")))?;
        let mut seen = std::collections::BTreeSet::new();
        for id in spec
            .splits
            .train
            .iter()
            .chain(&spec.splits.validation)
            .chain(&spec.splits.test)
        {
            if !seen.insert(id) {
                return Err(Error::invalid(
                    &path,
                    format!("case {id} is listed in more than one split"),
                ));
            }
        }
        Ok(Dataset {
            root: root.to_path_buf(),
            spec,
        })
    }

    /// Creates the folder layout and writes `dataset.json` atomically.
    pub fn create(root: &Path, spec: DatasetSpec) -> Result<Self> {
        for sub in ["imagesTr", "labelsTr", "imagesTs", "labelsTs"] {
            fsio::create_dir(&root.join(sub))?;
        }
        let ds = Dataset {
            root: root.to_path_buf(),
            spec,
        };
        ds.save_spec()?;
        Ok(ds)
    }

    pub fn save_spec(&self) -> Result<()> {
        let json = serde_json::to_string_pretty(&self.spec).expect("spec serialises");
        fsio::write_atomic(&self.root.join(SPEC_FILE), json.as_bytes())
    }

    fn is_test(&self, id: &str) -> bool {
        self.spec.splits.test.iter().any(|c| c == id)
    }

    pub fn image_path(&self, id: &str) -> PathBuf {
        let dir = if self.is_test(id) {
            "imagesTs"
        } else {
            "imagesTr"
        };
        self.root
            .join(dir)
            .join(format!("{id}{}", self.spec.file_ending))
    }

    pub fn label_path(&self, id: &str) -> PathBuf {
        let dir = if self.is_test(id) {
            "labelsTs"
        } else {
            "labelsTr"
        };
        self.root
            .join(dir)
            .join(format!("{id}{}", self.spec.file_ending))
    }

    /// Every case id in split order (train, validation, test).
    pub fn all_cases(&self) -> Vec<String> {
        let s = &self.spec.splits;
        s.train
            .iter()
            .chain(&s.validation)
            .chain(&s.test)
            .cloned()
            .collect()
    }

    /// Loads a case and checks that the label sits on the image grid and uses only declared values.
    pub fn load_case(&self, id: &str) -> Result<Case> {
        let image = read_image(&self.image_path(id))?;
        let label_path = self.label_path(id);
        let label = read_labels(&label_path)?;
        check_label_on_image(&label_path, &image, &label)?;
        check_label_values(&label_path, &label, &self.spec.label_values())?;
        Ok(Case {
            id: id.to_string(),
            image,
            label,
        })
    }
}

/// A label map must share its image's grid (dims and affine within 1e-3 mm).
pub fn check_label_on_image(label_path: &Path, image: &Image, label: &LabelMap) -> Result<()> {
    if image.dims != label.dims {
        return Err(Error::invalid(
            label_path,
            format!(
                "label grid {:?} does not match image grid {:?}",
                label.dims, image.dims
            ),
        ));
    }
    let d = image.affine.max_abs_diff(&label.affine);
    if d > 1e-3 {
        return Err(Error::invalid(
            label_path,
            format!("label affine differs from the image's by {d:.4} mm"),
        ));
    }
    Ok(())
}

/// Every voxel value must be one of the declared labels (or the ignore value 255).
pub fn check_label_values(label_path: &Path, label: &LabelMap, declared: &[u8]) -> Result<()> {
    let mut present = [false; 256];
    for &v in &label.data {
        present[v as usize] = true;
    }
    let unknown: Vec<u8> = (0..=254u8)
        .filter(|v| present[*v as usize] && !declared.contains(v))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::invalid(
            label_path,
            format!(
                "label values {unknown:?} are not declared in dataset.json (declared: {declared:?})"
            ),
        ));
    }
    Ok(())
}
