//! Placeholders: `${name}` replacement before execution, and the checksum each script is recorded with (reference §2.2, §8).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::backfill::BATCH_SIZE_PLACEHOLDER;
use super::checksum::checksum;
use super::directives::Phase;
use super::discover::Script;
use super::script::Kind;

/// Values for `${name}`: the user's (names lower-cased) and the built-ins, which need the
/// database's answers (`current_user`, `current_database()`).
#[derive(Clone, Debug, Default)]
pub struct Values {
    pub user: BTreeMap<String, String>,
    pub schema: String,
    pub table: String,
    pub db_user: String,
    pub database: String,
    pub syntax: Syntax,
}

/// How a placeholder is written: `${name}`, unless Flyway's `placeholderPrefix` and
/// `placeholderSuffix` say otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syntax {
    pub prefix: String,
    pub suffix: String,
}

impl Default for Syntax {
    fn default() -> Self {
        Syntax {
            prefix: "${".into(),
            suffix: "}".into(),
        }
    }
}

impl Syntax {
    /// Where the first placeholder opens; the common `${` takes the fast search.
    fn find_open(&self, text: &str) -> Option<usize> {
        if self.prefix == "${" {
            find_open(text)
        } else {
            text.find(self.prefix.as_str())
        }
    }
}

impl Values {
    fn lookup(&self, name: &str, file_name: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        let builtin = lower
            .strip_prefix("schemagate:")
            .or_else(|| lower.strip_prefix("flyway:"));
        match builtin {
            Some("schema" | "defaultschema") => Some(self.schema.clone()),
            Some("table") => Some(self.table.clone()),
            Some("user") => Some(self.db_user.clone()),
            Some("database") => Some(self.database.clone()),
            Some("filename") => Some(file_name.to_string()),
            Some(_) => None,
            None => self.user.get(&lower).cloned(),
        }
    }
}

/// Where the first `${` starts. Every script of every pod start is searched, so this is a
/// SIMD search for `$` (memchr) and a look at the next byte: `str::find` took an eighth of a
/// no-op run's instructions over a thousand scripts, and `memmem::find` builds its searcher
/// again on each call, which cost more than the search of a short script.
fn find_open(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'$', bytes).find(|&i| bytes.get(i + 1) == Some(&b'{'))
}

/// Replaces every `${name}` in `sql`, everywhere (comments and strings too, as Flyway does).
/// An unknown name is an error naming the line, because running `${x}` as SQL is never meant.
/// In a backfill (`backfill`), `${schemagate:batch_size}` stays as it is: each batch puts
/// its own size there (`core::backfill::with_batch_size`).
pub fn replace<'a>(
    sql: &'a str,
    values: &Values,
    file_name: &str,
    backfill: bool,
) -> Result<Cow<'a, str>, String> {
    let syntax = &values.syntax;
    let Some(first) = syntax.find_open(sql) else {
        return Ok(Cow::Borrowed(sql));
    };
    let mut out = String::with_capacity(sql.len());
    out.push_str(&sql[..first]);
    let mut rest = &sql[first..];
    while let Some(start) = syntax.find_open(rest) {
        out.push_str(&rest[..start]);
        let after = &rest[start + syntax.prefix.len()..];
        // No closing brace: not a placeholder, keep the text (Flyway would swallow the file).
        let Some(end) = after.find(syntax.suffix.as_str()) else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        let batch_size = name.eq_ignore_ascii_case(BATCH_SIZE_PLACEHOLDER);
        match values.lookup(name, file_name) {
            Some(v) => out.push_str(&v),
            // Each batch fills in its size later, always in the `${…}` spelling.
            None if batch_size && backfill => {
                out.push_str("${");
                out.push_str(name);
                out.push('}');
            }
            None => {
                let offset = sql.len() - rest.len() + start;
                let line = sql[..offset].bytes().filter(|b| *b == b'\n').count() + 1;
                let hint = if batch_size {
                    "it is the size of each batch of a backfill; add `-- schemagate:backfill` before the first statement if this script is one".to_string()
                } else if name.contains(':') {
                    "built-ins are ${schemagate:schema}, ${schemagate:table}, ${schemagate:user}, ${schemagate:database}, ${schemagate:filename}".to_string()
                } else {
                    format!("set SCHEMAGATE_PLACEHOLDER_{}", name.to_ascii_uppercase())
                };
                return Err(format!(
                    "line {line}: no value for placeholder {}{name}{}; {hint}",
                    syntax.prefix, syntax.suffix
                ));
            }
        }
        rest = &after[end + syntax.suffix.len()..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// A script ready to run: the SQL after replacement and the checksum its row records.
#[derive(Clone, Debug)]
pub struct Resolved<'a> {
    pub sql: Cow<'a, str>,
    /// Versioned: the raw file's checksum. Repeatable: after replacement, so that a changed
    /// value re-applies it (Flyway ≥ 6.3).
    pub checksum: i32,
    /// The raw file's checksum, accepted as equivalent for repeatables.
    pub raw_checksum: i32,
}

pub fn resolve<'a>(script: &'a Script, values: &Values) -> Result<Resolved<'a>, String> {
    let sql = if script.conf.placeholder_replacement {
        replace(
            &script.sql,
            values,
            script.file_name(),
            script.phase == Phase::Backfill,
        )
        .map_err(|e| format!("{} {e}", script.display))?
    } else {
        Cow::Borrowed(script.sql.as_str())
    };
    let stored = match (&script.name.kind, &sql) {
        (Kind::Repeatable, Cow::Owned(replaced)) => checksum(replaced),
        _ => script.checksum,
    };
    Ok(Resolved {
        sql,
        checksum: stored,
        raw_checksum: script.checksum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            user: [("schema".to_string(), "app".to_string())].into(),
            schema: "public".into(),
            table: "schemagate_history".into(),
            db_user: "owner".into(),
            database: "appdb".into(),
            syntax: Syntax::default(),
        }
    }

    #[test]
    fn flyways_other_delimiters_are_honoured_and_dollars_then_pass() {
        let v = Values {
            syntax: Syntax {
                prefix: "#[".into(),
                suffix: "]]".into(),
            },
            ..values()
        };
        assert_eq!(
            replace(
                "GRANT ${x} TO #[schema]]; -- #[flyway:user]]",
                &v,
                "V1__a.sql",
                false
            )
            .unwrap(),
            "GRANT ${x} TO app; -- owner"
        );
        let e = replace("SELECT\n#[nope]]", &v, "V1__a.sql", false).unwrap_err();
        assert!(
            e.contains("line 2: no value for placeholder #[nope]]"),
            "{e}"
        );
        // A backfill's batch size keeps the spelling the batches fill in.
        assert_eq!(
            replace("LIMIT #[schemagate:batch_size]]", &v, "V1__a.sql", true).unwrap(),
            "LIMIT ${schemagate:batch_size}"
        );
    }

    #[test]
    fn names_are_case_insensitive_and_builtins_have_two_prefixes() {
        let v = values();
        let out = replace("${SCHEMA}.t ${schemagate:user} ${flyway:database} ${flyway:filename} ${Flyway:defaultSchema}", &v, "V1__x.sql", false).unwrap();
        assert_eq!(out, "app.t owner appdb V1__x.sql public");
    }

    #[test]
    fn unknown_placeholders_name_line_and_variable() {
        let err = replace("SELECT 1;\nSELECT ${Missing};", &values(), "f", false).unwrap_err();
        assert_eq!(
            err,
            "line 2: no value for placeholder ${Missing}; set SCHEMAGATE_PLACEHOLDER_MISSING"
        );
    }

    #[test]
    fn text_without_placeholders_is_borrowed_and_unterminated_is_kept() {
        assert!(matches!(
            replace("SELECT 1", &values(), "f", false).unwrap(),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            replace("a ${schema} ${b", &values(), "f", false).unwrap(),
            "a app ${b"
        );
    }

    #[test]
    fn dollars_that_open_no_placeholder_are_passed_over() {
        assert!(matches!(
            replace(
                "SELECT $1, $$x$$, 'a$' || $tag$y$tag$ -- $",
                &values(),
                "f",
                false
            )
            .unwrap(),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            replace(
                "DO $$ BEGIN PERFORM $${schema}$; END $$;$",
                &values(),
                "f",
                false
            )
            .unwrap(),
            "DO $$ BEGIN PERFORM $app$; END $$;$"
        );
    }

    #[test]
    fn the_batch_size_is_kept_for_backfills_and_refused_elsewhere() {
        let sql = "UPDATE t SET a = 1 WHERE id IN (SELECT id FROM ${schema}.t LIMIT ${schemagate:Batch_Size})";
        assert_eq!(
            replace(sql, &values(), "f", true).unwrap(),
            "UPDATE t SET a = 1 WHERE id IN (SELECT id FROM app.t LIMIT ${schemagate:Batch_Size})"
        );
        let err = replace(sql, &values(), "f", false).unwrap_err();
        assert!(err.contains("add `-- schemagate:backfill`"), "{err}");
    }

    #[test]
    fn repeatables_record_the_replaced_checksum_and_versioned_the_raw_one() {
        let raw = "CREATE VIEW v AS SELECT * FROM ${schema}.t;\n";
        let mk = |name: &str| Script {
            path: name.into(),
            display: name.into(),
            name: crate::core::script::parse_name(name).unwrap().unwrap(),
            sql: raw.into(),
            checksum: checksum(raw),
            conf: Default::default(),
            phase: Phase::Expand,
        };
        let r = mk("R__v.sql");
        let res = resolve(&r, &values()).unwrap();
        assert_eq!((res.checksum, res.raw_checksum), (94528845, -462620364));
        let v = mk("V1__v.sql");
        assert_eq!(resolve(&v, &values()).unwrap().checksum, -462620364);
    }
}
