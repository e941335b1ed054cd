//! `rewrite-column-type`: `ALTER COLUMN … TYPE`, judged by what the change costs: binary-compatible changes are information, index rebuilds warnings, rewrites errors (reference §7 #10).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Action;
use crate::core::lint::types::{Change, classify};

pub static RULE: Rule = Rule {
    id: "rewrite-column-type",
    severity: Severity::Error,
    sized: true,
    phase: false,
    squawk: &["changing-column-type"],
    summary: "ALTER COLUMN TYPE that is not binary-compatible rewrites the table and its indexes",
    check,
};

const RECIPE: &str = "Add a new column of the new type, keep it in step with a trigger, fill it in a `-- schemagate:backfill` script, switch the app to it, and drop the old column in a `-- schemagate:contract` script. In place is safe only for varchar(n) → varchar(m ≥ n) or text, numeric precision up at the same scale, and timestamp ↔ timestamptz when the session TimeZone is UTC (PostgreSQL ≥ 12)";

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, table, a) in cx.actions() {
        let Action::AlterType {
            column,
            ty: Some(new),
            using,
        } = a
        else {
            continue;
        };
        let old = cx.column_type(table, column, i);
        let change = match (&old, using) {
            (_, true) => Change::Rewrite,
            (Some(old), false) => classify(old, new, cx.session()),
            (None, false) => Change::Rewrite,
        };
        let from = old
            .as_ref()
            .map(|o| format!("{o} → {new}"))
            .unwrap_or_else(|| format!("→ {new}"));
        let (severity, sized, message) = match change {
            Change::Fast => (
                Severity::Info,
                false,
                format!(
                    "{table}.{column} {from} is binary-compatible: a catalog change, no rewrite"
                ),
            ),
            Change::Rebuild => (
                Severity::Warning,
                true,
                format!(
                    "{table}.{column} {from} needs no table rewrite, but the indexes on {column} are rebuilt under ACCESS EXCLUSIVE on {table}{{size}}"
                ),
            ),
            Change::Rewrite => {
                let why = match (&old, using) {
                    (_, true) => "the USING expression is computed for every row".to_string(),
                    (Some(_), false) => "the types are not binary-compatible".to_string(),
                    (None, false) => "its current type is unknown here (connect to a database, or lint with the script that created it), so it is assumed to rewrite".to_string(),
                };
                (
                    Severity::Error,
                    true,
                    format!(
                        "{table}.{column} {from} rewrites {table}{{size}} and every index on it under ACCESS EXCLUSIVE: {why}"
                    ),
                )
            }
        };
        out.push(Hit {
            severity: Some(severity),
            sized: Some(sized),
            ..Hit::on(i, table, message, RECIPE.into())
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::core::lint::facts::Live;
    use crate::core::lint::types::TypeName;

    const ID: &str = "rewrite-column-type";

    fn typed(col_type: TypeName) -> Live {
        let mut l = live();
        table_mut(&mut l, "big")
            .columns
            .insert("c".into(), (Some(col_type), false));
        l
    }

    #[test]
    fn int_to_bigint_rewrites() {
        let l = typed(TypeName::new(None, "integer", vec![], None, false));
        assert_eq!(
            live_severity(ID, "ALTER TABLE big ALTER COLUMN c TYPE bigint;", &l),
            Some("error")
        );
        // Known from the script that created it, without a database.
        assert_eq!(
            ids("CREATE TABLE t (c int);\nALTER TABLE t ALTER COLUMN c TYPE bigint;").len(),
            0,
            "a table created in the same script is new"
        );
    }

    #[test]
    fn varchar_to_text_is_information() {
        let l = typed(TypeName::new(
            None,
            "character varying",
            vec![50],
            None,
            false,
        ));
        assert_eq!(
            live_severity(ID, "ALTER TABLE big ALTER COLUMN c TYPE text;", &l),
            Some("info")
        );
        assert_eq!(
            live_severity(ID, "ALTER TABLE big ALTER COLUMN c TYPE varchar(100);", &l),
            Some("info")
        );
        assert_eq!(
            live_severity(ID, "ALTER TABLE big ALTER COLUMN c TYPE varchar(20);", &l),
            Some("error")
        );
    }

    #[test]
    fn unknown_old_type_is_assumed_to_rewrite() {
        assert!(fires(ID, "ALTER TABLE t ALTER COLUMN c TYPE text;"));
    }
}
