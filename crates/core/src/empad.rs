//! EMPAD `.raw` files: the frame layout and the scan shape from the XML written beside them.
//!
//! The EMPAD detector (Tate et al., Microsc. Microanal. 22, 2016, 237) writes each frame as
//! 130 rows × 128 columns of little-endian `float32`: 128 detector rows followed by 2 rows of
//! per-frame metadata, which mro drops. Frames follow one another in scan order, x fastest.
//! The acquisition XML (`<raw_file filename="…"/>`, and `<scan_parameters mode="acquire">` with
//! `<scan_resolution_x>` / `<scan_resolution_y>`, as read by LiberTEM and py4DSTEM) gives the
//! scan shape; without it, the shape comes from the file name (`…_x256_y128.raw`, the
//! acquisition software's default name) or from `--scan-shape Y,X`. Non-square scans keep
//! `Y` rows of `X` frames; the shape is never guessed from the frame count.

use std::path::{Path, PathBuf};

/// Detector rows kept per frame.
pub const DETECTOR_ROWS: usize = 128;
/// Detector columns per frame.
pub const DETECTOR_COLS: usize = 128;
/// Rows stored per frame: the detector rows plus two metadata rows.
pub const RAW_ROWS: usize = 130;
/// Bytes per stored frame.
pub const FRAME_BYTES: u64 = (RAW_ROWS * DETECTOR_COLS * 4) as u64;

/// Where an EMPAD scan shape came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanShapeSource {
    /// The acquisition XML beside the `.raw` file.
    Xml(PathBuf),
    /// The `_x{X}_y{Y}` part of the file name.
    FileName,
    /// `--scan-shape` on the command line.
    Given,
}

/// The scan shape `[y, x]` in an EMPAD acquisition XML, or `None` when the text does not name
/// one. Reads the `acquire` scan parameters (the ones the `.raw` file holds) when there are
/// several blocks, otherwise the first.
pub fn scan_shape_from_xml(text: &str) -> Option<[usize; 2]> {
    let block = text
        .match_indices("<scan_parameters")
        .map(|(i, _)| &text[i..])
        .find(|b| {
            let tag_end = b.find('>').unwrap_or(b.len());
            b[..tag_end].contains("\"acquire\"")
        })
        .or_else(|| text.find("<scan_parameters").map(|i| &text[i..]))?;
    let end = block.find("</scan_parameters>").unwrap_or(block.len());
    let block = &block[..end];
    let value = |tag: &str| -> Option<usize> {
        let open = format!("<{tag}>");
        let start = block.find(&open)? + open.len();
        let len = block[start..].find('<')?;
        block[start..start + len].trim().parse().ok()
    };
    Some([value("scan_resolution_y")?, value("scan_resolution_x")?])
}

/// The raw file an acquisition XML names (`<raw_file filename="…"/>`), if any.
pub fn raw_file_from_xml(text: &str) -> Option<String> {
    let i = text.find("<raw_file")?;
    let tag = &text[i..i + text[i..].find('>')?];
    let a = tag.find("filename=")? + "filename=".len();
    let q = tag[a..].chars().next()?;
    if q != '"' && q != '\'' {
        return None;
    }
    let rest = &tag[a + 1..];
    Some(rest[..rest.find(q)?].to_string())
}

/// The scan shape `[y, x]` in an acquisition file name such as `scan_x256_y128.raw`.
pub fn scan_shape_from_name(path: &Path) -> Option<[usize; 2]> {
    let stem = path.file_stem()?.to_str()?;
    let num_after = |key: &str| -> Option<usize> {
        let i = stem.rfind(key)? + key.len();
        let digits: String = stem[i..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    Some([num_after("_y")?, num_after("_x")?])
}

/// The acquisition XML for `raw`: a `.xml` file in the same directory whose `<raw_file>` names
/// `raw`, preferring the one with the same stem. Returns the XML path and its text.
pub fn find_xml(raw: &Path) -> Option<(PathBuf, String)> {
    let dir = raw.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = raw.file_name()?.to_str()?;
    let same_stem = raw.with_extension("xml");
    let mut candidates = vec![same_stem.clone()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut others: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")))
            .filter(|p| *p != same_stem)
            .collect();
        others.sort();
        candidates.extend(others);
    }
    for p in candidates {
        // An acquisition XML is a few kB; anything much larger is not one.
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if !meta.is_file() || meta.len() > 1 << 20 {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        let names_raw = raw_file_from_xml(&text).is_some_and(|f| {
            Path::new(&f.replace('\\', "/"))
                .file_name()
                .is_some_and(|f| f == name)
        });
        if names_raw || (p == raw.with_extension("xml") && text.contains("<scan_parameters")) {
            return Some((p, text));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0"?>
<root>
  <raw_file filename="C:\data\scan_x256_y256.raw"/>
  <scan_parameters mode="search">
    <scan_resolution_x>64</scan_resolution_x>
    <scan_resolution_y>64</scan_resolution_y>
  </scan_parameters>
  <scan_parameters mode="acquire">
    <scan_resolution_x>7</scan_resolution_x>
    <scan_resolution_y> 5 </scan_resolution_y>
  </scan_parameters>
</root>"#;

    #[test]
    fn xml_gives_the_acquire_shape_as_y_x() {
        assert_eq!(scan_shape_from_xml(XML), Some([5, 7]));
        assert_eq!(
            raw_file_from_xml(XML).as_deref(),
            Some(r"C:\data\scan_x256_y256.raw")
        );
        assert_eq!(scan_shape_from_xml("<root/>"), None);
        assert_eq!(
            scan_shape_from_xml("<scan_parameters><scan_resolution_x>9"),
            None
        );
    }

    #[test]
    fn file_name_gives_x_then_y() {
        assert_eq!(
            scan_shape_from_name(Path::new("/d/scan_x256_y128.raw")),
            Some([128, 256])
        );
        assert_eq!(scan_shape_from_name(Path::new("frames.raw")), None);
    }
}
