//! The reports a reader opens: `report.html` loaded in headless Chromium (every figure decodes
//! at its PNG's size, tables sort numerically) and the tables of `report.md` (rows by n, every
//! column and quantity explained, no negative zero).
//!
//! The browser test needs Debian's `chromium` (`.ci/run` installs it). Outside CI it is skipped
//! with a message when no browser is found; under `CI=true` a missing browser fails it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{expect_exit, png_size, repo, run_mro};

/// A headless browser: `$CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
}

/// Appended to a copy of the page: after load, records each image's decoded width, clicks the
/// `n` header once (ascending) and records that column.
const PROBE: &str = r#"<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images).map(function (i) { return i.complete ? i.naturalWidth : -1; });
  // The first table whose second column is n (the score tables; detectability's first is n).
  var table = Array.from(document.querySelectorAll('table.sortable')).find(function (t) {
    var th = t.querySelectorAll('th')[1];
    return th && th.textContent.trim().split(/\s/)[0] === 'n';
  });
  table.querySelectorAll('th')[1].click();
  var col = Array.from(table.tBodies[0].rows).map(function (r) { return r.cells[1].textContent; });
  var out = document.createElement('pre'); out.id = 'mro-probe';
  out.textContent = 'IMAGES ' + imgs.join(',') + '\nSORTED ' + col.join(',') + '\nEND';
  document.body.appendChild(out);
});
</script>"#;

/// Loads `page` in headless Chromium and returns the DOM after its scripts ran.
fn dump_dom(browser: &Path, page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("{}: cannot run: {e}", browser.display()));
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        browser.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The figure files `report.md` links, in order.
fn figure_links(report: &str) -> Vec<String> {
    report
        .split("](")
        .skip(1)
        .map(|p| p.split(')').next().unwrap().to_string())
        .collect()
}

/// The `n` column of the score table in `report.md`, in order.
fn n_column(report: &str) -> Vec<String> {
    let table = report
        .split("| quantity | n |")
        .nth(1)
        .expect("the score table")
        .split("\n\n")
        .next()
        .unwrap();
    table
        .lines()
        .skip(2)
        .map(|l| l.split('|').nth(2).unwrap().trim().to_string())
        .collect()
}

/// The header cells of every Markdown table in `md` (a `| … |` line followed by `|---`).
fn table_headers(md: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = md.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].starts_with('|') && w[1].starts_with("|---"))
        .map(|w| {
            w[0].trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// `true` when the numbers come in ascending order after any `—` rows, or before them with
/// `dashes_last`.
fn ascending(col: &[String], dashes_last: bool) -> bool {
    let numbers: Vec<f64> = col.iter().filter_map(|c| c.parse().ok()).collect();
    let dashes = col.iter().filter(|c| *c == "—").count();
    let dash_block = if dashes_last {
        &col[col.len() - dashes..]
    } else {
        &col[..dashes]
    };
    numbers.windows(2).all(|w| w[0] <= w[1])
        && numbers.len() + dashes == col.len()
        && dash_block.iter().all(|c| c == "—")
}

#[test]
fn the_reports_read_well_in_markdown_and_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = repo().join("scenarios/smoke/tiny.toml");
    expect_exit(&run_mro(&[&"validate", &smoke, &"--out", &dir.path()]), 0);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();

    // Tables: rows by n numerically, every column and quantity explained, no "-0.0000".
    let n = n_column(&md);
    assert!(ascending(&n, false), "rows not sorted by n: {n:?}");
    for column in [
        "quantity",
        "n",
        "truth",
        "recovered",
        "relative error",
        "tolerance",
        "within",
    ] {
        // Explained once under every table that has the column.
        let tables = table_headers(&md)
            .iter()
            .filter(|h| h.iter().any(|c| c == column))
            .count();
        assert!(tables >= 1, "no table has column {column}:\n{md}");
        assert_eq!(
            md.matches(&format!("- **{column}**: ")).count(),
            tables,
            "column {column} is not explained once per table:\n{md}"
        );
    }
    let score: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("score.json")).unwrap())
            .unwrap();
    for row in score["rows"].as_array().unwrap() {
        let q = row["quantity"].as_str().unwrap();
        assert!(
            md.contains(&format!("- `{q}`: ")),
            "quantity {q} is not explained:\n{md}"
        );
    }
    let negative_zero = md.split(|c: char| c.is_whitespace() || c == '|').find(|t| {
        t.len() > 1 && t.starts_with('-') && t[1..].chars().all(|c| c == '0' || c == '.')
    });
    assert_eq!(negative_zero, None, "a negative zero:\n{md}");

    // The HTML page: self-contained, one embedded image per figure of report.md.
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let figures = figure_links(&md);
    assert_eq!(figures.len(), 7, "{md}");
    assert_eq!(
        html.matches("<img src=\"data:image/png;base64,").count(),
        figures.len()
    );
    assert!(!html.contains("http://") && !html.contains("https://"));

    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no chromium to test report.html with (install Debian's `chromium`)"
        );
        eprintln!(
            "SKIPPED: the report.html browser check needs Debian's `chromium` (or $CHROMIUM); \
             none found"
        );
        return;
    };
    let page = dir.path().join("probe.html");
    std::fs::write(&page, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let dom = dump_dom(&browser, &page);
    let probe = dom
        .split("<pre id=\"mro-probe\">")
        .nth(1)
        .unwrap_or_else(|| panic!("the probe did not run; DOM:\n{dom}"));
    let line = |tag: &str| -> Vec<String> {
        let l = probe
            .lines()
            .find_map(|l| l.strip_prefix(tag))
            .unwrap_or_else(|| panic!("no {tag} in {probe}"));
        l.split(',').map(|s| s.trim().to_string()).collect()
    };
    let widths = line("IMAGES ");
    assert_eq!(widths.len(), figures.len(), "{probe}");
    for (w, file) in widths.iter().zip(&figures) {
        let (png_w, _) = png_size(&dir.path().join(file));
        assert_eq!(
            w.parse::<u32>().ok(),
            Some(png_w),
            "{file} did not render in the browser (naturalWidth {w}, PNG {png_w} wide)"
        );
    }
    let sorted = line("SORTED ");
    assert!(
        ascending(&sorted, true),
        "clicking n did not sort numerically: {sorted:?}"
    );
}
