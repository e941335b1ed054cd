//! `lock-constraint-without-not-valid`: a CHECK or FOREIGN KEY added to an existing table without `NOT VALID`, so it is validated under the ADD's lock (reference §7 #5).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::{Action, ConstraintKind};

pub static RULE: Rule = Rule {
    id: "lock-constraint-without-not-valid",
    severity: Severity::Error,
    sized: true,
    phase: false,
    squawk: &[
        "constraint-missing-not-valid",
        "adding-foreign-key-constraint",
    ],
    summary: "ADD CHECK / FOREIGN KEY without NOT VALID scans the table under the ADD's lock",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, table, a) in cx.actions() {
        let (name, what, refs) = match a {
            Action::AddConstraint {
                name,
                kind: ConstraintKind::Check { .. },
                not_valid: false,
            } => (name.clone(), "CHECK", None),
            Action::AddConstraint {
                name,
                kind: ConstraintKind::ForeignKey { references },
                not_valid: false,
            } => (name.clone(), "FOREIGN KEY", references.clone()),
            // A new column that is all NULL validates nothing; with a default it is
            // checked row by row.
            Action::AddColumn(c)
                if c.references.is_some() && c.default.as_ref().is_some_and(|d| !d.null) =>
            {
                (None, "FOREIGN KEY", c.references.clone())
            }
            _ => continue,
        };
        let n = name.clone().unwrap_or_else(|| "<name>".into());
        let (lock, waits) = match &refs {
            Some(r) => (
                format!("SHARE ROW EXCLUSIVE on {table} and {r}"),
                "writes to both wait",
            ),
            None => (
                format!("ACCESS EXCLUSIVE on {table}"),
                "reads and writes wait",
            ),
        };
        let mut tables = vec![table.clone()];
        tables.extend(refs.clone());
        out.push(Hit {
            stmt: i,
            tables,
            message: format!(
                "ADD {what} validates every row of {table}{{size}} while holding {lock}: {waits} for the whole scan"
            ),
            rewrite: format!(
                "`ALTER TABLE {table} ADD CONSTRAINT {n} {what} (…) NOT VALID` (fast; new rows are checked from then on), then in the next script `ALTER TABLE {table} VALIDATE CONSTRAINT {n}`, which scans under SHARE UPDATE EXCLUSIVE while reads and writes go on"
            ),
            ..Hit::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "lock-constraint-without-not-valid";

    #[test]
    fn firing_cases() {
        assert!(fires(
            ID,
            "ALTER TABLE orders ADD CONSTRAINT c CHECK (total >= 0);"
        ));
        assert!(fires(
            ID,
            "ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (c) REFERENCES customers (id);"
        ));
        assert!(fires(
            ID,
            "ALTER TABLE orders ADD COLUMN c int DEFAULT 1 REFERENCES customers (id);"
        ));
        assert_eq!(
            live_severity(
                ID,
                "ALTER TABLE big ADD CONSTRAINT c CHECK (a > 0);",
                &live()
            ),
            Some("error")
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(
            ID,
            "ALTER TABLE orders ADD CONSTRAINT c CHECK (total >= 0) NOT VALID;"
        ));
        assert!(!fires(
            ID,
            "ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (c) REFERENCES customers (id) NOT VALID;"
        ));
        // An all-NULL new column has nothing to validate.
        assert!(!fires(
            ID,
            "ALTER TABLE orders ADD COLUMN c int REFERENCES customers (id);"
        ));
        assert_eq!(
            live_severity(
                ID,
                "ALTER TABLE empty ADD CONSTRAINT c CHECK (a > 0);",
                &live()
            ),
            None
        );
    }
}
