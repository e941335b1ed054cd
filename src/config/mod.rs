//! Settings: raw environment, flags and secret files in, validated `Settings` out (pure).
//!
//! `raw` reads names (the environment list, `NAME_FILE` forms) into plain strings; `settings`
//! and `connection` validate them into [`Settings`]; `conninfo` parses libpq connection
//! strings and `jdbc` pgjdbc URLs; `pushgateway` validates where metrics are pushed and `otlp`
//! where OTLP goes; `compare` holds what `compare` reads; `values`
//! holds the shared value syntaxes. Nothing here touches `std::env` or `std::fs`: the caller
//! passes the environment and a [`SecretFiles`] reader.

pub mod compare;
pub mod conn;
mod connection;
mod conninfo;
pub mod flyway;
mod jdbc;
pub mod otlp;
pub mod pushgateway;
mod raw;
mod settings;
mod values;

pub use conn::{
    ConnSettings, HostPort, RootCerts, Secret, SslMode, SslNegotiation, TargetSessionAttrs,
};
pub use raw::{SETTINGS, SecretFiles};
pub use settings::{ConfigError, FLYWAY_SQL, LintMode, LintSettings, LogFormat, Settings, load};
pub use values::{parse_bool, parse_duration};

/// Whether any connection setting is given (SPEC §8: `lint` connects only then). The
/// variables are the ones connection settings are read from: a URL, a `PG*` variable (or
/// its `_FILE` form), or a mounted Secret.
pub fn connection_given(env: &[(String, String)]) -> bool {
    env.iter().any(|(k, v)| {
        !v.is_empty()
            && (matches!(
                k.as_str(),
                "SCHEMAGATE_DATABASE_URL" | "DATABASE_URL" | "SCHEMAGATE_SECRET_DIR"
            ) || raw::LIBPQ_VARS
                .iter()
                .any(|p| k == p || k.strip_suffix("_FILE") == Some(p)))
    })
}
