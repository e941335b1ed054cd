//! The pure core: values in, values out. No tokio, no filesystem, no environment, no clock.

pub mod outcome;
