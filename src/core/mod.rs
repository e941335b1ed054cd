//! The pure core: values in, values out. No tokio, no filesystem, no environment, no clock.

pub mod backfill;
pub mod checksum;
pub mod compare;
pub mod contract;
pub mod directives;
pub mod discover;
pub mod flight;
pub mod hint;
pub mod lexer;
pub mod lint;
pub mod metrics;
pub mod otlp;
pub mod outcome;
pub mod placeholders;
pub mod plan;
pub mod script;
pub mod split;
pub mod trace;
pub mod undo;
