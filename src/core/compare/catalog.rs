//! The schema level: each side's catalog read as `(kind, name, owner, definition)` objects, and the differences between two such lists — missing, extra, or defined otherwise — without repeating what a missing table already says.

use std::collections::{BTreeMap, BTreeSet};

use super::filter::Pattern;
use super::{Difference, Level};

/// One object as the catalog query returns it. `name` is qualified and quoted as
/// PostgreSQL prints identifiers (`public."Order"`); `owner` is the table a column,
/// constraint, index or trigger belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub kind: String,
    pub name: String,
    pub owner: Option<String>,
    /// The schema and table the object is about (its own for a table, its owner's for
    /// the rest), unquoted, for the table filter; `None` for database-wide objects.
    pub table: Option<(String, String)>,
    pub definition: String,
}

/// Objects the table filter keeps: those of matching tables; database-wide objects
/// (schemas, functions, extensions, types, views) only when there is no filter, since a
/// filter says which tables the comparison is about.
pub fn keep(objects: Vec<Object>, filter: &[Pattern]) -> Vec<Object> {
    if filter.is_empty() {
        return objects;
    }
    objects
        .into_iter()
        .filter(|o| {
            o.table
                .as_ref()
                .is_some_and(|(s, t)| filter.iter().any(|p| p.matches(s, t)))
        })
        .collect()
}

/// The differences between the two catalogs, in kind and name order. An object whose
/// owner is missing (or extra) as a whole is not listed again: the table says it.
pub fn diff(source: &[Object], target: &[Object]) -> Vec<Difference> {
    let index = |objects: &[Object]| -> BTreeMap<(String, String), Object> {
        objects
            .iter()
            .map(|o| ((o.kind.clone(), o.name.clone()), o.clone()))
            .collect()
    };
    let (s, t) = (index(source), index(target));
    let tables = |m: &BTreeMap<(String, String), Object>| -> BTreeSet<String> {
        m.values()
            .filter(|o| o.owner.is_none())
            .map(|o| o.name.clone())
            .collect()
    };
    let (s_tables, t_tables) = (tables(&s), tables(&t));
    let mut out = Vec::new();
    let keys: BTreeSet<&(String, String)> = s.keys().chain(t.keys()).collect();
    for key in keys {
        let object = format!("{} {}", key.0, key.1);
        let detail = match (s.get(key), t.get(key)) {
            (Some(a), Some(b)) if a.definition == b.definition => continue,
            (Some(a), Some(b)) => format!(
                "defined differently: source `{}`, target `{}`",
                shown(&a.definition),
                shown(&b.definition)
            ),
            (Some(a), None) => {
                if a.owner.as_ref().is_some_and(|o| !t_tables.contains(o)) {
                    continue;
                }
                "missing on the target".to_string()
            }
            (None, Some(b)) => {
                if b.owner.as_ref().is_some_and(|o| !s_tables.contains(o)) {
                    continue;
                }
                "only on the target".to_string()
            }
            (None, None) => continue,
        };
        out.push(Difference::stable(Level::Schema, object, detail));
    }
    out
}

/// A definition as a log line can hold it: one line, a function body cut short.
fn shown(definition: &str) -> String {
    const LIMIT: usize = 200;
    let one_line: String = definition.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(LIMIT) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::compare::filter;

    fn table(name: &str) -> Object {
        Object {
            kind: "table".into(),
            name: format!("public.{name}"),
            owner: None,
            table: Some(("public".into(), name.into())),
            definition: String::new(),
        }
    }

    fn part(kind: &str, table: &str, name: &str, def: &str) -> Object {
        Object {
            kind: kind.into(),
            name: format!("public.{table}.{name}"),
            owner: Some(format!("public.{table}")),
            table: Some(("public".into(), table.into())),
            definition: def.into(),
        }
    }

    fn lines(d: &[Difference]) -> Vec<String> {
        d.iter().map(Difference::line).collect()
    }

    #[test]
    fn identical_catalogs_have_no_differences() {
        let a = vec![table("t"), part("column", "t", "id", "bigint not null")];
        assert!(diff(&a, &a.clone()).is_empty());
    }

    #[test]
    fn a_changed_type_a_missing_index_and_an_extra_table_are_each_named() {
        let s = vec![
            table("t"),
            part("column", "t", "n", "integer"),
            part(
                "index",
                "t",
                "t_n_idx",
                "CREATE INDEX t_n_idx ON public.t USING btree (n)",
            ),
        ];
        let t = vec![table("t"), part("column", "t", "n", "bigint"), table("x")];
        assert_eq!(
            lines(&diff(&s, &t)),
            vec![
                "schema column public.t.n: defined differently: source `integer`, target `bigint`",
                "schema index public.t.t_n_idx: missing on the target",
                "schema table public.x: only on the target",
            ]
        );
    }

    #[test]
    fn a_missing_table_is_said_once_not_once_per_column() {
        let s = vec![
            table("gone"),
            part("column", "gone", "a", "text"),
            part("constraint", "gone", "gone_pkey", "PRIMARY KEY (a)"),
        ];
        assert_eq!(
            lines(&diff(&s, &[])),
            vec!["schema table public.gone: missing on the target"]
        );
    }

    #[test]
    fn long_definitions_are_one_line_and_cut() {
        let body = format!(
            "CREATE FUNCTION f()\n  RETURNS int AS $$ {} $$",
            "x ".repeat(300)
        );
        let d = diff(
            &[Object {
                definition: body,
                ..table("f")
            }],
            &[Object {
                definition: "other".into(),
                ..table("f")
            }],
        );
        let line = d[0].line();
        assert!(
            !line.contains('\n') && line.contains('…') && line.len() < 400,
            "{line}"
        );
    }

    #[test]
    fn a_filter_keeps_its_tables_and_drops_database_wide_objects() {
        let ext = Object {
            kind: "extension".into(),
            name: "pgcrypto".into(),
            owner: None,
            table: None,
            definition: "1.3".into(),
        };
        let all = vec![
            table("a"),
            part("column", "a", "x", "int"),
            table("b"),
            ext.clone(),
        ];
        assert_eq!(keep(all.clone(), &[]).len(), 4);
        let kept = keep(all, &filter::parse("a").unwrap());
        assert_eq!(
            kept.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            vec!["public.a", "public.a.x"]
        );
    }
}
