//! `lock-drop-index-not-concurrent`: `DROP INDEX` without `CONCURRENTLY` (reference §7 #2).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Stmt;

pub static RULE: Rule = Rule {
    id: "lock-drop-index-not-concurrent",
    severity: Severity::Warning,
    sized: true,
    phase: false,
    squawk: &["require-concurrent-index-deletion"],
    summary: "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        let Stmt::DropIndex {
            names,
            concurrently: false,
        } = s
        else {
            continue;
        };
        for index in names {
            let table = cx.index_table(index, i);
            if table.is_none() && cx.live.is_some() {
                // Neither the catalog nor the scripts know it: `IF EXISTS` makes it a no-op.
                continue;
            }
            let on = table
                .as_ref()
                .map(|t| format!("{t}{{size}}"))
                .unwrap_or_else(|| "its table".into());
            out.push(Hit {
                stmt: i,
                tables: table.into_iter().collect(),
                message: format!(
                    "DROP INDEX {index} takes ACCESS EXCLUSIVE on {on}: reads and writes queue behind it, and behind any long transaction it waits for"
                ),
                rewrite: format!(
                    "`DROP INDEX CONCURRENTLY IF EXISTS {index}` in a script of its own (one index per statement; an index that backs a constraint goes with `ALTER TABLE … DROP CONSTRAINT`)"
                ),
                ..Hit::default()
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::core::lint::facts::Index;
    use crate::core::lint::parse::Name;

    const ID: &str = "lock-drop-index-not-concurrent";

    #[test]
    fn firing_cases() {
        assert_eq!(ids("DROP INDEX i;"), vec![format!("{ID}:warning")]);
        let mut l = live();
        l.indexes.insert(
            Name::bare("i"),
            Index {
                table: Name::bare("big"),
                valid: true,
            },
        );
        assert_eq!(live_severity(ID, "DROP INDEX i;", &l), Some("warning"));
    }

    #[test]
    fn near_misses() {
        assert!(!super::super::testing::fires(
            ID,
            "DROP INDEX CONCURRENTLY i;"
        ));
        assert!(!super::super::testing::fires(
            ID,
            "CREATE TABLE t (a int);\nCREATE INDEX i ON t (a);\nDROP INDEX i;"
        ));
        // Unknown to the catalog: nothing to drop.
        assert_eq!(
            live_severity(ID, "DROP INDEX IF EXISTS gone;", &live()),
            None
        );
    }
}
