//! Settings: raw environment, flags and secret files in, validated `Settings` out (pure).
//!
//! `raw` reads names (the environment list, `NAME_FILE` forms) into plain strings; `settings`
//! and `connection` validate them into [`Settings`]; `conninfo` parses libpq connection
//! strings; `values` holds the shared value syntaxes. Nothing here touches `std::env` or
//! `std::fs`: the caller passes the environment and a [`SecretFiles`] reader.

pub mod conn;
mod connection;
mod conninfo;
mod raw;
mod settings;
mod values;

pub use conn::{ConnSettings, RootCerts, Secret, SslMode};
pub use raw::{SETTINGS, SecretFiles};
pub use settings::{ConfigError, LogFormat, Settings, load};
pub use values::{parse_bool, parse_duration};
