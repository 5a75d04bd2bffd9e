//! The report as a small document model (headings, paragraphs, warnings, tables, figures, code), built
//! once and rendered twice — Markdown and standalone HTML — so both files always say the same thing.
//! Text is plain; a pair of backticks marks code (a path, a command), as in Markdown.

use std::path::Path;

use crate::error::{Error, Result};

/// A table: a header row and data rows of plain-text cells.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(head: &[&str]) -> Self {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

/// One block of the report.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Block {
    /// Level 2 or 3 (level 1 is the title).
    Heading(u8, String),
    Para(String),
    /// A prominent note the reader must not miss.
    Warning(String),
    List(Vec<String>),
    Table(Table),
    /// A figure copied into the output folder as `file`.
    Image {
        file: String,
        caption: String,
    },
    Code(String),
}

/// The whole report and the figure files it refers to.
#[derive(Clone, Debug, Default)]
pub(crate) struct Doc {
    pub title: String,
    pub blocks: Vec<Block>,
    /// `(file name in the output folder, PNG bytes)`.
    pub images: Vec<(String, Vec<u8>)>,
}

impl Doc {
    pub fn new(title: &str) -> Self {
        Doc {
            title: title.into(),
            ..Doc::default()
        }
    }

    pub fn h2(&mut self, text: &str) {
        self.blocks.push(Block::Heading(2, text.into()));
    }

    pub fn h3(&mut self, text: &str) {
        self.blocks.push(Block::Heading(3, text.into()));
    }

    pub fn para(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Para(text.into()));
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Warning(text.into()));
    }

    pub fn list(&mut self, items: Vec<String>) {
        self.blocks.push(Block::List(items));
    }

    pub fn table(&mut self, table: Table) {
        self.blocks.push(Block::Table(table));
    }

    pub fn code(&mut self, text: impl Into<String>) {
        self.blocks.push(Block::Code(text.into()));
    }

    /// Adds the figure at `src` under the name `file`; a missing file becomes a note in the report
    /// (figures are optional), an unreadable one an error naming it.
    pub fn image(&mut self, src: &Path, file: &str, caption: &str) -> Result<()> {
        match std::fs::read(src) {
            Ok(bytes) => {
                if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                    return Err(Error::invalid(src, "not a PNG file"));
                }
                self.images.push((file.to_string(), bytes));
                self.blocks.push(Block::Image {
                    file: file.to_string(),
                    caption: caption.to_string(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.para(format!("Figure not found: `{}`.", src.display()));
            }
            Err(e) => return Err(Error::io(src, e)),
        }
        Ok(())
    }

    /// The PNG bytes of figure `file`.
    pub fn image_bytes(&self, file: &str) -> &[u8] {
        self.images
            .iter()
            .find(|(name, _)| name == file)
            .map_or(&[][..], |(_, b)| b.as_slice())
    }
}
