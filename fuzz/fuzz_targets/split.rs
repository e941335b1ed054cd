//! libFuzzer target: any bytes (decoded lossily, as `split` takes text) must split without a
//! panic, and whatever splits must satisfy the reconstruction contract that
//! `tests/split_fuzz.rs` checks in every `make test` (a compact copy of it lives here, as a
//! fuzz crate cannot use an integration test's code).

#![no_main]

use libfuzzer_sys::fuzz_target;
use schemagate::core::lexer::{Lexer, TokenKind};
use schemagate::core::split::{Statement, split};

/// Tokens of `sql` from `start` up to exactly `end`, lexed in place.
fn tokens(sql: &str, start: usize, end: usize) -> Vec<TokenKind> {
    let mut lexer = Lexer::new(sql);
    lexer.reset(start);
    assert_eq!(lexer.position(), start, "{start} is not a char boundary");
    let mut out = Vec::new();
    while lexer.position() < end {
        let tok = lexer.next().expect("input left, so a token");
        assert!(
            tok.end > tok.start && tok.end <= end,
            "token {tok:?} past {end}"
        );
        out.push(tok.kind);
    }
    out
}

fn is_end_line(line: &str) -> bool {
    line.trim_matches(|c: char| c <= ' ') == "\\."
}

fn check(sql: &str, statements: &[Statement]) {
    let mut cursor = 0;
    for stmt in statements {
        assert!(cursor <= stmt.start && stmt.start < stmt.end && stmt.end <= sql.len());
        assert!(sql.is_char_boundary(stmt.start) && sql.is_char_boundary(stmt.end));
        let gap = tokens(sql, cursor, stmt.start);
        assert!(
            gap.iter()
                .all(|k| k.is_trivia() || *k == TokenKind::Semicolon),
            "SQL outside a statement before {stmt:?}: {gap:?}"
        );
        let own = tokens(sql, stmt.start, stmt.end);
        assert!(!own[0].is_trivia() && !own[own.len() - 1].is_trivia());
        assert!(!own.iter().any(|k| k.is_refused()));
        cursor = match stmt.copy_data {
            None => stmt.end,
            Some((start, end)) => {
                assert!(stmt.end <= start && start <= end && end <= sql.len());
                let data = &sql[start..end];
                assert!(data.is_empty() || data.ends_with('\n'));
                assert!(
                    !data.lines().any(is_end_line),
                    "a \\. line inside copy data"
                );
                let line_end = sql[end..].find('\n').map_or(sql.len(), |i| end + i);
                assert!(
                    is_end_line(&sql[end..line_end]),
                    "copy data not followed by \\."
                );
                (line_end + 1).min(sql.len())
            }
        };
    }
    let tail = tokens(sql, cursor, sql.len());
    assert!(
        tail.iter()
            .all(|k| k.is_trivia() || *k == TokenKind::Semicolon)
    );

    // Joined back with `;`, the statements split the same.
    let mut joined = String::from(";");
    for (i, stmt) in statements.iter().enumerate() {
        joined.push_str(stmt.text(sql));
        match stmt.copy_data_text(sql) {
            Some(data) => {
                joined.push_str(";\n");
                joined.push_str(data);
                joined.push_str("\\.\n; ");
            }
            None if i + 1 < statements.len() => joined.push_str("; "),
            None => {}
        }
    }
    let again = split(&joined).expect("the rejoined statements split");
    let texts = |s: &[Statement], src: &str| -> Vec<(String, Option<String>)> {
        s.iter()
            .map(|s| {
                (
                    s.text(src).to_owned(),
                    s.copy_data_text(src).map(str::to_owned),
                )
            })
            .collect()
    };
    assert_eq!(texts(statements, sql), texts(&again, &joined));
}

fuzz_target!(|data: &[u8]| {
    let sql = String::from_utf8_lossy(data);
    if let Ok(statements) = split(&sql) {
        check(&sql, &statements);
    }
});
