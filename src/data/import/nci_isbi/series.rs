//! Choosing a case's image series. The NCI-ISBI download has one T2 series per case, but a folder taken
//! from the full TCIA collections holds several (T1, T2, DWI, ...); then the series the label fits —
//! same in-plane grid, inside the volume — is the one, and the choice is reported.

use std::path::Path;

use super::place::place_label;
use crate::data::io::dicom::{list_series, read_series};
use crate::data::{Image, LabelMap};

/// Why no series could be used; `{label}` in `text` stands for the label file. `grid` is the image's
/// (dims, spacing) when a single series was read.
pub(super) struct NoSeries {
    pub text: String,
    pub grid: Option<([usize; 3], [f64; 3])>,
}

/// The image, the label placed on its grid, and notes about what was reconciled.
pub(super) fn choose(
    dir: &Path,
    label: &LabelMap,
) -> Result<(Image, LabelMap, Vec<String>), NoSeries> {
    let fail = |text: String| NoSeries { text, grid: None };
    let series = list_series(dir).map_err(|e| fail(format!("image: {e}")))?;
    if series.len() == 1 {
        let image = read_series(dir, None).map_err(|e| fail(format!("image: {e}")))?;
        return match place_label(label, &image) {
            Ok((placed, note)) => Ok((image, placed, note.into_iter().collect())),
            Err(reason) => Err(NoSeries {
                text: format!("{{label}}: {reason}"),
                grid: Some((image.dims, image.spacing)),
            }),
        };
    }
    let mut fits = Vec::new();
    let mut tried = Vec::new();
    for s in &series {
        let outcome = read_series(dir, Some(&s.uid))
            .map_err(|e| e.to_string())
            .and_then(|image| {
                place_label(label, &image).map(|(placed, note)| (image, placed, note))
            });
        match outcome {
            Ok(found) => fits.push((s, found)),
            Err(reason) => tried.push(format!("{} '{}': {reason}", s.uid, s.description)),
        }
    }
    match fits.len() {
        1 => {
            let (s, (image, placed, note)) = fits.pop().unwrap();
            let mut notes = vec![format!(
                "series {} '{}' chosen among {} by the label's grid",
                s.uid,
                s.description,
                series.len()
            )];
            notes.extend(note);
            Ok((image, placed, notes))
        }
        0 => Err(fail(format!(
            "{{label}} fits none of the {} series in {}: {}",
            series.len(),
            dir.display(),
            tried.join("; ")
        ))),
        _ => {
            let names: Vec<String> = fits
                .iter()
                .map(|(s, _)| format!("{} '{}'", s.uid, s.description))
                .collect();
            Err(fail(format!(
                "{{label}} fits {} series in {}, cannot choose: {}",
                fits.len(),
                dir.display(),
                names.join("; ")
            )))
        }
    }
}
