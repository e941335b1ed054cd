//! Properties of the statement splitter: statements joined with `;`, whitespace and comments
//! split back into the same statements; and no input makes it panic or return a range that is
//! out of bounds, off a character boundary, or out of order.

use proptest::prelude::*;
use schemagate::core::split::{Statement, line_col, split, statement_char_offset};

/// Statements that hide `;`, comment markers and quote characters inside their tokens.
const POOL: &[&str] = &[
    "SELECT 1",
    "CREATE TABLE t (id int, name text)",
    "INSERT INTO t VALUES (1, 'a;b'), (2, 'it''s; -- not a comment')",
    "SELECT E'it\\'s; ok', E'\\\\'",
    "SELECT 'C:\\dir\\'",
    "SELECT \"odd;\"\"name\" FROM \"t;t\"",
    "SELECT 1 /* inner ; /* nested; */ comment */ + 2",
    "SELECT 1 -- trailing ; comment\n + 2",
    "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$",
    "DO $do$ BEGIN PERFORM $x$;$x$; RAISE NOTICE '$$'; END $do$",
    "SELECT $tag$ ; $$ ; $other$ ; $tag$",
    "PREPARE q (int) AS SELECT $1 + 1",
    "CREATE FUNCTION g(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN x > 0 THEN 1 ELSE 2 END; END",
    "BEGIN",
    "COMMIT",
    "SELECT 'ünïcødé; 🎉', größe FROM maße",
    "SELECT (1 + (2 * 3))",
    "CREATE INDEX CONCURRENTLY i ON t (name)",
    "SELECT B'10', X'ff', U&'d\\0061t;', N'n;'",
];

fn comment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ;'\"$()é]{0,12}".prop_map(|body| format!("--{body}\n")),
        "[a-zA-Z0-9 ;'\"$()\n]{0,12}".prop_map(|body| format!("/*{body}*/")),
        ("[a-z ;']{0,6}", "[a-z ;']{0,6}").prop_map(|(a, b)| format!("/* {a} /* {b} */ */")),
    ]
}

/// Whitespace and comments between statements; never a `\` that could start a meta-command.
fn filler() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => "[ \t\r\n]{0,3}",
            1 => comment(),
        ],
        0..4,
    )
    .prop_map(|parts| parts.concat())
}

fn script() -> impl Strategy<Value = (Vec<&'static str>, String)> {
    (
        prop::collection::vec(prop::sample::select(POOL), 1..8),
        prop::collection::vec(filler(), 9),
        prop::collection::vec(filler(), 9),
        any::<bool>(),
    )
        .prop_map(|(statements, before, after, final_semicolon)| {
            let mut sql = String::new();
            for (i, stmt) in statements.iter().enumerate() {
                sql.push_str(&before[i]);
                sql.push_str(stmt);
                // A statement ending in a line comment needs its newline before the next one.
                if i + 1 < statements.len() || final_semicolon {
                    sql.push_str(&after[i]);
                    sql.push(';');
                }
            }
            sql.push_str(&before[8]);
            (statements, sql)
        })
}

fn check_ranges(sql: &str, statements: &[Statement]) -> Result<(), TestCaseError> {
    let mut previous_end = 0;
    for stmt in statements {
        prop_assert!(previous_end <= stmt.start, "overlap: {stmt:?}");
        prop_assert!(stmt.start < stmt.end, "empty statement: {stmt:?}");
        prop_assert!(stmt.end <= sql.len());
        prop_assert!(sql.is_char_boundary(stmt.start) && sql.is_char_boundary(stmt.end));
        prop_assert_eq!(stmt.line, line_col(sql, stmt.start).0);
        // PostgreSQL's whitespace is ASCII only: U+00A0 and friends are identifier characters.
        let sql_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c');
        prop_assert_eq!(stmt.text(sql), stmt.text(sql).trim_matches(sql_space));
        previous_end = stmt.end;
        if let Some((start, end)) = stmt.copy_data {
            prop_assert!(stmt.end <= start && start <= end && end <= sql.len());
            prop_assert!(sql.is_char_boundary(start) && sql.is_char_boundary(end));
            previous_end = end;
        }
        let chars = stmt.text(sql).chars().count();
        for position in [0, 1, chars / 2 + 1, chars, chars + 1, chars + 100] {
            let offset = statement_char_offset(sql, stmt, position);
            prop_assert!(stmt.start <= offset && offset <= stmt.end);
            prop_assert!(sql.is_char_boundary(offset));
        }
    }
    Ok(())
}

/// SQL-flavoured noise: the characters the lexer cares about, mixed with non-ASCII text.
fn sqlish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9 \t\r\n;'\"$()*/\\\\.&_-]{1,8}",
            Just("$$".to_owned()),
            Just("$a$".to_owned()),
            Just("/*".to_owned()),
            Just("*/".to_owned()),
            Just("--".to_owned()),
            Just("E'".to_owned()),
            Just("U&'".to_owned()),
            Just("\n\\.\n".to_owned()),
            Just("COPY t FROM STDIN;".to_owned()),
            Just("BEGIN ATOMIC".to_owned()),
            Just(" CASE ".to_owned()),
            Just(" END".to_owned()),
            Just("é".to_owned()),
            Just("🎉".to_owned()),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn joined_statements_split_back((statements, sql) in script()) {
        let split = split(&sql).map_err(|e| TestCaseError::fail(format!("{e}\n{sql}")))?;
        let texts: Vec<&str> = split.iter().map(|s| s.text(&sql)).collect();
        prop_assert_eq!(&texts, &statements, "script:\n{}", sql);
        check_ranges(&sql, &split)?;
    }

    #[test]
    fn arbitrary_text_never_panics(sql in any::<String>()) {
        if let Ok(statements) = split(&sql) {
            check_ranges(&sql, &statements)?;
        }
    }

    #[test]
    fn sql_like_noise_never_panics(sql in sqlish()) {
        match split(&sql) {
            Ok(statements) => check_ranges(&sql, &statements)?,
            Err(e) => {
                prop_assert!(e.line >= 1 && e.column >= 1);
                let (lines, _) = line_col(&sql, sql.len());
                prop_assert!(e.line <= lines);
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }
}
