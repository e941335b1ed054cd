//! What the live database says about the objects the scripts touch, as plain values the catalog adapter (`pg::catalog`) fills in.

use std::collections::{HashMap, HashSet};

use super::parse::Name;
use super::types::{Session, TypeName};

/// A table's heap with no rows still has a page or two after a `DELETE`; below this it is
/// empty whatever the estimate says.
pub const EMPTY_BYTES: i64 = 16 * 1024;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Estimated (`pg_class.reltuples`), or counted up to the small limit when the table has
    /// never been analysed. Partitioned: summed over the partitions.
    pub rows: u64,
    /// `pg_total_relation_size`: heap, indexes and TOAST.
    pub bytes: i64,
    pub partitioned: bool,
    /// Column → (type as `format_type` spells it, parsed; NOT NULL).
    pub columns: HashMap<String, (Option<TypeName>, bool)>,
    /// Columns a validated `CHECK (col IS NOT NULL)` proves non-null.
    pub proven_not_null: HashSet<String>,
    /// Whether it has any validated CHECK constraint (ATTACH PARTITION can skip its scan).
    pub has_valid_check: bool,
    /// Tables whose foreign keys reference it.
    pub referenced_by: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    pub table: Name,
    pub valid: bool,
}

/// Everything the catalog adapter found. Names are keyed as the scripts wrote them.
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub session: Session,
    /// Every table a statement names: `None` when the catalog has no such relation.
    pub tables: HashMap<Name, Option<Table>>,
    pub indexes: HashMap<Name, Index>,
    /// Function name as written → whether any function of that name is volatile
    /// (`pg_proc.provolatile = 'v'`).
    pub volatile: HashMap<String, bool>,
    /// Domains with constraints: a column of one is checked row by row when added.
    pub constrained_domains: HashSet<Name>,
    /// (script display, statement index) → the planner's row estimate for a data change.
    pub estimates: HashMap<(String, usize), u64>,
}

/// How big the table a finding is about is, as far as anyone can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// Created earlier in the same run: nobody uses it yet.
    New,
    /// Neither in the database nor created by the run: the statement is a no-op
    /// (`IF EXISTS`) or fails on its own.
    Missing,
    Live {
        rows: u64,
        bytes: i64,
    },
    /// No database to ask.
    Unknown,
}

/// `300 000 rows, 22 MB`.
pub fn describe(rows: u64, bytes: i64) -> String {
    format!("{} rows, {}", group_digits(rows), human_bytes(bytes))
}

fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

pub fn human_bytes(b: i64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} bytes")
    } else if v < 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_person_writes_them() {
        assert_eq!(describe(300_000, 22 * 1024 * 1024), "300 000 rows, 22 MB");
        assert_eq!(describe(12, 8192), "12 rows, 8.0 kB");
        assert_eq!(human_bytes(0), "0 bytes");
        assert_eq!(human_bytes(45 << 30), "45 GB");
    }
}
