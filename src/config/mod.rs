//! Settings: raw environment, flags and secret files in, validated `Settings` out (pure).

pub mod conn;
