//! `compat-required-column`: `ADD COLUMN … NOT NULL` without a default, which fails on a table with rows and breaks the running app's INSERTs (reference §7 #9).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Action;

pub static RULE: Rule = Rule {
    id: "compat-required-column",
    severity: Severity::Error,
    sized: false,
    phase: true,
    squawk: &["adding-required-field"],
    summary: "ADD COLUMN NOT NULL without DEFAULT breaks the old app's INSERTs",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, table, a) in cx.actions() {
        let Action::AddColumn(c) = a else { continue };
        let fills = c.default.as_ref().is_some_and(|d| !d.null)
            || c.identity
            || c.generated_stored
            || c.generated_virtual
            || c.ty.as_ref().is_some_and(|t| t.is_serial());
        if !(c.not_null || c.primary_key) || fills {
            continue;
        }
        let col = &c.name;
        out.push(Hit::on(
            i,
            table,
            format!("ADD COLUMN {col} NOT NULL without a DEFAULT on {table}{{size}}: it fails if the table has rows, and the running app version's INSERTs, which do not name {col}, fail once it exists"),
            format!("Add {col} nullable, or with a constant DEFAULT (no rewrite on PostgreSQL ≥ 11); make it NOT NULL in a `-- schemagate:contract` script once every running app writes it"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "compat-required-column";

    #[test]
    fn fires_in_expand() {
        assert_eq!(
            ids("ALTER TABLE t ADD COLUMN c int NOT NULL;"),
            vec![format!("{ID}:error")]
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(
            ID,
            "ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0;"
        ));
        assert!(!fires(ID, "ALTER TABLE t ADD COLUMN c int;"));
        assert!(!fires(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN c int NOT NULL;"
        ));
        assert!(!fires(
            ID,
            &contract("ALTER TABLE t ADD COLUMN c int NOT NULL;")
        ));
    }
}
