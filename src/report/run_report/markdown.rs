//! Markdown rendering of the report: GitHub-flavoured tables, figures as relative links to the PNG
//! files copied beside `report.md`.

use std::fmt::Write;

use super::doc::{Block, Doc};

/// A table cell: `|` would end the cell and a line break the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Renders the whole document.
pub(crate) fn render(doc: &Doc) -> String {
    let mut md = String::new();
    // Writing into a String cannot fail.
    let _ = write_all(&mut md, doc);
    md
}

fn write_all(md: &mut String, doc: &Doc) -> std::fmt::Result {
    writeln!(md, "# {}\n", doc.title)?;
    for block in &doc.blocks {
        match block {
            Block::Heading(level, text) => {
                writeln!(md, "{} {text}\n", "#".repeat(*level as usize))?
            }
            Block::Para(text) => writeln!(md, "{text}\n")?,
            Block::Warning(text) => writeln!(md, "> **Warning:** {text}\n")?,
            Block::List(items) => {
                for item in items {
                    writeln!(md, "- {item}")?;
                }
                writeln!(md)?;
            }
            Block::Table(t) => {
                let head: Vec<String> = t.head.iter().map(|c| cell(c)).collect();
                writeln!(md, "| {} |", head.join(" | "))?;
                writeln!(md, "|{}", "---|".repeat(t.head.len()))?;
                for row in &t.rows {
                    let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
                    writeln!(md, "| {} |", cells.join(" | "))?;
                }
                writeln!(md)?;
            }
            Block::Image { file, caption } => {
                writeln!(md, "![{caption}]({file})\n\n*{caption}*\n")?
            }
            Block::Code(text) => writeln!(md, "```sh\n{}\n```\n", text.trim_end())?,
        }
    }
    Ok(())
}
