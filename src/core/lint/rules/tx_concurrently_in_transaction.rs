//! `tx-concurrently-in-transaction`: a statement that cannot run in a transaction block, in a script that schemagate will run in one (reference §7 #3).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::{Action, Stmt};

pub static RULE: Rule = Rule {
    id: "tx-concurrently-in-transaction",
    severity: Severity::Error,
    sized: false,
    phase: false,
    squawk: &["ban-concurrent-index-creation-in-transaction"],
    summary: "CONCURRENTLY or VACUUM in a script that runs in a transaction fails with 25001",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    if !cx.transactional() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        let what = match s {
            Stmt::CreateIndex {
                concurrently: true, ..
            } => "CREATE INDEX CONCURRENTLY",
            Stmt::DropIndex {
                concurrently: true, ..
            } => "DROP INDEX CONCURRENTLY",
            Stmt::Reindex {
                concurrently: true, ..
            } => "REINDEX CONCURRENTLY",
            Stmt::Vacuum { .. } => "VACUUM",
            Stmt::AlterTable { actions, .. }
                if actions.iter().any(|a| {
                    matches!(
                        a,
                        Action::DetachPartition {
                            concurrently: true,
                            ..
                        }
                    )
                }) =>
            {
                "DETACH PARTITION CONCURRENTLY"
            }
            _ => continue,
        };
        out.push(Hit {
            stmt: i,
            message: format!(
                "{what} cannot run inside a transaction block (SQLSTATE 25001), and this script runs in one: its .sql.conf sets executeInTransaction=true"
            ),
            rewrite: "Remove executeInTransaction=true from the script's .sql.conf (schemagate then runs it outside a transaction, as Flyway does), and keep the statement in a script of its own".into(),
            ..Hit::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::core::lint::Options;

    const ID: &str = "tx-concurrently-in-transaction";

    fn forced_tx(sql: &str) -> Vec<&'static str> {
        run_with(sql, true, None, &Options::default())
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    #[test]
    fn fires_when_the_script_is_forced_into_a_transaction() {
        assert!(forced_tx("CREATE INDEX CONCURRENTLY i ON t (a);").contains(&ID));
        assert!(forced_tx("VACUUM t;").contains(&ID));
    }

    #[test]
    fn near_miss_detected_scripts_run_outside() {
        // Detection makes the script non-transactional, as Flyway does.
        assert!(!fires(ID, "CREATE INDEX CONCURRENTLY i ON t (a);"));
        assert!(!forced_tx("CREATE INDEX i ON t (a);").contains(&ID));
    }
}
