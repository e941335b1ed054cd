//! `SCHEMAGATE_COMPARE_TABLES`: which tables `compare` looks at, as `schema.table` patterns with `*`.

/// One entry of the list. `schema` is `None` for a bare `orders`, which means a table of
/// that name in any schema (a blue/green pair rarely spreads one name over schemas, and
/// `public.` on every entry is noise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub text: String,
    schema: Option<String>,
    table: String,
}

impl Pattern {
    /// Whether the pattern matches the unquoted `schema` and `table` names.
    pub fn matches(&self, schema: &str, table: &str) -> bool {
        self.schema.as_deref().is_none_or(|s| glob(s, schema)) && glob(&self.table, table)
    }
}

/// The comma-separated list, or why an entry is malformed. Names are matched as the
/// catalogs spell them (case-sensitive, unquoted): `Orders` is not `orders`.
pub fn parse(list: &str) -> Result<Vec<Pattern>, String> {
    let mut out = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (schema, table) = match entry.split_once('.') {
            Some((s, t)) => (Some(s), t),
            None => (None, entry),
        };
        if table.is_empty()
            || table.contains('.')
            || schema.is_some_and(str::is_empty)
            || entry.contains(char::is_whitespace)
        {
            return Err(format!(
                "entry `{entry}` is not a table: use `schema.table` or `table`, with `*` for any run of characters (public.orders, audit.*, order_*)"
            ));
        }
        out.push(Pattern {
            text: entry.to_string(),
            schema: schema.map(str::to_string),
            table: table.to_string(),
        });
    }
    if out.is_empty() {
        return Err("names no table; leave it unset to compare every table".into());
    }
    Ok(out)
}

/// `*` matches any run of characters, everything else itself.
fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_match_any_schema_and_qualified_ones_only_theirs() {
        let p = parse("orders, audit.*").unwrap();
        assert!(p[0].matches("public", "orders"));
        assert!(p[0].matches("sales", "orders"));
        assert!(!p[0].matches("public", "orders_old"));
        assert!(p[1].matches("audit", "anything"));
        assert!(!p[1].matches("public", "anything"));
    }

    #[test]
    fn stars_match_runs_of_characters_anywhere() {
        assert!(glob("order_*", "order_items"));
        assert!(glob("*_items", "order_items"));
        assert!(glob("o*r*s", "orders"));
        assert!(glob("*", ""));
        assert!(!glob("o*x", "orders"));
        assert!(
            !glob("ab*ba", "aba"),
            "the prefix and suffix may not overlap"
        );
        assert!(!glob("Orders", "orders"), "case-sensitive, as the catalogs");
    }

    #[test]
    fn malformed_entries_are_named() {
        for bad in ["public.", ".orders", "a.b.c", "my table", ",", ""] {
            let e = parse(bad).unwrap_err();
            assert!(
                e.contains("names no table") || e.contains(&format!("`{}`", bad.trim())),
                "{bad}: {e}"
            );
        }
    }
}
