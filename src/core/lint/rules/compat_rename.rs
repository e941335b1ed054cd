//! `compat-rename`: renaming a table, column, view, schema or enum value that the running app version uses by its old name (reference §7 #13).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::{Action, Stmt};

pub static RULE: Rule = Rule {
    id: "compat-rename",
    severity: Severity::Error,
    sized: false,
    phase: true,
    squawk: &["renaming-column", "renaming-table"],
    summary: "RENAME of a table, column, view, schema or enum value breaks the old app",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        match s {
            Stmt::AlterTable { table, actions } => {
                for a in actions {
                    let (what, rewrite) = match a {
                        Action::RenameColumn { from, to } => (
                            format!("RENAME COLUMN {table}.{from} TO {to}"),
                            format!("Keep the column's name and map it in the app, or add {to}, keep both in step with a trigger, switch the app, and drop {from} in a `-- schemagate:contract` script"),
                        ),
                        Action::RenameTable { to } => (
                            format!("RENAME {table} TO {to}"),
                            format!("Rename in a contract script, after `CREATE VIEW {table} AS SELECT * FROM {to}` has served the old version through the rollout; or keep the table's name"),
                        ),
                        Action::SetSchema => (
                            format!("SET SCHEMA on {table}"),
                            "Move it in a contract script, once no running app names it by its old schema".into(),
                        ),
                        _ => continue,
                    };
                    out.push(Hit::on(
                        i,
                        table,
                        format!("{what}: the app version still running during the rollout uses the old name"),
                        rewrite,
                    ));
                }
            }
            Stmt::Rename { what, name } => out.push(Hit {
                stmt: i,
                message: format!("renaming {what} {name}: the app version still running during the rollout uses the old name"),
                rewrite: "Add the new name next to the old one now (a view, a new value), switch the app, and remove the old name in a `-- schemagate:contract` script".into(),
                ..Hit::default()
            }),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "compat-rename";

    #[test]
    fn firing_cases() {
        assert!(fires(
            ID,
            "ALTER TABLE users RENAME COLUMN name TO full_name;"
        ));
        assert!(fires(ID, "ALTER TABLE users RENAME TO accounts;"));
        assert!(fires(ID, "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';"));
    }

    #[test]
    fn near_misses() {
        assert!(!fires(
            ID,
            &contract("ALTER TABLE users RENAME COLUMN name TO full_name;")
        ));
        assert!(!fires(
            ID,
            "ALTER INDEX users_idx RENAME TO users_name_idx;"
        ));
        assert!(!fires(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t RENAME COLUMN a TO b;"
        ));
    }
}
