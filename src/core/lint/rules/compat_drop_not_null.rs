//! `compat-drop-not-null`: `DROP NOT NULL` while the running app version may not expect NULLs (reference §7 #14).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Action;

pub static RULE: Rule = Rule {
    id: "compat-drop-not-null",
    severity: Severity::Warning,
    sized: false,
    phase: true,
    squawk: &["ban-drop-not-null"],
    summary: "DROP NOT NULL lets NULLs reach readers that do not expect them",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, table, a) in cx.actions() {
        if let Action::DropNotNull { column } = a {
            out.push(Hit::on(
                i,
                table,
                format!("DROP NOT NULL on {table}.{column}: the app version still running may read a NULL it does not handle"),
                format!("Drop it in a `-- schemagate:contract` script once every running reader handles NULL in {column}, or keep NOT NULL with a sentinel default"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "compat-drop-not-null";

    #[test]
    fn firing_cases() {
        assert_eq!(
            ids("ALTER TABLE t ALTER COLUMN c DROP NOT NULL;"),
            vec![format!("{ID}:warning")]
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(
            ID,
            &contract("ALTER TABLE t ALTER COLUMN c DROP NOT NULL;")
        ));
        assert!(!fires(ID, "ALTER TABLE t ALTER COLUMN c DROP DEFAULT;"));
    }
}
