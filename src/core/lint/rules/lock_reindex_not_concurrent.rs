//! `lock-reindex-not-concurrent`: `REINDEX` without CONCURRENTLY on PostgreSQL ≥ 12, which blocks writes and the queries that use the index (reference §7 #20).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Stmt;

pub static RULE: Rule = Rule {
    id: "lock-reindex-not-concurrent",
    severity: Severity::Error,
    sized: true,
    phase: false,
    squawk: &["require-concurrent-reindex"],
    summary: "REINDEX without CONCURRENTLY blocks writes and every query that uses the index",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    if cx.version().is_some_and(|v| v < 120_000) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        let Stmt::Reindex {
            kind,
            name,
            concurrently: false,
        } = s
        else {
            continue;
        };
        let table = match (*kind, name) {
            ("INDEX", Some(n)) => cx.index_table(n, i),
            ("TABLE", Some(n)) => Some(n.clone()),
            _ => None,
        };
        let target = name.as_ref().map(|n| format!(" {n}")).unwrap_or_default();
        let on = table
            .as_ref()
            .map(|t| format!("{t}{{size}}"))
            .unwrap_or_else(|| "each table".into());
        out.push(Hit {
            stmt: i,
            tables: table.into_iter().collect(),
            message: format!("REINDEX {kind}{target} blocks writes to {on} (SHARE) and every query that uses the index (ACCESS EXCLUSIVE on it) for the whole rebuild"),
            rewrite: format!("`REINDEX {kind} CONCURRENTLY{target}` in a script of its own (not in a transaction; avoid PostgreSQL 14.0–14.3)"),
            ..Hit::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "lock-reindex-not-concurrent";

    #[test]
    fn firing_cases() {
        assert!(fires(ID, "REINDEX TABLE orders;"));
        assert_eq!(
            live_severity(ID, "REINDEX TABLE big;", &live()),
            Some("error")
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(ID, "REINDEX TABLE CONCURRENTLY orders;"));
        assert!(!fires(
            ID,
            "REINDEX (VERBOSE, CONCURRENTLY) INDEX orders_pkey;"
        ));
        assert_eq!(
            live_severity(ID, "REINDEX TABLE small;", &live()),
            Some("info")
        );
    }
}
