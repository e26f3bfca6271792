//! mro's integration tests: one binary, one module per topic.

mod atoms;
mod bad_inputs;
mod cli_info;
mod cli_synopsis;
mod control;
mod files;
mod fuzz_corpus;
mod hostile;
mod html_report;
mod interop;
mod physics;
mod pipeline;
mod readers;
mod readers_hdf5;
mod scenarios;
mod support;
mod tools;
