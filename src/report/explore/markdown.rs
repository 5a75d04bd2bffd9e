//! `explore.md`: the exploration summary as Markdown tables with the figures linked, for reading in
//! any viewer. The numbers are those of `explore.json`, formatted for people.

use std::fmt::Write;

use super::summary::ExploreSummary;
use crate::data::dataset::DatasetSpec;
use crate::plot::axes::format_value;

fn triple(v: [f64; 3], decimals: usize) -> String {
    format!("{:.d$} x {:.d$} x {:.d$}", v[0], v[1], v[2], d = decimals)
}

/// Renders the Markdown report.
pub(crate) fn markdown(spec: &DatasetSpec, s: &ExploreSummary) -> String {
    let mut md = String::new();
    // Writing into a String cannot fail.
    let _ = write_all(&mut md, spec, s);
    md
}

fn write_all(md: &mut String, spec: &DatasetSpec, s: &ExploreSummary) -> std::fmt::Result {
    writeln!(md, "# Dataset exploration: {}\n", s.dataset)?;
    if !spec.description.is_empty() {
        writeln!(md, "{}\n", spec.description)?;
    }
    writeln!(md, "## Summary\n")?;
    writeln!(md, "| quantity | value |\n|---|---|")?;
    let splits: Vec<String> = s
        .cases_per_split
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    writeln!(md, "| cases | {} ({}) |", s.n_cases, splits.join(", "))?;
    writeln!(
        md,
        "| median spacing (mm) | {} |",
        triple(s.median_spacing, 3)
    )?;
    writeln!(
        md,
        "| anisotropy (max/min median spacing) | {:.2} |",
        s.anisotropy
    )?;
    writeln!(
        md,
        "| median dims (voxels) | {} |",
        triple(s.median_dims, 0)
    )?;
    let modality: Vec<String> = spec
        .modality
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    writeln!(md, "| modality | {} |\n", modality.join(", "))?;

    writeln!(md, "## Labels\n")?;
    writeln!(md, "{}\n", s.label_mapping)?;
    writeln!(
        md,
        "| value | name | overlay colour | share of all voxels | median volume (mL) |\n|---|---|---|---|---|"
    )?;
    for c in &s.classes {
        let ml = c.median_ml.map_or("-".to_string(), |v| format!("{v:.2}"));
        writeln!(
            md,
            "| {} | {} | {} | {:.3} % | {ml} |",
            c.value,
            c.name,
            c.color_name,
            100.0 * c.voxel_fraction
        )?;
    }
    writeln!(md)?;

    writeln!(md, "## Cases\n")?;
    let structures: Vec<_> = s.classes.iter().filter(|c| c.value != 0).collect();
    let mut head = String::from(
        "| case | split | dims | spacing (mm) | p0.5 | p50 | p99.5 | min | max | foreground |",
    );
    let mut rule = String::from("|---|---|---|---|---|---|---|---|---|---|");
    for c in &structures {
        let _ = write!(head, " {} (mL) |", c.name);
        rule.push_str("---|");
    }
    writeln!(md, "{head}\n{rule}")?;
    for c in &s.cases {
        let i = &c.intensity;
        let [nx, ny, nz] = c.dims;
        write!(
            md,
            "| {} | {} | {nx} x {ny} x {nz} | {} | {} | {} | {} | {} | {} | {:.2} % |",
            c.id,
            c.split,
            triple(c.spacing, 3),
            format_value(i.p0_5),
            format_value(i.p50),
            format_value(i.p99_5),
            format_value(i.min),
            format_value(i.max),
            100.0 * c.foreground_fraction
        )?;
        for cl in &structures {
            let ml = c
                .labels
                .iter()
                .find(|l| l.value == cl.value)
                .map_or(0.0, |l| l.ml);
            write!(md, " {ml:.2} |")?;
        }
        writeln!(md)?;
    }
    writeln!(md)?;

    writeln!(md, "## Figures\n")?;
    let f = &s.figures;
    writeln!(
        md,
        "![Intensity distribution per case]({})\n",
        f.intensity_histogram
    )?;
    writeln!(md, "![Label volume per case]({})\n", f.label_volumes)?;
    if !f.montages.is_empty() {
        writeln!(md, "### Axial montages\n")?;
        writeln!(
            md,
            "Radiological view: anterior up, patient left on the image right; labels filled and outlined.\n"
        )?;
        for m in &f.montages {
            writeln!(md, "![{m}]({m})\n")?;
        }
    }
    Ok(())
}
