//! The Im et al. (2018) 4D-STEM medium-range-order analysis, for simulated or measured data.
