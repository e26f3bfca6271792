//! `report.html`: a [`Document`] as one self-contained HTML page — figures embedded as base64
//! PNG, tables sortable by a click on a column header (a few lines of inline JavaScript), no
//! network access, readable in any browser.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::document::{Block, Document, Table};

/// The page's style sheet.
const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:72em;\
margin:2em auto;padding:0 1em;line-height:1.45;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em;\
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}\
th.sortable{cursor:pointer;background:#f2f2f2}th.sortable:after{content:' \\2195';color:#999}\
figure{margin:2em 0}img{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{font-style:italic;color:#444}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}\
code{background:#f6f6f6;padding:0 .2em}dl.notes dt{font-weight:bold}dl.notes dd{margin:0 0 .4em 1.5em}";

/// Sorts a table by the clicked column: numerically by `data-sort` where cells have it, else
/// by text; a second click reverses. Cells without a value sort last.
const SORT_JS: &str = "document.querySelectorAll('table.sortable').forEach(function(t){\
t.querySelectorAll('th').forEach(function(th,i){th.classList.add('sortable');\
th.addEventListener('click',function(){var b=t.tBodies[0],rows=Array.from(b.rows),\
asc=th.dataset.dir!=='asc';t.querySelectorAll('th').forEach(function(h){delete h.dataset.dir});\
th.dataset.dir=asc?'asc':'desc';function key(r){var c=r.cells[i];\
return c.dataset.sort!==undefined?parseFloat(c.dataset.sort):c.textContent.trim()}\
rows.sort(function(x,y){var a=key(x),c=key(y),m=asc?1:-1;\
if(typeof a==='number'&&typeof c==='number')return (a-c)*m;\
if(typeof a==='number')return -1;if(typeof c==='number')return 1;\
if(a==='\u{2014}'&&c!=='\u{2014}')return 1;if(c==='\u{2014}'&&a!=='\u{2014}')return -1;\
return a.localeCompare(c)*m});rows.forEach(function(r){b.appendChild(r)})})})});";

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            _ => s.push(c),
        }
    }
    s
}

/// The document's inline markup (`` `code` ``, `**bold**`) as escaped HTML.
pub fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, code_part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(code_part));
            continue;
        }
        for (j, part) in code_part.split("**").enumerate() {
            if j % 2 == 1 {
                let _ = write!(out, "<strong>{}</strong>", escape(part));
            } else {
                out.push_str(&escape(part));
            }
        }
    }
    out
}

/// Standard base64 (RFC 4648 §4) with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                s.push(ALPHABET[(v >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn table(s: &mut String, t: &Table) {
    s.push_str("<table class=\"sortable\"><thead><tr>");
    for c in &t.columns {
        let _ = write!(
            s,
            "<th title=\"{}\">{}</th>",
            escape(&c.meaning),
            inline(&c.name)
        );
    }
    s.push_str("</tr></thead><tbody>\n");
    for row in &t.rows {
        s.push_str("<tr>");
        for cell in row {
            match cell.sort {
                Some(v) => {
                    let _ = write!(
                        s,
                        "<td class=\"num\" data-sort=\"{v}\">{}</td>",
                        inline(&cell.text)
                    );
                }
                None => {
                    let _ = write!(s, "<td>{}</td>", inline(&cell.text));
                }
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n<p>Columns (click a header to sort):</p><dl class=\"notes\">");
    for c in &t.columns {
        let _ = write!(
            s,
            "<dt>{}</dt><dd>{}</dd>",
            inline(&c.name),
            inline(&c.meaning)
        );
    }
    s.push_str("</dl>\n");
    if !t.glossary.is_empty() {
        s.push_str("<p>Quantities:</p><dl class=\"notes\">");
        for (term, meaning) in &t.glossary {
            let _ = write!(
                s,
                "<dt><code>{}</code></dt><dd>{}</dd>",
                escape(term),
                inline(meaning)
            );
        }
        s.push_str("</dl>\n");
    }
}

/// The document as one HTML page; figures are read from `dir` and embedded.
///
/// Errors: a figure file that cannot be read (named in the message).
pub fn render(doc: &Document, dir: &Path) -> Result<String> {
    let title = doc.title.replace('`', "");
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        escape(&title),
        inline(&doc.title)
    );
    for block in &doc.blocks {
        match block {
            Block::Heading(h) => {
                let _ = writeln!(s, "<h2>{}</h2>", inline(h));
            }
            Block::Paragraph(p) => {
                let _ = writeln!(s, "<p>{}</p>", inline(p));
            }
            Block::Code(c) => {
                let _ = writeln!(s, "<pre><code>{}</code></pre>", escape(c));
            }
            Block::Facts(facts) => {
                s.push_str("<table><tbody>");
                for (k, v) in facts {
                    let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", inline(k), inline(v));
                }
                s.push_str("</tbody></table>\n");
            }
            Block::Table(t) => table(&mut s, t),
            Block::Figure { file, caption } => {
                let path = dir.join(file);
                let png = std::fs::read(&path)
                    .with_context(|| format!("{}: cannot embed the figure", path.display()))?;
                let _ = writeln!(
                    s,
                    "<figure><img src=\"data:image/png;base64,{}\" alt=\"{}\">\
                     <figcaption>{}</figcaption></figure>",
                    base64(&png),
                    escape(caption),
                    inline(caption)
                );
            }
        }
    }
    let _ = write!(s, "<script>{SORT_JS}</script>\n</body></html>\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Cell, Column};

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain}");
        }
    }

    #[test]
    fn inline_markup_is_escaped_and_rendered() {
        assert_eq!(
            inline("a <b> `x<y` **no** & c"),
            "a &lt;b&gt; <code>x&lt;y</code> <strong>no</strong> &amp; c"
        );
    }

    #[test]
    fn pages_embed_figures_and_carry_sort_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.png"), b"\x89PNG fake").unwrap();
        let doc = Document {
            title: "Report `x`".into(),
            blocks: vec![
                Block::Table(Table {
                    columns: vec![Column {
                        name: "n".into(),
                        meaning: "the symmetry".into(),
                    }],
                    rows: vec![vec![Cell::number("10", 10.0)], vec![Cell::text("—")]],
                    glossary: Vec::new(),
                }),
                Block::Figure {
                    file: "f.png".into(),
                    caption: "a <figure>".into(),
                },
            ],
        };
        let html = render(&doc, dir.path()).unwrap();
        assert!(html.contains("<title>Report x</title>"), "{html}");
        assert!(
            html.contains("<td class=\"num\" data-sort=\"10\">10</td>"),
            "{html}"
        );
        assert!(html.contains(&format!(
            "data:image/png;base64,{}",
            base64(b"\x89PNG fake")
        )));
        assert!(html.contains("<dt>n</dt><dd>the symmetry</dd>"), "{html}");
        assert!(!html.contains("http"), "no network: {html}");
        std::fs::remove_file(dir.path().join("f.png")).unwrap();
        let e = render(&doc, dir.path()).unwrap_err();
        assert!(
            format!("{e:#}").contains("f.png: cannot embed the figure"),
            "{e:#}"
        );
    }
}
