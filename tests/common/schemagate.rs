//! Shortcuts for running the real schemagate binary against a test database.

use std::path::Path;

use super::{Outcome, Sg, TestDb};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_schemagate");

/// `schemagate` with the database's PG* variables, the scripts folder, and JSON logs.
pub fn sg(db: &TestDb, dir: &Path) -> Sg {
    Sg::new(BIN)
        .envs(db.env())
        .env("SCHEMAGATE_LOCATIONS", dir)
        .env("SCHEMAGATE_LOG_FORMAT", "json")
}

/// `(version, success)` of every row of `public.<table>`, in rank order.
pub fn versions(db: &TestDb, table: &str) -> Vec<(Option<String>, bool)> {
    db.history(table)
        .into_iter()
        .map(|r| (r.version, r.success))
        .collect()
}

/// The last JSON log line: the run's summary.
pub fn summary(out: &Outcome) -> serde_json::Value {
    out.stderr_json_lines()
        .into_iter()
        .rev()
        .find(|l| l.get("exit_code").is_some())
        .unwrap_or_else(|| panic!("no summary line\n{out}"))
}

pub fn some(v: &str) -> Option<String> {
    Some(v.to_string())
}
