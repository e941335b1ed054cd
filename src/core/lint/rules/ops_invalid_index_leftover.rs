//! `ops-invalid-index-leftover`: the index a script builds already exists as INVALID, left by a failed CONCURRENTLY build (reference §7 #4; live only).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Stmt;

pub static RULE: Rule = Rule {
    id: "ops-invalid-index-leftover",
    severity: Severity::Error,
    sized: false,
    phase: false,
    squawk: &[],
    summary: "an INVALID index left by a failed CONCURRENTLY build holds the name",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        let Stmt::CreateIndex {
            name: Some(index),
            table,
            if_not_exists,
            ..
        } = s
        else {
            continue;
        };
        if !cx.index_invalid(index) {
            continue;
        }
        let then = if *if_not_exists {
            "IF NOT EXISTS skips it, so the script \"succeeds\" and leaves no usable index"
        } else {
            "the CREATE fails with \"already exists\""
        };
        out.push(Hit {
            stmt: i,
            tables: vec![table.clone()],
            message: format!(
                "index {index} on {table} exists and is INVALID (an earlier CONCURRENTLY build failed): {then}"
            ),
            rewrite: format!(
                "`schemagate repair` drops INVALID indexes left by failed scripts; or put `DROP INDEX CONCURRENTLY IF EXISTS {index}` in a script before this one"
            ),
            ..Hit::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::core::lint::facts::Index;
    use crate::core::lint::parse::Name;

    const ID: &str = "ops-invalid-index-leftover";

    fn with_index(valid: bool) -> crate::core::lint::facts::Live {
        let mut l = live();
        l.indexes.insert(
            Name::bare("i"),
            Index {
                table: Name::bare("big"),
                valid,
            },
        );
        l
    }

    #[test]
    fn fires_on_an_invalid_leftover() {
        let sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON big (a);";
        assert_eq!(live_severity(ID, sql, &with_index(false)), Some("error"));
    }

    #[test]
    fn near_misses() {
        let sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON big (a);";
        assert_eq!(live_severity(ID, sql, &with_index(true)), None);
        assert!(!fires(ID, sql));
    }
}
