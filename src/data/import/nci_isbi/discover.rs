//! Finding the NCI-ISBI cases on disk: label files (one NRRD per case, in a folder per split, with the
//! `_truth` and `_correctedLabels` naming quirks) and the DICOM folder of each case in the TCIA tree
//! (`<collection>/<case>/<study>/<series>/*.dcm`, nesting varies).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::data::dataset::Split;
use crate::error::{Error, Result};

/// The label chosen for one case.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct LabelFile {
    pub path: PathBuf,
    pub split: Split,
    /// The original label a `_correctedLabels` file replaced.
    pub replaces: Option<PathBuf>,
}

/// Case id → its label, or the reason it has no usable one.
pub(super) type Labels = BTreeMap<String, std::result::Result<LabelFile, (Split, String)>>;

/// The split of a label folder: from its name ("train", "leader", "test"), else from its position
/// (training, leaderboard, test).
pub(super) fn split_of_folder(dir: &Path, index: usize) -> Result<Split> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.contains("train") {
        return Ok(Split::Train);
    }
    if name.contains("leader") {
        return Ok(Split::Validation);
    }
    if name.contains("test") {
        return Ok(Split::Test);
    }
    match index {
        0 => Ok(Split::Train),
        1 => Ok(Split::Validation),
        2 => Ok(Split::Test),
        _ => Err(Error::invalid(
            dir,
            "cannot tell this label folder's split: give training, leaderboard, test folders in that order \
             or name them with 'train', 'leader' or 'test'",
        )),
    }
}

/// Reads every label folder; each case gets its label file, preferring `<case>_correctedLabels`.
pub(super) fn find_labels(dirs: &[PathBuf]) -> Result<Labels> {
    // case → (split, [(path, is_corrected)])
    let mut found: BTreeMap<String, Vec<(Split, PathBuf, bool)>> = BTreeMap::new();
    for (index, dir) in dirs.iter().enumerate() {
        let split = split_of_folder(dir, index)?;
        let mut files = Vec::new();
        walk_files(dir, &mut files)?;
        let mut n_labels = 0;
        for path in files {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some((case, corrected)) = case_of_label_name(&name) else {
                continue;
            };
            found
                .entry(case)
                .or_default()
                .push((split, path, corrected));
            n_labels += 1;
        }
        if n_labels == 0 {
            return Err(Error::invalid(
                dir,
                "no label files (.nrrd / .nhdr) in this label folder",
            ));
        }
    }
    Ok(found
        .into_iter()
        .map(|(case, files)| (case, choose(files)))
        .collect())
}

/// `Prostate3T-01-0001.nrrd` → ("Prostate3T-01-0001", false); `…_truth.nrrd` and
/// `…_correctedLabels.nrrd` (corrected = true) likewise; other files → None.
pub(super) fn case_of_label_name(name: &str) -> Option<(String, bool)> {
    let lower = name.to_lowercase();
    let ext = [".nrrd", ".nhdr"]
        .into_iter()
        .find(|e| lower.ends_with(e))?;
    let mut stem = &name[..name.len() - ext.len()];
    let mut corrected = false;
    loop {
        let l = stem.to_lowercase();
        if l.ends_with("_truth") {
            stem = &stem[..stem.len() - "_truth".len()];
        } else if l.ends_with("_correctedlabels") {
            stem = &stem[..stem.len() - "_correctedlabels".len()];
            corrected = true;
        } else {
            break;
        }
    }
    (!stem.is_empty() && !stem.starts_with('.')).then(|| (stem.to_string(), corrected))
}

fn choose(files: Vec<(Split, PathBuf, bool)>) -> std::result::Result<LabelFile, (Split, String)> {
    let split = files[0].0;
    if let Some(other) = files.iter().find(|f| f.0 != split) {
        return Err((
            split,
            format!(
                "labels in two splits: {} and {}",
                files[0].1.display(),
                other.1.display()
            ),
        ));
    }
    let (corrected, originals): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| f.2);
    let pick = |v: &[(Split, PathBuf, bool)],
                what: &str|
     -> std::result::Result<Option<PathBuf>, (Split, String)> {
        match v {
            [] => Ok(None),
            [one] => Ok(Some(one.1.clone())),
            [a, b, ..] => Err((
                split,
                format!("two {what} labels: {} and {}", a.1.display(), b.1.display()),
            )),
        }
    };
    let original = pick(&originals, "original")?;
    Ok(match pick(&corrected, "corrected")? {
        Some(path) => LabelFile {
            path,
            split,
            replaces: original,
        },
        None => LabelFile {
            path: original.expect("one file at least"),
            split,
            replaces: None,
        },
    })
}

/// Case id → its image folder: folders named like a case anywhere under `images` (not searched inside).
/// A case found twice maps to an error reason.
pub(super) fn find_image_folders(
    images: &Path,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<BTreeMap<String, std::result::Result<PathBuf, String>>> {
    if !images.is_dir() {
        return Err(Error::invalid(images, "image folder does not exist"));
    }
    let mut out: BTreeMap<String, std::result::Result<PathBuf, String>> = BTreeMap::new();
    let mut stack = vec![images.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in read_dir_sorted(&dir)? {
            if !entry.is_dir() {
                continue;
            }
            let name = entry.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if wanted(&name) || looks_like_case(&name) {
                let slot = out.entry(name).or_insert_with(|| Ok(entry.clone()));
                if let Ok(first) = slot.clone() {
                    if first != entry {
                        *slot = Err(format!(
                            "two image folders: {} and {}",
                            first.display(),
                            entry.display()
                        ));
                    }
                }
            } else {
                stack.push(entry);
            }
        }
    }
    Ok(out)
}

/// TCIA case folder names: `Prostate3T-01-0001`, `ProstateDx-01-0001`.
pub(super) fn looks_like_case(name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix("Prostate3T-")
        .or_else(|| name.strip_prefix("ProstateDx-"))
    else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() == 7
        && b[2] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
}

fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for path in read_dir_sorted(dir)? {
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            walk_files(&path, out)?
        } else {
            out.push(path)
        }
    }
    Ok(())
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::io(dir, e))?;
    v.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_and_splits() {
        assert_eq!(
            case_of_label_name("Prostate3T-01-0001.nrrd"),
            Some(("Prostate3T-01-0001".into(), false))
        );
        assert_eq!(
            case_of_label_name("ProstateDx-01-0001_truth.nrrd"),
            Some(("ProstateDx-01-0001".into(), false))
        );
        assert_eq!(
            case_of_label_name("ProstateDx-01-0006_correctedLabels.nrrd"),
            Some(("ProstateDx-01-0006".into(), true))
        );
        assert_eq!(case_of_label_name("README.txt"), None);
        assert!(looks_like_case("Prostate3T-01-0042") && looks_like_case("ProstateDx-01-0006"));
        assert!(!looks_like_case("Prostate3T-01-42") && !looks_like_case("1.3.6.1.4"));
        assert_eq!(
            split_of_folder(Path::new("/x/Leaderboard"), 0).unwrap(),
            Split::Validation
        );
        assert_eq!(split_of_folder(Path::new("/x/a"), 2).unwrap(), Split::Test);
        assert!(split_of_folder(Path::new("/x/a"), 3).is_err());
    }

    #[test]
    fn corrected_label_replaces_the_original() {
        let p = |s: &str| PathBuf::from(s);
        let got = choose(vec![
            (Split::Train, p("a/X.nrrd"), false),
            (Split::Train, p("a/X_correctedLabels.nrrd"), true),
        ]);
        assert_eq!(
            got,
            Ok(LabelFile {
                path: p("a/X_correctedLabels.nrrd"),
                split: Split::Train,
                replaces: Some(p("a/X.nrrd"))
            })
        );
        assert!(
            choose(vec![
                (Split::Train, p("a/X.nrrd"), false),
                (Split::Test, p("b/X_truth.nrrd"), false)
            ])
            .is_err()
        );
    }
}
