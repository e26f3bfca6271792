//! Replays `fuzz/regressions/<target>/*` — inputs that found faults while fuzzing, and the
//! seeds that reach the refusal paths — through what each cargo fuzz target calls. A panic
//! fails the test. Run the fuzzers themselves with `cargo +nightly fuzz run TARGET` in `fuzz/`.

use std::path::{Path, PathBuf};

use mro_core::{empad, FrameSource, Meta, NpyReader};

use crate::support::repo;

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = repo().join("fuzz/regressions").join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "{}: empty", dir.display());
    v
}

fn open_and_read(path: &Path, scan: Option<[usize; 2]>) {
    if let Ok(mut s) = FrameSource::open(path, None, scan) {
        let mut buf = vec![0f32; s.frame_len()];
        let _ = s.read_frames(0, &mut buf);
    }
}

#[test]
fn npy_header_regressions() {
    let dir = tempfile::tempdir().unwrap();
    for input in inputs("npy_header") {
        let p = dir.path().join("f.npy");
        std::fs::copy(&input, &p).unwrap();
        if let Ok(mut r) = NpyReader::open(&p) {
            let _ = r.read_all_f32();
        }
        for scan in [None, Some([1, 1]), Some([2, 3])] {
            open_and_read(&p, scan);
        }
    }
}

#[test]
fn meta_json_regressions() {
    for input in inputs("meta_json") {
        let bytes = std::fs::read(&input).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = Meta::parse(text, Path::new("meta.json"));
        }
    }
}

#[test]
fn analysis_config_regressions() {
    for input in inputs("analysis_config") {
        let Ok(text) = std::fs::read_to_string(&input) else {
            continue;
        };
        let Ok(table) = toml::from_str::<toml::Table>(&text) else {
            continue;
        };
        if let Some(section) = table.get("analysis") {
            if let Ok(c) = section.clone().try_into::<mro_analysis::AnalysisConfig>() {
                if c.validate().is_ok() {
                    let _ = (c.summed_symmetries(), c.azimuth_bins());
                }
            }
        }
    }
}

#[test]
fn empad_open_regressions() {
    for input in inputs("empad_open") {
        let dir = tempfile::tempdir().unwrap();
        let xml = dir.path().join("acq.xml");
        std::fs::copy(&input, &xml).unwrap();
        std::fs::write(
            dir.path().join("a.raw"),
            vec![0u8; empad::FRAME_BYTES as usize],
        )
        .unwrap();
        let bytes = std::fs::read(&input).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = (
                empad::scan_shape_from_xml(text),
                empad::raw_file_from_xml(text),
            );
        }
        open_and_read(&xml, None);
        open_and_read(&dir.path().join("a.raw"), None);
    }
}
