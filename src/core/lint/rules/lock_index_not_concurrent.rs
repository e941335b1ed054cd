//! `lock-index-not-concurrent`: `CREATE INDEX` without `CONCURRENTLY` on a table that already exists (reference §7 #1).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Stmt;

pub static RULE: Rule = Rule {
    id: "lock-index-not-concurrent",
    severity: Severity::Error,
    sized: true,
    phase: false,
    squawk: &["require-concurrent-index-creation"],
    summary: "CREATE INDEX without CONCURRENTLY blocks writes for the whole build",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        let Stmt::CreateIndex {
            name,
            table,
            unique,
            concurrently: false,
            ..
        } = s
        else {
            continue;
        };
        let index = name.as_ref().map(|n| format!(" {n}")).unwrap_or_default();
        let unique = if *unique { "UNIQUE " } else { "" };
        let partitioned = cx.live_table(table).is_some_and(|t| t.partitioned);
        let rewrite = if partitioned {
            format!(
                "{table} is partitioned, so CONCURRENTLY cannot build on it directly: run `CREATE {unique}INDEX CONCURRENTLY` on each partition (one non-transactional script), then `CREATE {unique}INDEX{index} ON ONLY {table} (…)` and `ALTER INDEX{index} ATTACH PARTITION <partition index>` for each"
            )
        } else {
            format!(
                "`CREATE {unique}INDEX CONCURRENTLY IF NOT EXISTS{index} ON {table} (…)` in a script of its own: schemagate runs a script holding CONCURRENTLY outside a transaction, and reads and writes go on during the build"
            )
        };
        out.push(Hit::on(
            i,
            table,
            format!("CREATE {unique}INDEX{index} takes a SHARE lock on {table}{{size}}: every INSERT, UPDATE and DELETE waits until the index is built"),
            rewrite,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "lock-index-not-concurrent";

    #[test]
    fn fires_on_an_existing_table() {
        assert!(fires(ID, "CREATE INDEX i ON orders (customer_id);"));
        assert_eq!(
            live_severity(ID, "CREATE INDEX i ON big (a);", &live()),
            Some("error")
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(
            ID,
            "CREATE INDEX CONCURRENTLY i ON orders (customer_id);"
        ));
        // Created in the same script: nobody writes to it yet.
        assert!(!fires(
            ID,
            "CREATE TABLE t (a int);\nCREATE INDEX i ON t (a);"
        ));
        assert_eq!(
            live_severity(ID, "CREATE INDEX i ON empty (a);", &live()),
            None
        );
        assert_eq!(
            live_severity(ID, "CREATE INDEX i ON small (a);", &live()),
            Some("info")
        );
    }

    #[test]
    fn a_partitioned_table_gets_the_per_partition_recipe() {
        let mut l = live();
        table_mut(&mut l, "big").partitioned = true;
        let f = run("CREATE INDEX i ON big (a);", Some(&l));
        assert!(f[0].rewrite.contains("ON ONLY big"), "{}", f[0].rewrite);
        assert!(
            f[0].message.contains("big (300 000 rows, 40 MB)"),
            "{}",
            f[0].message
        );
    }
}
