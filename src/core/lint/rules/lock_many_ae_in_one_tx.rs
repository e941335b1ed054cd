//! `lock-many-ae-in-one-tx`: ACCESS EXCLUSIVE on two or more existing tables, or DDL and a data change, in one transaction, so every lock is held until the last statement ends (reference §7 #17).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::{Name, Stmt};

pub static RULE: Rule = Rule {
    id: "lock-many-ae-in-one-tx",
    severity: Severity::Warning,
    sized: false,
    phase: false,
    squawk: &[],
    summary: "ACCESS EXCLUSIVE on several tables, or DDL plus a data change, held to one COMMIT",
    check,
};

/// The table a statement takes ACCESS EXCLUSIVE on, if it does.
fn exclusive_on(cx: &Cx<'_>, i: usize, s: &Stmt) -> Option<Name> {
    match s {
        Stmt::AlterTable { table, actions } if actions.iter().any(|a| a.exclusive()) => {
            Some(table.clone())
        }
        Stmt::Truncate { tables, .. } => tables.first().cloned(),
        Stmt::Vacuum { full: true, tables } => tables.first().cloned(),
        Stmt::Cluster { table } => table.clone(),
        Stmt::Refresh {
            view,
            concurrently: false,
        } => Some(view.clone()),
        Stmt::Lock { tables, mode } if mode.as_deref().is_none_or(|m| m == "ACCESS EXCLUSIVE") => {
            tables.first().cloned()
        }
        Stmt::DropIndex {
            names,
            concurrently: false,
        } => names.first().and_then(|n| cx.index_table(n, i)),
        _ => None,
    }
}

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    if !cx.transactional() {
        return Vec::new();
    }
    let mut locked: Vec<Name> = Vec::new();
    let mut changed: Option<Name> = None;
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        if let Some(t) = exclusive_on(cx, i, s).filter(|t| cx.big(t, i)) {
            if let Some(first) = locked.first().filter(|f| **f != t) {
                if locked.len() == 1 {
                    out.push(Hit::on(
                        i,
                        &t,
                        format!("this script holds ACCESS EXCLUSIVE on {first} and now on {t}{{size}} until its COMMIT: traffic to both stops for the sum of every statement's time"),
                        "Split it: one short ACCESS EXCLUSIVE step per script, each its own transaction".into(),
                    ));
                }
            }
            if !locked.contains(&t) {
                locked.push(t.clone());
            }
            if let Some(c) = &changed {
                out.push(Hit::on(
                    i,
                    &t,
                    format!("DDL on {t}{{size}} after a data change to {c} in the same transaction: the change's row locks and this ACCESS EXCLUSIVE are held together until COMMIT"),
                    "Put the data change and the DDL in separate scripts".into(),
                ));
                changed = None;
            }
        }
        if let Some(t) = s.changes_data().filter(|t| cx.big(t, i)) {
            if let Some(first) = locked.first() {
                if changed.is_none() {
                    out.push(Hit::on(
                        i,
                        t,
                        format!("a data change to {t}{{size}} while this transaction holds ACCESS EXCLUSIVE on {first}: {first} stays locked for as long as the change runs"),
                        "Put the data change and the DDL in separate scripts (a large change in a `-- schemagate:backfill` script)".into(),
                    ));
                }
            }
            changed = Some(t.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "lock-many-ae-in-one-tx";

    #[test]
    fn firing_cases() {
        assert!(fires(
            ID,
            "ALTER TABLE a ADD COLUMN x int;\nALTER TABLE b ADD COLUMN y int;"
        ));
        assert!(fires(
            ID,
            "ALTER TABLE a ADD COLUMN x int;\nUPDATE b SET y = 1 WHERE id = 1;"
        ));
        assert_eq!(
            live_severity(
                ID,
                "ALTER TABLE big ADD COLUMN x int;\nLOCK TABLE big2;",
                &{
                    let mut l = live();
                    let t = l.tables[&crate::core::lint::parse::Name::bare("big")].clone();
                    l.tables
                        .insert(crate::core::lint::parse::Name::bare("big2"), t);
                    l
                }
            ),
            Some("warning")
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(
            ID,
            "ALTER TABLE a ADD COLUMN x int;\nALTER TABLE a ADD COLUMN y int;"
        ));
        assert!(!fires(
            ID,
            "CREATE TABLE b (y int);\nALTER TABLE a ADD COLUMN x int;\nALTER TABLE b ADD COLUMN z int;"
        ));
        assert_eq!(
            live_severity(
                ID,
                "ALTER TABLE big ADD COLUMN x int;\nALTER TABLE small ADD COLUMN y int;",
                &live()
            ),
            None
        );
    }
}
