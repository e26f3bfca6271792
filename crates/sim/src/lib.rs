//! Glass volumes with embedded n-fold MRO clusters and the nanodiffraction forward model.
