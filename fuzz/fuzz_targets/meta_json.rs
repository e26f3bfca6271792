//! Arbitrary text as meta.json.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mro_core::Meta::parse(text, std::path::Path::new("meta.json"));
    }
});
