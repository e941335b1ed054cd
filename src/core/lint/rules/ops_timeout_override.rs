//! `ops-timeout-override`: a script that turns off or outlives schemagate's own `lock_timeout` / `statement_timeout`, or takes `LOCK TABLE` with no mode (reference §7 #22).

use super::{Cx, Hit, Rule};
use crate::core::lint::Severity;
use crate::core::lint::parse::Stmt;

pub static RULE: Rule = Rule {
    id: "ops-timeout-override",
    severity: Severity::Warning,
    sized: false,
    phase: false,
    squawk: &[],
    summary: "a script that disables or outlives schemagate's lock_timeout / statement_timeout",
    check,
};

const TIMEOUTS: [&str; 2] = ["lock_timeout", "statement_timeout"];

fn check(cx: &Cx<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    let keep = "schemagate sets lock_timeout (SCHEMAGATE_LOCK_TIMEOUT) for every migration and retries on 55P03: remove the override, or `SET LOCAL` a non-zero value for this script only";
    for (i, s) in cx.stmts() {
        let message = match s {
            Stmt::Set { local, name, value } if TIMEOUTS.contains(&name.as_str()) => {
                let v = value.trim_matches('\'').trim();
                if v == "0"
                    || v.eq_ignore_ascii_case("default")
                    || v.starts_with("0 ")
                    || v == "0ms"
                    || v == "0s"
                {
                    format!(
                        "SET {name} = {value} turns the timeout off: a DDL can then queue behind a long transaction, and every query on the table behind it"
                    )
                } else if !local {
                    format!(
                        "SET {name} without LOCAL outlives this script: it holds for every later script on schemagate's session"
                    )
                } else {
                    continue;
                }
            }
            Stmt::Reset { name } if TIMEOUTS.contains(&name.as_str()) || name == "all" => {
                format!("RESET {name} removes the timeout schemagate set for this migration")
            }
            Stmt::Lock { tables, mode: None } => {
                let t = tables.first().map(|t| t.to_string()).unwrap_or_default();
                out.push(Hit {
                    stmt: i,
                    tables: tables.first().cloned().into_iter().collect(),
                    message: format!("LOCK TABLE {t} without a mode takes ACCESS EXCLUSIVE: reads stop too"),
                    rewrite: "Name the weakest mode that serves (`IN SHARE ROW EXCLUSIVE MODE` keeps readers going)".into(),
                    ..Hit::default()
                });
                continue;
            }
            _ => continue,
        };
        out.push(Hit {
            stmt: i,
            message,
            rewrite: keep.into(),
            ..Hit::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    const ID: &str = "ops-timeout-override";

    #[test]
    fn firing_cases() {
        assert!(fires(ID, "SET lock_timeout = 0;"));
        assert!(fires(ID, "SET statement_timeout TO '5min';"));
        assert!(fires(ID, "RESET lock_timeout;"));
        assert!(fires(ID, "LOCK TABLE orders;"));
    }

    #[test]
    fn near_misses() {
        assert!(!fires(ID, "SET LOCAL lock_timeout = '2s';"));
        assert!(!fires(ID, "SET search_path = app;"));
        assert!(!fires(ID, "LOCK TABLE orders IN SHARE MODE;"));
    }
}
