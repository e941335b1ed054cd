//! schemagate: applies Flyway-compatible SQL migrations to PostgreSQL and maps every outcome to one exit code.

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod core;
pub mod fsio;
pub mod output;
pub mod pg;
pub mod runtime;
pub mod telemetry;
