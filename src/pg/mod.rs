//! PostgreSQL adapters: connecting, the advisory lock, the history table, running scripts, and `compare`'s reads.

pub mod activity;
pub mod backfill;
pub mod catalog;
pub mod companions;
pub mod compare;
pub mod connect;
pub mod exec;
pub mod history;
pub mod lock;
pub mod tls;
