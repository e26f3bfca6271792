//! mro's integration tests: one binary, one module per topic.

mod cli_info;
mod control;
mod files;
mod html_report;
mod interop;
mod physics;
mod pipeline;
mod scenarios;
mod support;
mod tools;
