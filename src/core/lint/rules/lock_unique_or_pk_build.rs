//! `lock-unique-or-pk-build`: a UNIQUE, PRIMARY KEY or EXCLUDE constraint that builds its index under ACCESS EXCLUSIVE (reference §7 #11).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::{Action, ConstraintKind};

pub static RULE: Rule = Rule {
    id: "lock-unique-or-pk-build",
    severity: Severity::Error,
    sized: true,
    phase: false,
    squawk: &[
        "disallowed-unique-constraint",
        "adding-serial-primary-key-field",
    ],
    summary: "ADD UNIQUE / PRIMARY KEY without USING INDEX builds the index under ACCESS EXCLUSIVE",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, table, a) in cx.actions() {
        let what = match a {
            Action::AddConstraint {
                kind: ConstraintKind::Unique { using_index: false },
                ..
            } => "UNIQUE",
            Action::AddConstraint {
                kind:
                    ConstraintKind::PrimaryKey {
                        using_index: false, ..
                    },
                ..
            } => "PRIMARY KEY",
            Action::AddConstraint {
                kind: ConstraintKind::Exclude,
                ..
            } => "EXCLUDE",
            Action::AddColumn(c) if c.primary_key => "PRIMARY KEY",
            Action::AddColumn(c) if c.unique => "UNIQUE",
            _ => continue,
        };
        let rewrite = if what == "EXCLUDE" {
            "An EXCLUDE constraint has no online path (no NOT VALID, no USING INDEX): add it while the table is small, or allow it explicitly with a reason".to_string()
        } else {
            format!(
                "`CREATE UNIQUE INDEX CONCURRENTLY {t}_key ON {table} (…)` in a non-transactional script, then `ALTER TABLE {table} ADD CONSTRAINT {t}_key {what} USING INDEX {t}_key` (fast){pk}",
                t = table.name,
                pk = if what == "PRIMARY KEY" {
                    "; make the columns NOT NULL first, or USING INDEX scans"
                } else {
                    ""
                }
            )
        };
        out.push(Hit::on(
            i,
            table,
            format!("ADD {what} builds its index on {table}{{size}} under ACCESS EXCLUSIVE: reads and writes wait for the build"),
            rewrite,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "lock-unique-or-pk-build";

    #[test]
    fn firing_cases() {
        assert!(fires(ID, "ALTER TABLE t ADD CONSTRAINT k UNIQUE (email);"));
        assert!(fires(ID, "ALTER TABLE t ADD PRIMARY KEY (id);"));
        assert!(fires(ID, "ALTER TABLE t ADD COLUMN code text UNIQUE;"));
        assert_eq!(
            live_severity(ID, "ALTER TABLE big ADD CONSTRAINT k UNIQUE (a);", &live()),
            Some("error")
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(
            ID,
            "ALTER TABLE t ADD CONSTRAINT k UNIQUE USING INDEX k_idx;"
        ));
        assert!(!fires(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD PRIMARY KEY (a);"
        ));
        assert_eq!(
            live_severity(ID, "ALTER TABLE empty ADD PRIMARY KEY (a);", &live()),
            None
        );
    }
}
