//! `data-unbatched-backfill`: an UPDATE, DELETE or INSERT … SELECT that touches many rows in one transaction instead of in batches (reference §7 #16).

use super::{Cx, Hit, Rule};
use crate::core::directives::Phase;
use crate::core::lint::Severity;
use crate::core::lint::facts::describe;
use crate::core::lint::parse::Stmt;

pub static RULE: Rule = Rule {
    id: "data-unbatched-backfill",
    severity: Severity::Error,
    sized: true,
    phase: false,
    squawk: &[],
    summary: "a data change touching many rows in one transaction: long row locks, bloat, replica lag",
    check,
};

fn rewrite(verb: &str, table: &crate::core::lint::parse::Name) -> String {
    format!(
        "Move it to a script that starts with `-- schemagate:backfill`, written to touch one batch per run: `{verb} … WHERE id IN (SELECT id FROM {table} WHERE <not done> ORDER BY id LIMIT ${{schemagate:batch_size}} for update skip locked)`; schemagate repeats it in short transactions until it touches nothing"
    )
}

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    // A backfill script is run in batches: that is the rewrite this rule asks for.
    if cx.phase() == Phase::Backfill {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        let (verb, table, has_where) = match s {
            Stmt::Change {
                verb,
                table,
                has_where,
            } => (*verb, table, *has_where),
            Stmt::InsertSelect { table } => ("INSERT … SELECT", table, true),
            _ => continue,
        };
        match cx.estimate(i) {
            Some(rows) if rows >= cx.opts.small_rows => out.push(Hit {
                sized: Some(false),
                ..Hit::on(
                    i,
                    table,
                    format!("{verb} on {table}{{size}} touches ~{} rows in one transaction (the planner's estimate): row locks for its whole length, bloat, replica lag, and DDL after it queues", describe(rows, 0).split(" rows").next().unwrap_or_default()),
                    rewrite(verb, table),
                )
            }),
            Some(_) => {}
            // Without an estimate only an unbounded change is known to touch every row.
            None if !has_where => out.push(Hit::on(
                i,
                table,
                format!("{verb} without WHERE touches every row of {table}{{size}} in one transaction: row locks for its whole length, bloat, replica lag, and DDL after it queues"),
                rewrite(verb, table),
            )),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "data-unbatched-backfill";

    #[test]
    fn firing_cases() {
        assert!(fires(ID, "UPDATE orders SET total_cents = total * 100;"));
        assert_eq!(
            live_severity(ID, "UPDATE big SET a = 1;", &live()),
            Some("error")
        );
        let mut l = live();
        l.estimates.insert(("V1__t.sql".into(), 0), 300_000);
        assert_eq!(
            live_severity(ID, "UPDATE big SET a = 1 WHERE a IS NULL;", &l),
            Some("error")
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(
            ID,
            "UPDATE orders SET total_cents = 0 WHERE id = 7;"
        ));
        assert!(!fires(ID, "-- schemagate:backfill\nUPDATE orders SET c = 1 WHERE id IN (SELECT id FROM orders WHERE c IS NULL LIMIT ${schemagate:batch_size});".replace("${schemagate:batch_size}", "100").as_str()));
        let mut l = live();
        l.estimates.insert(("V1__t.sql".into(), 0), 12);
        assert_eq!(
            live_severity(ID, "UPDATE big SET a = 1 WHERE id < 12;", &l),
            None
        );
        assert_eq!(
            live_severity(ID, "UPDATE small SET a = 1;", &live()),
            Some("info")
        );
    }
}
