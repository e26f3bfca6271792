//! Arbitrary bytes as a `.npy` file: open, describe and read it as a datacube source.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.npy");
    std::fs::write(&p, data).unwrap();
    if let Ok(mut r) = mro_core::NpyReader::open(&p) {
        // Opening succeeded, so the file holds every declared byte: reading is bounded by it.
        let _ = r.read_all_f32();
    }
    for scan in [None, Some([1, 1]), Some([2, 3])] {
        if let Ok(mut s) = mro_core::FrameSource::open(&p, None, scan) {
            let mut buf = vec![0f32; s.frame_len()];
            let _ = s.read_frames(0, &mut buf);
        }
    }
});
