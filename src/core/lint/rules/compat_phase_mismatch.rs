//! `compat-phase-mismatch`: an additive change in a contract script, which runs only after the rollout, so the new app version starts without it (reference §7 #15).

use super::{Cx, Hit, Rule};
use crate::core::directives::Phase;
use crate::core::lint::Severity;
use crate::core::lint::parse::{Action, Stmt};

pub static RULE: Rule = Rule {
    id: "compat-phase-mismatch",
    severity: Severity::Error,
    sized: false,
    phase: false,
    squawk: &[],
    summary: "an additive change in a contract script arrives after the new app version started",
    check,
};

const MOVE: &str = "Move it to an expand script (one without a phase directive): expand scripts run before the new version starts, contract scripts only after the old one is gone (SPEC §11)";

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    if cx.phase() != Phase::Contract {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        let (what, table) = match s {
            Stmt::CreateTable { table, .. } => (format!("CREATE TABLE {table}"), None),
            Stmt::CreateIndex { table, .. } => (format!("CREATE INDEX on {table}"), Some(table)),
            Stmt::AlterTable { table, actions } => {
                let Some(col) = actions.iter().find_map(|a| match a {
                    Action::AddColumn(c) => Some(&c.name),
                    _ => None,
                }) else {
                    continue;
                };
                (format!("ADD COLUMN {table}.{col}"), Some(table))
            }
            _ => continue,
        };
        out.push(Hit {
            stmt: i,
            tables: table.into_iter().cloned().collect(),
            message: format!("{what} in a contract script: it runs after the rollout, so the new app version, which needs it, starts without it"),
            rewrite: MOVE.into(),
            ..Hit::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "compat-phase-mismatch";

    #[test]
    fn fires_on_additions_in_contract() {
        assert!(fires(ID, &contract("ALTER TABLE t ADD COLUMN c int;")));
        assert!(fires(ID, &contract("CREATE TABLE t2 (a int);")));
    }

    #[test]
    fn near_misses() {
        assert!(!fires(ID, "ALTER TABLE t ADD COLUMN c int;"));
        assert!(!fires(ID, &contract("ALTER TABLE t DROP COLUMN c;")));
    }
}
