//! Arbitrary text as the [analysis] table of a config file: parse, validate and plan the bins.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(table) = toml::from_str::<toml::Table>(text) else { return };
    let Some(section) = table.get("analysis") else { return };
    if let Ok(config) = section.clone().try_into::<mro_analysis::AnalysisConfig>() {
        if config.validate().is_ok() {
            let _ = config.summed_symmetries();
            let _ = config.azimuth_bins();
        }
    }
});
