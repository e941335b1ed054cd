//! `tx-enum-add-value`: `ALTER TYPE … ADD VALUE` in a transaction before PostgreSQL 12, or the new value used in the same transaction, which fails with 55P04 (reference §7 #21).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Stmt;

pub static RULE: Rule = Rule {
    id: "tx-enum-add-value",
    severity: Severity::Error,
    sized: false,
    phase: false,
    squawk: &["require-enum-value-ordering"],
    summary: "a new enum value used in the transaction that adds it fails (55P04)",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    if !cx.transactional() {
        return Vec::new();
    }
    let sql = cx.script.input.sql;
    let stmts = cx.script.input.statements;
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        let Stmt::AddEnumValue { ty, value, .. } = s else {
            continue;
        };
        if cx.version().is_some_and(|v| v < 120_000) {
            out.push(Hit {
                stmt: i,
                message: format!("ALTER TYPE {ty} ADD VALUE cannot run in a transaction block before PostgreSQL 12"),
                rewrite: "Put it alone in a script with executeInTransaction=false in its .sql.conf".into(),
                ..Hit::default()
            });
            continue;
        }
        let literal = format!("'{}'", value.replace('\'', "''"));
        if let Some(later) = (i + 1..stmts.len()).find(|&k| stmts[k].text(sql).contains(&literal)) {
            out.push(Hit {
                stmt: later,
                message: format!("uses {literal}, added to {ty} earlier in this transaction: a new enum value cannot be used until the ADD VALUE commits (SQLSTATE 55P04)"),
                rewrite: format!("Use {literal} in the next script; keep `ALTER TYPE {ty} ADD VALUE {literal}` in a script of its own"),
                ..Hit::default()
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "tx-enum-add-value";

    #[test]
    fn fires_when_the_value_is_used_in_the_same_transaction() {
        assert!(fires(
            ID,
            "ALTER TYPE mood ADD VALUE 'meh';\nUPDATE people SET m = 'meh' WHERE id = 1;"
        ));
        let mut l = live();
        l.session.version = Some(110_000);
        assert_eq!(
            live_severity(ID, "ALTER TYPE mood ADD VALUE 'meh';", &l),
            Some("error")
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(ID, "ALTER TYPE mood ADD VALUE 'meh';"));
        assert!(!fires(
            ID,
            "ALTER TYPE mood ADD VALUE 'meh';\nUPDATE people SET m = 'ok' WHERE id = 1;"
        ));
    }
}
