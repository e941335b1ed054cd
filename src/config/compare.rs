//! `SCHEMAGATE_COMPARE_*` (issue 17): the other database `compare` reads, which tables, in what portions, and how often a difference is looked at again before it counts.

use std::fmt;

use super::conn::ConnSettings;
use crate::core::compare::filter::Pattern;

/// Rows per content chunk when `SCHEMAGATE_COMPARE_CHUNK_ROWS` is unset: a chunk's hash
/// takes about 0.1 s on a 2-core machine, far inside any statement timeout, and a table of
/// a million rows is 100 statements a side.
pub const DEFAULT_CHUNK_ROWS: u64 = 10_000;
/// Looks again at a difference before it counts, when `SCHEMAGATE_COMPARE_RECHECKS` is
/// unset; one second apart, so a subscriber a few seconds behind catches up.
pub const DEFAULT_RECHECKS: u64 = 3;

#[derive(Clone, PartialEq, Eq)]
pub struct CompareSettings {
    /// `SCHEMAGATE_COMPARE_URL` (or `_FILE`), every field it leaves out taken from the
    /// main connection.
    pub conn: ConnSettings,
    /// `SCHEMAGATE_COMPARE_TABLES`: empty compares every table.
    pub tables: Vec<Pattern>,
    /// `SCHEMAGATE_COMPARE_CHUNK_ROWS`.
    pub chunk_rows: u64,
    /// `SCHEMAGATE_COMPARE_RECHECKS`: 0 takes the first look as final (a frozen source).
    pub rechecks: u32,
}

impl fmt::Debug for CompareSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompareSettings")
            .field("conn", &self.conn)
            .field(
                "tables",
                &self.tables.iter().map(|p| &p.text).collect::<Vec<_>>(),
            )
            .field("chunk_rows", &self.chunk_rows)
            .field("rechecks", &self.rechecks)
            .finish()
    }
}
