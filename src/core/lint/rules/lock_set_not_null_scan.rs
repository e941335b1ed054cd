//! `lock-set-not-null-scan`: `SET NOT NULL` (or a primary key over nullable columns) that scans the table under ACCESS EXCLUSIVE because no validated CHECK proves the column non-null (reference §7 #7).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::{Action, ConstraintKind, Name};

pub static RULE: Rule = Rule {
    id: "lock-set-not-null-scan",
    severity: Severity::Error,
    sized: true,
    phase: false,
    squawk: &["adding-not-nullable-field"],
    summary: "SET NOT NULL without a validated CHECK scans the table under ACCESS EXCLUSIVE",
    check,
};

fn recipe(cx: &Cx<'_>, table: &Name, col: &str) -> String {
    let c = format!("{}_not_null", col);
    if cx.version().is_some_and(|v| v >= 180_000) {
        return format!(
            "PostgreSQL 18: `ALTER TABLE {table} ADD CONSTRAINT {c} NOT NULL {col} NOT VALID`, then in the next script `ALTER TABLE {table} VALIDATE CONSTRAINT {c}` (reads and writes go on)"
        );
    }
    format!(
        "`ALTER TABLE {table} ADD CONSTRAINT {c} CHECK ({col} IS NOT NULL) NOT VALID`; backfill; next script `ALTER TABLE {table} VALIDATE CONSTRAINT {c}` (SHARE UPDATE EXCLUSIVE); then `ALTER TABLE {table} ALTER COLUMN {col} SET NOT NULL` (no scan on PostgreSQL ≥ 12: the CHECK proves it) and `ALTER TABLE {table} DROP CONSTRAINT {c}`. Tighten it in a contract script, once every running app writes {col}"
    )
}

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    // Before 12 a CHECK does not spare the scan.
    let proof_counts = cx.version().is_none_or(|v| v >= 120_000);
    let mut out = Vec::new();
    for (i, table, a) in cx.actions() {
        let cols: Vec<&str> = match a {
            Action::SetNotNull { column } => vec![column.as_str()],
            Action::AddConstraint {
                kind: ConstraintKind::NotNull { column },
                not_valid: false,
                ..
            } => vec![column.as_str()],
            Action::AddConstraint {
                kind: ConstraintKind::PrimaryKey { columns, .. },
                ..
            } => columns
                .iter()
                .map(String::as_str)
                .filter(|c| cx.live_not_null(table, c) == Some(false))
                .collect(),
            _ => continue,
        };
        for col in cols {
            if cx.live_not_null(table, col) == Some(true)
                || (proof_counts && cx.proven_not_null(table, col, i))
            {
                continue;
            }
            out.push(Hit::on(
                i,
                table,
                format!("making {table}.{col} NOT NULL scans all of {table}{{size}} under ACCESS EXCLUSIVE: reads and writes wait for the scan"),
                recipe(cx, table, col),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "lock-set-not-null-scan";

    #[test]
    fn firing_cases() {
        assert!(fires(
            ID,
            "ALTER TABLE orders ALTER COLUMN email SET NOT NULL;"
        ));
        assert_eq!(
            live_severity(ID, "ALTER TABLE big ALTER COLUMN a SET NOT NULL;", &live()),
            Some("error")
        );
    }

    #[test]
    fn near_misses() {
        // Proven by a CHECK validated in an earlier statement.
        assert!(!fires(
            ID,
            "ALTER TABLE orders ADD CONSTRAINT e CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT e;\nALTER TABLE orders ALTER COLUMN email SET NOT NULL;"
        ));
        // Proven in the catalog.
        let mut l = live();
        table_mut(&mut l, "big").proven_not_null.insert("a".into());
        assert_eq!(
            live_severity(ID, "ALTER TABLE big ALTER COLUMN a SET NOT NULL;", &l),
            None
        );
        assert_eq!(
            live_severity(
                ID,
                "ALTER TABLE empty ALTER COLUMN a SET NOT NULL;",
                &live()
            ),
            None
        );
    }
}
