//! `compat-destructive`: a DROP or TRUNCATE of something the running app version still uses; an error in expand scripts, allowed in contract scripts (reference §7 #12).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::{Action, Dropped, Stmt};

pub static RULE: Rule = Rule {
    id: "compat-destructive",
    severity: Severity::Error,
    sized: false,
    phase: true,
    squawk: &["ban-drop-column", "ban-drop-table", "ban-drop-database"],
    summary: "DROP TABLE / COLUMN / SCHEMA / VIEW / FUNCTION or TRUNCATE while the old app still uses it",
    check,
};

const LATER: &str = "Stop using it in this release; drop it in a `-- schemagate:contract` script, which runs only once no old app version is connected (SPEC §11)";

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        match s {
            Stmt::Drop { what, names, .. } => {
                let relation = matches!(
                    what,
                    Dropped::Table | Dropped::View | Dropped::MaterializedView | Dropped::Sequence
                );
                for n in names {
                    out.push(Hit {
                        stmt: i,
                        tables: if relation { vec![n.clone()] } else { Vec::new() },
                        message: format!(
                            "DROP {} {n}{}: the app version still running during the rollout may use it",
                            what.word().to_uppercase(),
                            if relation { "{size}" } else { "" }
                        ),
                        rewrite: LATER.into(),
                        ..Hit::default()
                    });
                }
            }
            Stmt::AlterTable { table, actions } => {
                for a in actions {
                    if let Action::DropColumn { column } = a {
                        out.push(Hit::on(
                            i,
                            table,
                            format!("DROP COLUMN {table}.{column}: the app version still running during the rollout reads and writes it"),
                            LATER.into(),
                        ));
                    }
                }
            }
            Stmt::Truncate { tables, .. } => {
                for t in tables {
                    out.push(Hit::on(
                        i,
                        t,
                        format!("TRUNCATE {t}{{size}} empties it under ACCESS EXCLUSIVE while the running app uses it"),
                        "Delete in batches in a `-- schemagate:backfill` script, or truncate in a contract script once the data is no longer needed".into(),
                    ));
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

    const ID: &str = "compat-destructive";

    #[test]
    fn fires_in_expand() {
        assert!(fires(ID, "ALTER TABLE t DROP COLUMN legacy;"));
        assert!(fires(ID, "DROP TABLE legacy;"));
        assert!(fires(ID, "DROP FUNCTION f(int);"));
        assert!(fires(ID, "TRUNCATE audit;"));
        // The data does not matter: an empty table is still read by the old app.
        assert_eq!(
            live_severity(ID, "DROP TABLE empty;", &live()),
            Some("error")
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(ID, &contract("ALTER TABLE t DROP COLUMN legacy;")));
        assert!(!fires(ID, "CREATE TABLE tmp (a int);\nDROP TABLE tmp;"));
        // The catalog was asked and has no such table: IF EXISTS makes it a no-op.
        let mut l = live();
        l.tables
            .insert(crate::core::lint::parse::Name::bare("never_was"), None);
        assert_eq!(
            live_severity(ID, "DROP TABLE IF EXISTS never_was;", &l),
            None
        );
    }

    #[test]
    fn a_contract_drop_is_reported_as_allowed() {
        let f = run(&contract("DROP TABLE legacy;"), None);
        assert!(f[0].allowed.as_deref().unwrap().contains("contract script"));
    }
}
