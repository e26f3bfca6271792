//! A report as data: headings, paragraphs, fact lists, tables with their column meanings, and
//! figures. `report.md` ([`Document::to_markdown`]) and `report.html` ([`crate::html`]) are both
//! rendered from one [`Document`], so a section added to the document appears in both.
//!
//! Paragraph text and table cells use a tiny inline markup, the common subset of Markdown:
//! `` `code` `` and `**bold**`.

use std::fmt::Write as _;

/// A report: a title and its blocks, in reading order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// The page title (the level-1 heading).
    pub title: String,
    /// The content.
    pub blocks: Vec<Block>,
}

/// One block of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading (level 2).
    Heading(String),
    /// A paragraph of inline-marked-up text.
    Paragraph(String),
    /// A shell command or other literal text, shown verbatim.
    Code(String),
    /// Label–value pairs (a header-less two-column table).
    Facts(Vec<(String, String)>),
    /// A data table.
    Table(Table),
    /// A figure: an image file beside the report, and its caption.
    Figure {
        /// File name relative to the report's directory.
        file: String,
        /// What the figure shows, one or two sentences.
        caption: String,
    },
}

/// A data table whose columns are each explained once, under the table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The rows; each has one cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// Terms used in the cells, explained under the column list (`(term, meaning)`).
    pub glossary: Vec<(String, String)>,
}

/// A table column: its header and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The header.
    pub name: String,
    /// One sentence on what the column holds, shown under the table.
    pub meaning: String,
}

/// A table cell: its text and, for numbers, the value a browser sorts by.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The text shown (inline markup allowed).
    pub text: String,
    /// The numeric value the HTML table sorts by; `None` sorts as text.
    pub sort: Option<f64>,
}

impl Cell {
    /// A text cell.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            sort: None,
        }
    }

    /// A numeric cell: `text` shown, sorted by `value`.
    pub fn number(text: impl Into<String>, value: f64) -> Self {
        Self {
            text: text.into(),
            sort: value.is_finite().then_some(value),
        }
    }
}

/// The text shown for a missing value.
pub const MISSING: &str = "—";

/// `v` with `decimals` digits after the point; never `-0.000` (a value that rounds to zero
/// prints without a sign), and `—` for a non-finite value. The one formatter of report numbers.
pub fn number(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return MISSING.into();
    }
    let s = format!("{v:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

/// A count: the nearest integer, without decimals.
pub fn count(v: f64) -> String {
    number(v.round(), 0)
}

/// A signed percentage of a fraction: `0.154` → `+15.4 %`; zero prints as `0.0 %`.
pub fn percent_signed(fraction: f64) -> String {
    let s = number(100.0 * fraction, 1);
    if s == MISSING || s.starts_with('-') || s.chars().all(|c| c == '0' || c == '.') {
        format!("{s} %")
    } else {
        format!("+{s} %")
    }
}

/// Escapes the characters Markdown tables give a meaning to.
fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl Document {
    /// The document as GitHub-flavoured Markdown.
    pub fn to_markdown(&self) -> String {
        let mut s = format!("# {}\n\n", self.title);
        for block in &self.blocks {
            match block {
                Block::Heading(h) => {
                    let _ = writeln!(s, "## {h}\n");
                }
                Block::Paragraph(p) => {
                    let _ = writeln!(s, "{p}\n");
                }
                Block::Code(c) => {
                    let _ = writeln!(s, "```sh\n{c}\n```\n");
                }
                Block::Facts(facts) => {
                    s.push_str("| | |\n|---|---|\n");
                    for (k, v) in facts {
                        let _ = writeln!(s, "| {} | {} |", md_cell(k), md_cell(v));
                    }
                    s.push('\n');
                }
                Block::Table(t) => s.push_str(&t.to_markdown()),
                Block::Figure { file, caption } => {
                    let _ = writeln!(s, "![{caption}]({file})\n\n*{caption}*\n");
                }
            }
        }
        s
    }
}

impl Table {
    /// The table, then one line per column and per glossary term.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| md_cell(&c.name)).collect();
        let _ = writeln!(s, "| {} |", header.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(self.columns.len()));
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| md_cell(&c.text)).collect();
            let _ = writeln!(s, "| {} |", cells.join(" | "));
        }
        s.push_str("\nColumns:\n\n");
        for c in &self.columns {
            let _ = writeln!(s, "- **{}**: {}", c.name, c.meaning);
        }
        if !self.glossary.is_empty() {
            s.push_str("\nQuantities:\n\n");
            for (term, meaning) in &self.glossary {
                let _ = writeln!(s, "- `{term}`: {meaning}");
            }
        }
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_never_print_a_negative_zero() {
        assert_eq!(number(-0.0, 4), "0.0000");
        assert_eq!(number(-0.00001, 4), "0.0000");
        assert_eq!(number(-0.00006, 4), "-0.0001");
        assert_eq!(number(1.23456, 2), "1.23");
        assert_eq!(number(f64::NAN, 2), MISSING);
        assert_eq!(count(600.0), "600");
        assert_eq!(count(-0.2), "0");
        assert_eq!(percent_signed(0.154), "+15.4 %");
        assert_eq!(percent_signed(-0.0001), "0.0 %");
        assert_eq!(percent_signed(-0.48), "-48.0 %");
    }

    #[test]
    fn markdown_explains_every_column_once_under_its_table() {
        let doc = Document {
            title: "t".into(),
            blocks: vec![Block::Table(Table {
                columns: vec![
                    Column {
                        name: "n".into(),
                        meaning: "the symmetry".into(),
                    },
                    Column {
                        name: "x|y".into(),
                        meaning: "a value".into(),
                    },
                ],
                rows: vec![vec![Cell::number("2", 2.0), Cell::text("a")]],
                glossary: vec![("a".into(), "the letter".into())],
            })],
        };
        let md = doc.to_markdown();
        assert!(md.contains("| n | x\\|y |\n|---|---|\n| 2 | a |\n"), "{md}");
        assert_eq!(md.matches("- **n**: the symmetry").count(), 1, "{md}");
        assert!(md.contains("- `a`: the letter"), "{md}");
    }
}
