//! `tx-validate-same-transaction`: `ADD … NOT VALID` and `VALIDATE CONSTRAINT` of the same constraint in one transaction, so the ADD's lock lasts the whole scan (reference §7 #6).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Action;

pub static RULE: Rule = Rule {
    id: "tx-validate-same-transaction",
    severity: Severity::Warning,
    sized: true,
    phase: false,
    squawk: &["constraint-missing-not-valid"],
    summary: "NOT VALID then VALIDATE in one transaction keeps the ADD's lock for the scan",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    if !cx.transactional() {
        return Vec::new();
    }
    let mut added = Vec::new();
    let mut out = Vec::new();
    for (i, table, a) in cx.actions() {
        match a {
            Action::AddConstraint {
                name: Some(n),
                not_valid: true,
                ..
            } => added.push((table.clone(), n.clone())),
            Action::ValidateConstraint { name }
                if added.iter().any(|(t, n)| t == table && n == name) =>
            {
                out.push(Hit::on(
                    i,
                    table,
                    format!("VALIDATE CONSTRAINT {name} runs in the same transaction as its ADD … NOT VALID, so the ADD's lock on {table}{{size}} is held for the whole scan"),
                    format!("Move `ALTER TABLE {table} VALIDATE CONSTRAINT {name}` to the next script: on its own it takes only SHARE UPDATE EXCLUSIVE"),
                ));
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "tx-validate-same-transaction";

    #[test]
    fn firing_cases() {
        assert!(fires(
            ID,
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c;"
        ));
    }

    #[test]
    fn near_misses() {
        assert!(!fires(ID, "ALTER TABLE t VALIDATE CONSTRAINT c;"));
        assert!(!fires(
            ID,
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT other;"
        ));
    }
}
