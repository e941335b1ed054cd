//! Reads what the lint needs from the live catalog (SPEC §8): table sizes, column types, validated checks, indexes, function volatility, constrained domains and the planner's row estimates; read-only, a handful of round trips whatever the number of scripts.

use serde_json::Value;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::core::lint::facts::{EMPTY_BYTES, Index, Live, Table};
use crate::core::lint::parse::{self, Name};
use crate::core::lint::{Wanted, types::Session};

/// Every table at once: size, kind, columns, the columns validated CHECKs prove non-null,
/// and who references it. Partitioned tables are summed over their leaves (the parent has
/// no rows of its own).
const TABLES: &str = "
SELECT n.t,
       c.oid IS NOT NULL,
       coalesce(c.relkind = 'p', false),
       CASE WHEN c.relkind = 'p' THEN
              (SELECT coalesce(sum(greatest(p.reltuples, 0)), 0)::float8
                 FROM pg_partition_tree(c.oid) pt JOIN pg_class p ON p.oid = pt.relid WHERE pt.isleaf)
            ELSE c.reltuples::float8 END,
       CASE WHEN c.relkind = 'p' THEN
              (SELECT coalesce(sum(pg_total_relation_size(pt.relid)), 0)::int8 FROM pg_partition_tree(c.oid) pt)
            ELSE pg_total_relation_size(c.oid) END,
       (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull))::text
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
       (SELECT json_agg(pg_get_constraintdef(k.oid))::text
          FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'c' AND k.convalidated),
       (SELECT json_agg(DISTINCT k.conrelid::regclass::text)::text
          FROM pg_constraint k WHERE k.confrelid = c.oid AND k.contype = 'f' AND k.conrelid <> c.oid)
  FROM unnest($1::text[]) AS n(t)
  LEFT JOIN pg_class c ON c.oid = to_regclass(n.t)";

const INDEXES: &str = "
SELECT n.t, i.indrelid::regclass::text, i.indisvalid
  FROM unnest($1::text[]) AS n(t)
  JOIN pg_index i ON i.indexrelid = to_regclass(n.t)";

const FUNCTIONS: &str = "
SELECT n.f, bool_or(p.provolatile = 'v')
  FROM unnest($1::text[], $2::text[], $3::text[]) AS n(f, s, b)
  JOIN pg_proc p ON p.proname = n.b
   AND (n.s = '' OR p.pronamespace = to_regnamespace(n.s))
 GROUP BY n.f";

const DOMAINS: &str = "
SELECT n.t
  FROM unnest($1::text[]) AS n(t)
  JOIN pg_type ty ON ty.oid = to_regtype(n.t)
 WHERE ty.typtype = 'd' AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.contypid = ty.oid)";

/// The column a `CHECK ((col IS NOT NULL))` definition proves non-null.
fn not_null_column(def: &str) -> Option<String> {
    let inner = def
        .strip_prefix("CHECK")?
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    let col = inner.strip_suffix(" IS NOT NULL")?;
    let n = parse::name(col)?;
    (n.schema.is_none() && n.sql() == col.trim()).then_some(n.name)
}

/// The row estimate of a data change: the rows its plan reads, under the ModifyTable node.
fn plan_rows(explain: &str) -> Option<u64> {
    let v: Value = serde_json::from_str(explain).ok()?;
    let plan = &v[0]["Plan"];
    let top = plan["Plan Rows"].as_f64().unwrap_or(0.0);
    let child = plan["Plans"][0]["Plan Rows"].as_f64().unwrap_or(0.0);
    Some(top.max(child) as u64)
}

/// Looks up everything `wanted` names. A query that fails leaves its facts out (the rules
/// then judge as if offline); only a lost connection is an error.
pub async fn read(
    client: &Client,
    wanted: &Wanted,
    small_rows: u64,
) -> Result<Live, tokio_postgres::Error> {
    let mut live = Live::default();
    // Typed queries go in one round trip; `query_one` with text would prepare first.
    let row = client
        .query_typed_one(
            "SELECT current_setting('server_version_num')::int4, current_setting('TimeZone')",
            &[],
        )
        .await?;
    let version: i32 = row.get(0);
    let tz: String = row.get(1);
    live.session = Session {
        version: Some(version as u32),
        utc: Some(matches!(
            tz.as_str(),
            "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "UCT" | "Zulu" | "Etc/Zulu"
        )),
    };
    let names: Vec<String> = wanted.tables.iter().map(Name::sql).collect();
    if !names.is_empty() {
        for (n, row) in wanted.tables.iter().zip(
            client
                .query_typed(TABLES, &[(&names, Type::TEXT_ARRAY)])
                .await?,
        ) {
            if !row.get::<_, bool>(1) {
                live.tables.insert(n.clone(), None);
                continue;
            }
            let reltuples: f64 = row.get(3);
            let bytes: i64 = row.get(4);
            let mut t = Table {
                partitioned: row.get(2),
                bytes,
                rows: reltuples.max(0.0) as u64,
                ..Table::default()
            };
            if reltuples < 0.0 && bytes > EMPTY_BYTES {
                // Never analysed: count, but never more than the small limit.
                let q = format!(
                    "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {small_rows}) s",
                    n.sql()
                );
                t.rows = match client.query_one(&q, &[]).await {
                    Ok(r) => r.get::<_, i64>(0) as u64,
                    Err(e) if e.is_closed() => return Err(e),
                    Err(_) => small_rows,
                };
            }
            let json = |i: usize| -> Vec<Value> {
                row.get::<_, Option<String>>(i)
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default()
            };
            for c in json(5) {
                if let (Some(name), Some(ty), Some(nn)) =
                    (c[0].as_str(), c[1].as_str(), c[2].as_bool())
                {
                    t.columns
                        .insert(name.to_string(), (parse::type_text(ty), nn));
                }
            }
            for def in json(6) {
                t.has_valid_check = true;
                if let Some(col) = def.as_str().and_then(not_null_column) {
                    t.proven_not_null.insert(col);
                }
            }
            t.referenced_by = json(7)
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            live.tables.insert(n.clone(), Some(t));
        }
    }
    let names: Vec<String> = wanted.indexes.iter().map(Name::sql).collect();
    if !names.is_empty() {
        for row in client
            .query_typed(INDEXES, &[(&names, Type::TEXT_ARRAY)])
            .await?
        {
            let key: String = row.get(0);
            let (Some(index), Some(table)) =
                (parse::name(&key), parse::name(&row.get::<_, String>(1)))
            else {
                continue;
            };
            live.indexes.insert(
                index,
                Index {
                    table,
                    valid: row.get(2),
                },
            );
        }
    }
    if !wanted.functions.is_empty() {
        let (schemas, bare): (Vec<String>, Vec<String>) = wanted
            .functions
            .iter()
            .map(|f| match f.rsplit_once('.') {
                Some((s, b)) => (s.to_string(), b.to_string()),
                None => (String::new(), f.clone()),
            })
            .unzip();
        for row in client
            .query_typed(
                FUNCTIONS,
                &[
                    (&wanted.functions, Type::TEXT_ARRAY),
                    (&schemas, Type::TEXT_ARRAY),
                    (&bare, Type::TEXT_ARRAY),
                ],
            )
            .await?
        {
            live.volatile.insert(row.get(0), row.get(1));
        }
    }
    let types: Vec<String> = wanted.types.iter().map(Name::sql).collect();
    if !types.is_empty() {
        for row in client
            .query_typed(DOMAINS, &[(&types, Type::TEXT_ARRAY)])
            .await?
        {
            if let Some(n) = parse::name(&row.get::<_, String>(0)) {
                live.constrained_domains.insert(n);
            }
        }
    }
    for (display, k, text) in &wanted.changes {
        // EXPLAIN without ANALYZE plans and never runs. A change to what an earlier pending
        // script creates cannot be planned yet: it gets no estimate.
        match client
            .simple_query(&format!("EXPLAIN (FORMAT JSON) {text}"))
            .await
        {
            Ok(msgs) => {
                let json = msgs.iter().find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(String::from),
                    _ => None,
                });
                if let Some(rows) = json.as_deref().and_then(plan_rows) {
                    live.estimates.insert((display.clone(), *k), rows);
                }
            }
            Err(e) if e.is_closed() => return Err(e),
            Err(_) => {}
        }
    }
    Ok(live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_definitions_that_prove_not_null() {
        assert_eq!(
            not_null_column("CHECK ((email IS NOT NULL))").as_deref(),
            Some("email")
        );
        assert_eq!(
            not_null_column("CHECK ((\"E\" IS NOT NULL))").as_deref(),
            Some("E")
        );
        assert_eq!(not_null_column("CHECK ((total > 0))"), None);
        assert_eq!(
            not_null_column("CHECK (((a IS NOT NULL) AND (b > 0)))"),
            None
        );
    }

    #[test]
    fn estimates_come_from_under_the_modify_node() {
        let j = r#"[{"Plan": {"Node Type": "ModifyTable", "Plan Rows": 0, "Plans": [{"Node Type": "Seq Scan", "Plan Rows": 300000}]}}]"#;
        assert_eq!(plan_rows(j), Some(300_000));
    }
}
