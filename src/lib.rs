//! schemagate: applies Flyway-compatible SQL migrations to PostgreSQL and maps every outcome to one exit code.

pub mod config;
pub mod core;
