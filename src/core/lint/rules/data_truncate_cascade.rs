//! `data-truncate-cascade`: `TRUNCATE … CASCADE`, which also empties every table that references the one named (reference §7 #24).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Stmt;

pub static RULE: Rule = Rule {
    id: "data-truncate-cascade",
    severity: Severity::Error,
    sized: false,
    phase: false,
    squawk: &["ban-truncate-cascade"],
    summary: "TRUNCATE CASCADE empties every table that references the one named",
    check,
};

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, s) in cx.stmts() {
        let Stmt::Truncate {
            tables,
            cascade: true,
        } = s
        else {
            continue;
        };
        for t in tables {
            let also = cx
                .live_table(t)
                .map(|f| f.referenced_by.clone())
                .filter(|r| !r.is_empty())
                .map(|r| format!(", and with it {}", r.join(", ")))
                .unwrap_or_else(|| {
                    ", and with it every table whose foreign keys reference it".into()
                });
            out.push(Hit::on(
                i,
                t,
                format!("TRUNCATE {t} CASCADE empties {t}{{size}}{also}"),
                format!("Name every table to empty: `TRUNCATE {t}, <each referencing table>` without CASCADE"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "data-truncate-cascade";

    #[test]
    fn firing_cases() {
        assert!(fires(ID, "TRUNCATE orders CASCADE;"));
        let mut l = live();
        table_mut(&mut l, "big").referenced_by = vec!["order_lines".into()];
        let f = run("TRUNCATE big CASCADE;", Some(&l));
        assert!(
            f.iter()
                .any(|f| f.rule == ID && f.message.contains("order_lines"))
        );
    }

    #[test]
    fn near_misses() {
        assert!(!fires(ID, "TRUNCATE orders;"));
        assert!(!fires(ID, &contract("TRUNCATE orders;")));
    }
}
