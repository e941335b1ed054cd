//! The pure core: values in, values out. No tokio, no filesystem, no environment, no clock.

pub mod checksum;
pub mod discover;
pub mod lexer;
pub mod outcome;
pub mod placeholders;
pub mod plan;
pub mod script;
pub mod split;
