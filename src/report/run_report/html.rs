//! Standalone HTML5 rendering of the report: one file with inline CSS and every figure embedded as a
//! base64 `data:` URI, so it can be mailed or archived without the PNG files.

use std::fmt::Write;

use super::base64;
use super::doc::{Block, Doc};

/// The page's stylesheet, inlined into `<style>` (`assets/report/style.css`).
const STYLE: &str = include_str!("../../../assets/report/style.css");

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text and turns backtick pairs into `<code>` spans (an unpaired backtick stays literal).
fn inline(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    if parts.len() % 2 == 0 {
        return escape(text);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", escape(p))
            } else {
                escape(p)
            }
        })
        .collect()
}

/// Renders the whole document as one HTML5 page.
pub(crate) fn render(doc: &Doc) -> String {
    let mut h = String::new();
    // Writing into a String cannot fail.
    let _ = write_all(&mut h, doc);
    h
}

fn write_all(h: &mut String, doc: &Doc) -> std::fmt::Result {
    let title = escape(&doc.title);
    writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
    )?;
    writeln!(
        h,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(h, "<title>{title}</title>\n<style>{STYLE}</style>\n</head>")?;
    writeln!(h, "<body>\n<main>\n<h1>{title}</h1>")?;
    for block in &doc.blocks {
        match block {
            Block::Heading(level, text) => writeln!(h, "<h{level}>{}</h{level}>", inline(text))?,
            Block::Para(text) => writeln!(h, "<p>{}</p>", inline(text))?,
            Block::Warning(text) => writeln!(
                h,
                "<div class=\"warn\" role=\"note\"><strong>Warning:</strong> {}</div>",
                inline(text)
            )?,
            Block::List(items) => {
                writeln!(h, "<ul>")?;
                for item in items {
                    writeln!(h, "<li>{}</li>", inline(item))?;
                }
                writeln!(h, "</ul>")?;
            }
            Block::Table(t) => {
                writeln!(h, "<table>\n<thead><tr>")?;
                for c in &t.head {
                    write!(h, "<th>{}</th>", inline(c))?;
                }
                writeln!(h, "</tr></thead>\n<tbody>")?;
                for row in &t.rows {
                    write!(h, "<tr>")?;
                    for c in row {
                        write!(h, "<td>{}</td>", inline(c))?;
                    }
                    writeln!(h, "</tr>")?;
                }
                writeln!(h, "</tbody>\n</table>")?;
            }
            Block::Image { file, caption } => writeln!(
                h,
                "<figure><img src=\"data:image/png;base64,{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
                base64::encode(doc.image_bytes(file)),
                escape(caption),
                inline(caption)
            )?,
            Block::Code(text) => {
                writeln!(h, "<pre><code>{}</code></pre>", escape(text.trim_end()))?
            }
        }
    }
    writeln!(h, "</main>\n</body>\n</html>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_marks_code_spans() {
        assert_eq!(
            inline("a < b & `x<y>` \"q\""),
            "a &lt; b &amp; <code>x&lt;y&gt;</code> &quot;q&quot;"
        );
        assert_eq!(inline("one ` tick"), "one ` tick");
    }
}
