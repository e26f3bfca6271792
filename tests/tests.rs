//! mro's integration tests: one binary, one module per topic.

mod interop;
mod support;
