//! Arbitrary bytes as an EMPAD acquisition XML (and the raw file it may name).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("acq.xml");
    std::fs::write(&xml, data).unwrap();
    // One EMPAD frame under the names a fuzzed XML is likely to reach.
    let frame = vec![0u8; mro_core::empad::FRAME_BYTES as usize];
    std::fs::write(dir.path().join("a.raw"), &frame).unwrap();
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mro_core::empad::scan_shape_from_xml(text);
        let _ = mro_core::empad::raw_file_from_xml(text);
    }
    for path in [xml, dir.path().join("a.raw")] {
        if let Ok(mut s) = mro_core::FrameSource::open(&path, None, None) {
            let mut buf = vec![0f32; s.frame_len()];
            let _ = s.read_frames(0, &mut buf);
        }
    }
});
