//! mro's integration tests: one binary, one module per topic.

mod bad_inputs;
mod cli_info;
mod fuzz_corpus;
mod hostile;
mod interop;
mod physics;
mod pipeline;
mod readers;
mod scenarios;
mod support;
