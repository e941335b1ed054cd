//! `lock-partition-detach`: `DETACH PARTITION` without CONCURRENTLY, and `ATTACH PARTITION` of a partition no validated CHECK describes, so it is scanned (reference §7 #19).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Action;

pub static RULE: Rule = Rule {
    id: "lock-partition-detach",
    severity: Severity::Warning,
    sized: true,
    phase: false,
    squawk: &["require-concurrent-partition-detach"],
    summary: "DETACH PARTITION without CONCURRENTLY locks the parent; ATTACH without a CHECK scans",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, table, a) in cx.actions() {
        match a {
            // CONCURRENTLY exists from PostgreSQL 14.
            Action::DetachPartition {
                partition,
                concurrently: false,
            } if cx.version().is_none_or(|v| v >= 140_000) => {
                out.push(Hit {
                    severity: cx.big(table, i).then_some(Severity::Error).filter(|_| cx.live.is_some()),
                    ..Hit::on(
                        i,
                        table,
                        format!("DETACH PARTITION {partition} takes ACCESS EXCLUSIVE on {table}{{size}}: every query on the partitioned table queues behind it"),
                        format!("`ALTER TABLE {table} DETACH PARTITION {partition} CONCURRENTLY` in a script of its own (not in a transaction; not with a default partition)"),
                    )
                });
            }
            Action::AttachPartition { partition } => {
                if cx.live_table(partition).is_some_and(|t| t.has_valid_check) {
                    continue;
                }
                out.push(Hit {
                    severity: cx.big(partition, i).then_some(Severity::Error).filter(|_| cx.live.is_some()),
                    ..Hit::on(
                        i,
                        partition,
                        format!("ATTACH PARTITION {partition} scans all of {partition}{{size}} under ACCESS EXCLUSIVE to prove its rows fit the bound"),
                        format!("First `ALTER TABLE {partition} ADD CONSTRAINT {p}_bound CHECK (<the partition bound>) NOT VALID` and `VALIDATE CONSTRAINT {p}_bound` in a script of its own; then ATTACH skips the scan", p = partition.name),
                    )
                });
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "lock-partition-detach";

    #[test]
    fn firing_cases() {
        assert_eq!(
            ids("ALTER TABLE m DETACH PARTITION m_2020;"),
            vec![format!("{ID}:warning")]
        );
        assert_eq!(
            live_severity(ID, "ALTER TABLE big DETACH PARTITION p;", &live()),
            Some("error")
        );
        assert!(fires(
            ID,
            "ALTER TABLE m ATTACH PARTITION m_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
        ));
    }

    #[test]
    fn near_misses() {
        assert!(!fires(
            ID,
            "ALTER TABLE m DETACH PARTITION m_2020 CONCURRENTLY;"
        ));
        let mut l = live();
        table_mut(&mut l, "big").has_valid_check = true;
        assert_eq!(
            live_severity(
                ID,
                "ALTER TABLE m ATTACH PARTITION big FOR VALUES IN (1);",
                &l
            ),
            None
        );
    }
}
