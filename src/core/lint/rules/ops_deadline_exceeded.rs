//! `ops-deadline-exceeded`: the scans, rewrites and index builds of a script, estimated from the live table sizes, would outlast what is left of the run's deadline (reference §7 #23; live only).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::facts::human_bytes;
use crate::core::lint::parse::{Action, ConstraintKind, Name, Stmt};

pub static RULE: Rule = Rule {
    id: "ops-deadline-exceeded",
    severity: Severity::Error,
    sized: false,
    phase: false,
    squawk: &[],
    summary: "the script's estimated scan and rewrite time exceeds the remaining deadline",
    check,
};

/// What a rewrite, scan or index build is assumed to read per second. Deliberately low:
/// a cloud volume under production load, indexes rebuilt as well.
pub const BYTES_PER_SEC: f64 = 50.0 * 1024.0 * 1024.0;

/// The table a statement reads in full, if it does.
fn scanned(s: &Stmt) -> Vec<&Name> {
    match s {
        Stmt::CreateIndex { table, .. } => vec![table],
        Stmt::Vacuum { full: true, tables } => tables.iter().collect(),
        Stmt::Cluster { table: Some(t) } => vec![t],
        Stmt::AlterTable { table, actions } => {
            let heavy = actions.iter().any(|a| match a {
                Action::AlterType { .. }
                | Action::SetNotNull { .. }
                | Action::ValidateConstraint { .. }
                | Action::Rewrite { .. } => true,
                Action::AddConstraint {
                    not_valid, kind, ..
                } => {
                    !not_valid
                        || matches!(
                            kind,
                            ConstraintKind::Unique { using_index: false }
                                | ConstraintKind::PrimaryKey {
                                    using_index: false,
                                    ..
                                }
                        )
                }
                _ => false,
            });
            if heavy { vec![table] } else { Vec::new() }
        }
        _ => Vec::new(),
    }
}

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let (Some(_), Some(budget)) = (cx.live, cx.opts.budget_secs) else {
        return Vec::new();
    };
    let mut bytes = 0i64;
    let mut biggest: Option<(usize, Name, i64)> = None;
    for (i, s) in cx.stmts() {
        for t in scanned(s) {
            let Some(b) = cx.live_table(t).map(|f| f.bytes) else {
                continue;
            };
            bytes += b;
            if biggest.as_ref().is_none_or(|(_, _, m)| b > *m) {
                biggest = Some((i, t.clone(), b));
            }
        }
    }
    let secs = bytes as f64 / BYTES_PER_SEC;
    let Some((i, table, _)) = biggest.filter(|_| secs > budget) else {
        return Vec::new();
    };
    vec![Hit::on(
        i,
        &table,
        format!(
            "this script reads about {} in scans, rewrites and index builds (largest: {table}{{size}}): about {:.0} s at an assumed {} /s, more than the {:.0} s left of the deadline",
            human_bytes(bytes),
            secs,
            human_bytes(BYTES_PER_SEC as i64),
            budget
        ),
        "Move the heavy statement out of the gating hook (a concurrent index build or a backfill script bounded by its own Job), or raise SCHEMAGATE_DEADLINE and the Job's activeDeadlineSeconds; nothing has been locked yet".into(),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::core::lint::Options;

    const ID: &str = "ops-deadline-exceeded";

    fn with_budget(sql: &str, budget: f64) -> Vec<&'static str> {
        let opts = Options {
            budget_secs: Some(budget),
            ..Options::default()
        };
        run_with(sql, true, Some(&live()), &opts)
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    #[test]
    fn fires_when_the_estimate_outlasts_the_budget() {
        // 40 MB at 50 MB/s is 0.8 s.
        assert!(with_budget("ALTER TABLE big ALTER COLUMN a TYPE bigint;", 0.5).contains(&ID));
    }

    #[test]
    fn near_misses() {
        assert!(!with_budget("ALTER TABLE big ALTER COLUMN a TYPE bigint;", 60.0).contains(&ID));
        assert!(!with_budget("ALTER TABLE big ADD COLUMN a int;", 0.5).contains(&ID));
        assert!(!fires(ID, "ALTER TABLE big ALTER COLUMN a TYPE bigint;"));
    }
}
