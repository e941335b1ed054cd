//! `rewrite-maintenance`: VACUUM FULL, CLUSTER, SET TABLESPACE / LOGGED / UNLOGGED / ACCESS METHOD / EXPRESSION and non-concurrent REFRESH MATERIALIZED VIEW, which rewrite or copy a table under ACCESS EXCLUSIVE (reference §7 #18).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::{Action, Name, Stmt};

pub static RULE: Rule = Rule {
    id: "rewrite-maintenance",
    severity: Severity::Error,
    sized: true,
    phase: false,
    squawk: &["prefer-repack"],
    summary: "VACUUM FULL, CLUSTER, SET TABLESPACE and the like rewrite the table under ACCESS EXCLUSIVE",
    check,
};

const REPACK: &str = "Run pg_repack (or `REPACK (CONCURRENTLY)` on PostgreSQL ≥ 19) outside the gating hook, where it does not hold a release; a plain VACUUM reclaims space for reuse without a lock that stops traffic";

fn hit(i: usize, what: &str, table: Option<&Name>, rewrite: &str) -> Hit {
    let on = table
        .map(|t| format!(" {t}{{size}}"))
        .unwrap_or_else(|| " every table it reaches".into());
    Hit {
        stmt: i,
        tables: table.into_iter().cloned().collect(),
        message: format!(
            "{what} rewrites{on} under ACCESS EXCLUSIVE: reads and writes wait until it is done"
        ),
        rewrite: rewrite.into(),
        ..Hit::default()
    }
}

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        match s {
            Stmt::Vacuum { full: true, tables } if tables.is_empty() => out.push(hit(i, "VACUUM FULL", None, REPACK)),
            Stmt::Vacuum { full: true, tables } => out.extend(tables.iter().map(|t| hit(i, "VACUUM FULL", Some(t), REPACK))),
            Stmt::Cluster { table } => out.push(hit(i, "CLUSTER", table.as_ref(), REPACK)),
            // The refresh runs the view's whole query, however few rows it keeps: the view's own
            // size says nothing about how long reads stop.
            Stmt::Refresh { view, concurrently: false } => out.push(Hit {
                sized: Some(false),
                ..hit(
                    i,
                    "REFRESH MATERIALIZED VIEW",
                    Some(view),
                    &format!("`REFRESH MATERIALIZED VIEW CONCURRENTLY {view}` (it needs a unique index on the view) lets reads go on"),
                )
            }),
            Stmt::AlterTable { table, actions } => {
                for a in actions {
                    if let Action::Rewrite { what } = a {
                        out.push(hit(i, &format!("ALTER TABLE … {what}"), Some(table), REPACK));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "rewrite-maintenance";

    #[test]
    fn firing_cases() {
        assert!(fires(ID, "VACUUM FULL orders;"));
        assert!(fires(ID, "CLUSTER orders USING orders_pkey;"));
        assert!(fires(ID, "ALTER TABLE orders SET TABLESPACE fast;"));
        assert!(fires(ID, "REFRESH MATERIALIZED VIEW daily;"));
        assert_eq!(
            live_severity(ID, "VACUUM FULL big;", &live()),
            Some("error")
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(ID, "VACUUM ANALYZE orders;"));
        assert!(!fires(ID, "REFRESH MATERIALIZED VIEW CONCURRENTLY daily;"));
        assert!(!fires(ID, "ALTER TABLE orders SET (fillfactor = 90);"));
    }
}
