//! `unet3d report`: one readable account of a training run — which data, what was trained and how, the
//! holdout results, and how they sit beside the paper's tables and the published NCI-ISBI 2013 results —
//! written as `report.md` (figures copied beside it, linked relatively) and a standalone `report.html`
//! (figures embedded). Every number of ours is read from the run, evaluation and explore folders; the
//! only typed-in numbers are the cited published ones (`published.rs`). The output carries no date, so
//! the same inputs always give the same files.

mod base64;
mod cv_section;
mod doc;
mod fmt;
mod html;
mod inputs;
mod markdown;
mod provenance;
mod published;
mod results;
mod setup;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use doc::Doc;
use inputs::Inputs;
use provenance::DataId;

use crate::error::Result;
use crate::metrics::evaluate::Evaluation;
use crate::util::fsio;

/// The two files [`write_report`] writes.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportPaths {
    pub markdown: PathBuf,
    pub html: PathBuf,
}

pub use inputs::load_explore;

/// Writes `out/report.md`, `out/report.html` and the figures the Markdown links to. Everything is
/// read and rendered before the first file is written, and every file is written atomically.
pub fn write_report(
    run: &Path,
    eval: Option<&Path>,
    explore: Option<&Path>,
    out: &Path,
) -> Result<ReportPaths> {
    write_report_with(run, eval, explore, &[], out)
}

/// [`write_report`] with cross-validation folders (`unet3d cv`): their tables, and the rows of
/// the paper's Tables 1 and 3 they measure.
pub fn write_report_with(
    run: &Path,
    eval: Option<&Path>,
    explore: Option<&Path>,
    cvs: &[&Path],
    out: &Path,
) -> Result<ReportPaths> {
    let inputs = Inputs::load(run, eval, explore, cvs)?;
    let doc = build(&inputs)?;
    let md = markdown::render(&doc);
    let page = html::render(&doc);
    fsio::create_dir(out)?;
    for (name, bytes) in &doc.images {
        fsio::write_atomic(&out.join(name), bytes)?;
    }
    let paths = ReportPaths {
        markdown: out.join("report.md"),
        html: out.join("report.html"),
    };
    fsio::write_atomic(&paths.markdown, md.as_bytes())?;
    fsio::write_atomic(&paths.html, page.as_bytes())?;
    Ok(paths)
}

/// The report's sections, in reading order.
fn build(inputs: &Inputs) -> Result<Doc> {
    let name = inputs.run.file_name().map_or_else(
        || inputs.run.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut doc = Doc::new(&format!("3D U-Net run report: {name}"));
    if let Some((_, e)) = &inputs.eval {
        doc.para(headline(e));
    }
    setup::data_statement(&mut doc, inputs);
    setup::data_summary(&mut doc, inputs)?;
    setup::model_and_training(&mut doc, inputs)?;
    results::holdout(&mut doc, inputs)?;
    cv_section::cross_validation(&mut doc, inputs);
    results::comparison(&mut doc, inputs);
    results::reproduce(&mut doc, inputs);
    Ok(doc)
}

/// One line with the holdout Dice per class, the case count and the data, e.g. "Holdout Dice:
/// peripheral zone 0.871, central gland 0.912 (n = 4, synthetic phantoms)".
pub fn headline(eval: &Evaluation) -> String {
    let dice: Vec<String> = eval
        .summary
        .classes
        .iter()
        .filter(|c| c.class != 0)
        .map(|c| {
            let v = c
                .dice
                .as_ref()
                .map_or("–".to_string(), |s| format!("{:.3}", s.mean));
            format!("{} {v}", c.name)
        })
        .collect();
    format!(
        "Holdout Dice: {} (n = {}, {})",
        dice.join(", "),
        eval.summary.n_cases,
        DataId::identify(&eval.dataset).label()
    )
}
