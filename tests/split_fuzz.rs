//! Fuzzing the statement splitter (issue 5, case 18): arbitrary input never makes it panic or
//! hang, whatever it accepts joins back to the input, and on real SQL it finds the statements
//! PostgreSQL's own parser finds.
//!
//! # What is checked
//!
//! - **No panic, no hang.** Every generated input runs on a worker thread watched by the test
//!   thread: a case that takes longer than [`HANG_LIMIT`] fails the test with that input, instead
//!   of hanging CI; a case slower than [`SLOW_CASE`] fails it too (and is shrunk). Separately,
//!   [`pathological_inputs_split_in_linear_time`] feeds megabyte inputs built to trigger quadratic
//!   scans (100k nested `/*`, long runs of `$`, `''''…`, `--\r` without a `\n`, …) under a time
//!   bound that linear code meets by far and quadratic code cannot.
//! - **The pieces join back to the input** ([`check_contract`]), for every input that splits:
//!   statements are byte ranges of the input, increasing, non-overlapping, on `char` and token
//!   boundaries, starting and ending with a significant token; everything outside them is
//!   whitespace, comments and `;` (at least one `;` between two statements), except after a
//!   `COPY … FROM STDIN`, whose `;` is followed by the rest of its line, the data lines (none of
//!   them a `\.` line) and the `\.` line. And the statements joined back with `;` split into the
//!   same statements and data ([`check_rejoin`]).
//! - **psql meta-commands are refused**: a `\connect` line put between the statements of a valid
//!   script makes the split fail with a meta-command error on that line.
//! - **PostgreSQL agrees** ([`check_against_postgres`]): `pg_query::split_with_parser` (libpg_query,
//!   the server's own grammar) finds the same number of statements, each starting at the same byte
//!   as ours and running to the same end up to trailing whitespace and comments. This runs on every
//!   seed-corpus file and on generated valid SQL (literals of every kind with random content,
//!   nested comments, dollar quotes with random tags, `BEGIN ATOMIC` bodies, string continuations,
//!   CR, LF and CRLF line ends, `COPY` data).
//!
//! # Inputs
//!
//! Arbitrary `String`s, arbitrary bytes decoded lossily, a soup of the tokens the lexer cares
//! about, the seed corpus in `testdata/split_corpus/` (every file listed in [`CORPUS`] with the
//! split it must give and what PostgreSQL must say), random edits of corpus files, and generated
//! valid scripts.
//!
//! # Budget
//!
//! By default each property runs [`DEFAULT_CASES`] cases on inputs of at most a few KiB, a few
//! seconds for the whole file in a debug build, so it runs in every `make test`. For a longer
//! hunt set `SPLIT_FUZZ_CASES` (cases per property):
//!
//! ```text
//! SPLIT_FUZZ_CASES=100000 cargo test --release --test split_fuzz
//! ```
//!
//! A failure prints the shrunk input; add it to `testdata/split_corpus/` (and to [`CORPUS`]) or
//! to the golden files once fixed. The runs are random; `PROPTEST_RNG_SEED=<n>` fixes the seed.
//!
//! # Where PostgreSQL and the splitter legitimately differ
//!
//! - `COPY … FROM STDIN` data is not SQL: before asking PostgreSQL, every data line and the `\.`
//!   line are blanked (bytes turned into spaces, newlines kept, so offsets stay the same).
//! - psql meta-commands, and input we refuse as unterminated, are refused by both: PostgreSQL
//!   reports a syntax error, we report the meta-command or the unclosed token.
//! - A `COPY … FROM STDIN` with no `\.` line: psql would end the data at the end of the file, we
//!   refuse it, and PostgreSQL's grammar cannot parse data lines; that corpus file is excluded
//!   from the comparison and only checked against its expected error.
//! - Comment-only input and empty statements (`;;`): both find no statement, nothing to exclude.
//! - Not generated, a known difference: `BEGIN ATOMIC` where both words are names, as in
//!   `SELECT begin atomic FROM t` (a column `begin` aliased `atomic` without `AS`; both words
//!   are unreserved). The splitter reads a SQL-standard function body there. The
//!   same words after `.` or `AS` (`t.begin atomic`, `1 AS end`) are read as names.

use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use std::{env, fs};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use schemagate::core::lexer::{Lexer, TokenKind};
use schemagate::core::split::{SplitError, SplitErrorKind, Statement, line_col, split};

/// Cases per property unless `SPLIT_FUZZ_CASES` says otherwise.
const DEFAULT_CASES: u32 = 500;
/// One case taking longer than this is a failure (a debug build splits a few KiB in microseconds).
const SLOW_CASE: Duration = Duration::from_secs(2);
/// One case still running after this is reported as a hang, with its input.
const HANG_LIMIT: Duration = Duration::from_secs(30);

const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/split_corpus");

fn cases() -> u32 {
    match env::var("SPLIT_FUZZ_CASES") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("SPLIT_FUZZ_CASES={v:?} is not a number of cases")),
        Err(_) => DEFAULT_CASES,
    }
}

/// At most `max` characters of `text`, for failure messages.
fn excerpt(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(max).collect();
        format!("{head:?}… ({n} characters)")
    }
}

// ---------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------

/// The tokens covering `range` of `sql`, lexed in place (as the splitter sees them). Fails unless
/// token boundaries fall on both ends of the range.
fn tokens_in(sql: &str, range: Range<usize>) -> Result<Vec<(TokenKind, Range<usize>)>, String> {
    let mut lexer = Lexer::new(sql);
    lexer.reset(range.start);
    if lexer.position() != range.start {
        return Err(format!("{} is not a char boundary", range.start));
    }
    let mut out = Vec::new();
    while lexer.position() < range.end {
        let tok = lexer.next().expect("input left, so a token");
        if tok.end <= tok.start {
            return Err(format!("the lexer made no progress at {}", tok.start));
        }
        if tok.end > range.end {
            return Err(format!(
                "token {:?} {:?} runs past {}",
                tok.kind,
                tok.text(sql),
                range.end
            ));
        }
        out.push((tok.kind, tok.range()));
    }
    Ok(out)
}

/// Text outside statements: whitespace, comments and `;` only. Returns how many `;` it holds.
fn check_separator(sql: &str, range: Range<usize>) -> Result<usize, String> {
    let mut semicolons = 0;
    for (kind, r) in tokens_in(sql, range.clone())? {
        match kind {
            TokenKind::Semicolon => semicolons += 1,
            k if k.is_trivia() => {}
            _ => {
                return Err(format!(
                    "{kind:?} {:?} at {} is outside every statement (between {range:?})",
                    &sql[r.clone()],
                    r.start
                ));
            }
        }
    }
    Ok(semicolons)
}

fn is_copy_end_line(line: &str) -> bool {
    // Java's `String.trim()`, as Flyway and the splitter use it.
    line.trim_matches(|c: char| c <= ' ') == "\\."
}

/// After a `COPY … FROM STDIN` statement: whitespace and comments up to its `;`, the rest of that
/// line, the data lines (none of them `\.`), and the `\.` line. Returns where SQL resumes.
fn check_copy_block(sql: &str, stmt: &Statement, data: (usize, usize)) -> Result<usize, String> {
    let (data_start, data_end) = data;
    if !(stmt.end <= data_start && data_start <= data_end && data_end <= sql.len()) {
        return Err(format!("copy data {data:?} out of place for {stmt:?}"));
    }
    // Trivia, then the `;`, then the rest of its line.
    let mut lexer = Lexer::new(sql);
    lexer.reset(stmt.end);
    let semicolon_end = loop {
        let tok = lexer.next().ok_or("no ; after a COPY … FROM STDIN")?;
        match tok.kind {
            TokenKind::Semicolon => break tok.end,
            k if k.is_trivia() => {}
            k => return Err(format!("{k:?} between a COPY statement and its ;")),
        }
    };
    if semicolon_end > data_start {
        return Err(format!(
            "copy data starts at {data_start}, inside the statement"
        ));
    }
    let rest_of_line = &sql[semicolon_end..data_start];
    if !rest_of_line.ends_with('\n') || rest_of_line[..rest_of_line.len() - 1].contains('\n') {
        return Err(format!(
            "copy data must start on the line after the ;, not after {rest_of_line:?}"
        ));
    }
    let data_text = &sql[data_start..data_end];
    if !(data_text.is_empty() || data_text.ends_with('\n')) {
        return Err(format!(
            "copy data {data_text:?} does not end with a whole line"
        ));
    }
    if let Some(line) = data_text.lines().find(|l| is_copy_end_line(l)) {
        return Err(format!("copy data holds an end-of-data line {line:?}"));
    }
    let end_line_end = sql[data_end..]
        .find('\n')
        .map_or(sql.len(), |i| data_end + i);
    if !is_copy_end_line(&sql[data_end..end_line_end]) {
        return Err(format!(
            "copy data is followed by {:?}, not by a \\. line",
            &sql[data_end..end_line_end]
        ));
    }
    Ok((end_line_end + 1).min(sql.len()))
}

/// The reconstruction contract of a successful split; see the module docs.
fn check_contract(sql: &str, statements: &[Statement]) -> Result<(), String> {
    let mut cursor = 0;
    // Lines are counted forward, so that checking 200k statements stays linear.
    let (mut line, mut line_pos) = (1, 0);
    for (i, stmt) in statements.iter().enumerate() {
        if !(cursor <= stmt.start && stmt.start < stmt.end && stmt.end <= sql.len()) {
            return Err(format!(
                "statement {i} {stmt:?} is empty, out of order or out of bounds"
            ));
        }
        if !sql.is_char_boundary(stmt.start) || !sql.is_char_boundary(stmt.end) {
            return Err(format!("statement {i} {stmt:?} is not on char boundaries"));
        }
        let semicolons = check_separator(sql, cursor..stmt.start)?;
        if i > 0 && semicolons == 0 && statements[i - 1].copy_data.is_none() {
            return Err(format!("no ; between statements {} and {i}", i - 1));
        }
        let toks = tokens_in(sql, stmt.start..stmt.end)?;
        let (first, last) = (toks.first().unwrap().0, toks.last().unwrap().0);
        if first.is_trivia() || last.is_trivia() {
            return Err(format!(
                "statement {i} {:?} starts or ends with whitespace or a comment",
                stmt.text(sql)
            ));
        }
        if let Some((kind, _)) = toks.iter().find(|(k, _)| k.is_refused()) {
            return Err(format!("statement {i} holds a refused {kind:?} token"));
        }
        // Line ends are `\n`, `\r\n` and a lone `\r`; a statement never starts between the
        // two bytes of a `\r\n`.
        let between = &sql.as_bytes()[line_pos..stmt.start];
        line += between
            .iter()
            .enumerate()
            .filter(|&(k, &b)| b == b'\n' || (b == b'\r' && between.get(k + 1) != Some(&b'\n')))
            .count();
        line_pos = stmt.start;
        if stmt.line != line {
            return Err(format!("statement {i} {stmt:?}: wrong line, not {line}"));
        }
        cursor = match stmt.copy_data {
            Some(data) => {
                let text = stmt.text(sql);
                if !text
                    .get(..4)
                    .is_some_and(|w| w.eq_ignore_ascii_case("COPY"))
                {
                    return Err(format!("copy data after a non-COPY statement {text:?}"));
                }
                check_copy_block(sql, stmt, data)?
            }
            None => stmt.end,
        };
    }
    check_separator(sql, cursor..sql.len())?;
    Ok(())
}

/// The statements joined back with `;` (and their COPY data) split into the same statements.
fn check_rejoin(sql: &str, statements: &[Statement]) -> Result<(), String> {
    // A leading `;` and a space after each `;` keep a statement that starts with `\` (legal when
    // something precedes it on its line) from starting a line, where it would be a meta-command.
    // The last statement gets no `;` of its own: it may hold an unclosed `(` or `BEGIN ATOMIC`,
    // which runs to the end of the input.
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
    let again = split(&joined)
        .map_err(|e| format!("rejoined script fails: {e}\n{}", excerpt(&joined, 2000)))?;
    let before: Vec<(&str, Option<&str>)> = statements
        .iter()
        .map(|s| (s.text(sql), s.copy_data_text(sql)))
        .collect();
    let after: Vec<(&str, Option<&str>)> = again
        .iter()
        .map(|s| (s.text(&joined), s.copy_data_text(&joined)))
        .collect();
    if before != after {
        return Err(format!(
            "rejoined statements split differently:\n  {}\n  {}",
            excerpt(&format!("{before:?}"), 2000),
            excerpt(&format!("{after:?}"), 2000)
        ));
    }
    Ok(())
}

/// What every input must satisfy; returns the split for further checks.
fn check_input(sql: &str) -> Result<Result<Vec<Statement>, SplitError>, String> {
    let result = split(sql);
    match &result {
        Ok(statements) => {
            check_contract(sql, statements)?;
            check_rejoin(sql, statements)?;
        }
        Err(e) => {
            let (lines, _) = line_col(sql, sql.len());
            if e.line == 0 || e.column == 0 || e.line > lines {
                return Err(format!("error position out of range: {e:?}"));
            }
            if e.to_string().is_empty() {
                return Err("empty error message".into());
            }
        }
    }
    Ok(result)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL's parser
// ---------------------------------------------------------------------------------------------

/// Byte ranges of the statements that PostgreSQL's grammar finds, or its error.
fn pg_statements(sql: &str) -> Result<Vec<Range<usize>>, String> {
    let pieces = pg_query::split_with_parser(sql).map_err(|e| e.to_string())?;
    Ok(pieces
        .iter()
        .map(|piece| {
            let start = piece.as_ptr() as usize - sql.as_ptr() as usize;
            start..start + piece.len()
        })
        .collect())
}

/// `sql` with every `COPY … FROM STDIN` data line and `\.` line blanked: each byte but `\n`
/// turned into a space, so that PostgreSQL's grammar can read the rest at the same offsets.
fn blank_copy_data(sql: &str, statements: &[Statement]) -> String {
    let mut bytes = sql.as_bytes().to_vec();
    for stmt in statements {
        if let Some((start, end)) = stmt.copy_data {
            let end_line_end = sql[end..].find('\n').map_or(sql.len(), |i| end + i);
            for b in &mut bytes[start..end_line_end] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        }
    }
    String::from_utf8(bytes).expect("only ASCII bytes of whole characters were replaced")
}

/// Our statements and PostgreSQL's agree: same count, same starts, and PostgreSQL's statement
/// (which runs up to its `;`) extends ours only by whitespace and comments.
fn check_against_postgres(sql: &str, ours: &[Statement]) -> Result<(), String> {
    let pg_input = blank_copy_data(sql, ours);
    let theirs = pg_statements(&pg_input).map_err(|e| {
        format!(
            "PostgreSQL's parser refuses what we split into {} statement(s): {e}",
            ours.len()
        )
    })?;
    let show = |ranges: &[Range<usize>]| -> Vec<String> {
        ranges
            .iter()
            .map(|r| excerpt(&pg_input[r.clone()], 60))
            .collect()
    };
    let our_ranges: Vec<Range<usize>> = ours.iter().map(|s| s.start..s.end).collect();
    if theirs.len() != ours.len() {
        return Err(format!(
            "statement counts differ: ours {}, PostgreSQL's {}\n  ours: {:?}\n  PostgreSQL's: {:?}",
            ours.len(),
            theirs.len(),
            show(&our_ranges),
            show(&theirs)
        ));
    }
    for (i, (o, t)) in our_ranges.iter().zip(&theirs).enumerate() {
        let agree = o.start == t.start
            && o.end <= t.end
            && tokens_in(&pg_input, o.end..t.end)
                .is_ok_and(|toks| toks.iter().all(|(k, _)| k.is_trivia()));
        if !agree {
            return Err(format!(
                "statement {i} differs: ours {o:?} {}, PostgreSQL's {t:?} {}",
                excerpt(&pg_input[o.clone()], 80),
                excerpt(&pg_input[t.clone()], 80)
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Running properties under a watchdog
// ---------------------------------------------------------------------------------------------

/// The case a worker is running: when it started and its input.
type Current = Arc<Mutex<(Instant, String)>>;

/// Runs `property` on `cases` inputs from `strategy` on a worker thread. The test thread fails
/// the test with the input at hand if one case runs longer than [`HANG_LIMIT`].
fn fuzz<S>(name: &str, strategy: fn() -> S, property: fn(&str) -> Result<(), String>)
where
    S: Strategy<Value = String> + 'static,
{
    let cases = cases();
    let current: Current = Arc::new(Mutex::new((Instant::now(), String::new())));
    let (done_tx, done_rx) = mpsc::channel();
    let worker_current = Arc::clone(&current);
    let worker = thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let config = Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            };
            let mut runner = TestRunner::new(config);
            let result = runner.run(&strategy(), |sql| {
                *worker_current.lock().unwrap() = (Instant::now(), sql.clone());
                let started = Instant::now();
                let outcome = property(&sql);
                let took = started.elapsed();
                outcome.map_err(TestCaseError::fail)?;
                if took > SLOW_CASE {
                    return Err(TestCaseError::fail(format!(
                        "took {took:?} (limit {SLOW_CASE:?}) on {} bytes",
                        sql.len()
                    )));
                }
                Ok(())
            });
            let _ = done_tx.send(result.map_err(|e| e.to_string()));
        })
        .expect("spawn the fuzz worker");
    loop {
        match done_rx.recv_timeout(Duration::from_millis(250)) {
            Ok(Ok(())) => break,
            Ok(Err(failure)) => panic!("{name}: {failure}"),
            Err(RecvTimeoutError::Timeout) => {
                let (started, input) = current.lock().unwrap().clone();
                if started.elapsed() > HANG_LIMIT {
                    panic!(
                        "{name}: one case has run for more than {HANG_LIMIT:?} (a hang); input: {}",
                        excerpt(&input, 2000)
                    );
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                if let Err(payload) = worker.join() {
                    panic::resume_unwind(payload);
                }
                panic!("{name}: the fuzz worker stopped without a result");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// The byte sequences the lexer and splitter react to.
const TRICKY: &[&str] = &[
    ";",
    "'",
    "''",
    "\"",
    "\"\"",
    "$",
    "$$",
    "$a$",
    "$ab$",
    "$1",
    "$_$",
    "$é$",
    "/*",
    "*/",
    "/*/",
    "--",
    "-",
    "*",
    "/",
    "\\",
    "\\\\",
    "E'",
    "e'",
    "E'\\''",
    "E'\\\\'",
    "U&'",
    "U&\"",
    "B'",
    "X'",
    "N'",
    "(",
    ")",
    "\n",
    "\r",
    "\r\n",
    "\t",
    " ",
    "\x0b",
    "\x0c",
    "\n\\.\n",
    "\\.",
    "\n\\connect db\n",
    "\\set x 1",
    "\n\\i f.sql",
    "COPY t FROM STDIN;",
    "copy t (a) from stdin;\n",
    " FROM ",
    "STDIN",
    "BEGIN ATOMIC ",
    "begin atomic",
    " CASE ",
    " END",
    "END;",
    "BEGIN;",
    "SELECT 1",
    " AS ",
    ".",
    "1.5e-3",
    "..",
    "é",
    "🎉",
    "\u{a0}",
    "\u{feff}",
    "\0",
];

/// Whole constructs that hide the same characters, so that most soups still split.
const CLOSED: &[&str] = &[
    "'a;b'",
    "'it''s --'",
    "E'\\''",
    "E'\\\\'",
    "E'a'\n'\\';'",
    "U&'\\0041;'",
    "\"x;\"\"y\"",
    "$$;$$",
    "$a$ $$;$$ $a$",
    "$_$'$_$",
    "/* ; /* ' */ */",
    "/**/",
    "-- ; '\n",
    "-- x\r",
    "(;)",
    "BEGIN ATOMIC SELECT 1; END",
    "BEGIN ATOMIC CASE WHEN 1 THEN 2 END; END",
    ";\nCOPY t FROM STDIN;\n1;'$$\n\\.\n",
    ";COPY t FROM stdin; -- x\n\\.\n",
    "SELECT 1;",
    "\n",
];

fn tricky_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            1 => prop::sample::select(TRICKY).prop_map(str::to_owned),
            8 => prop::sample::select(CLOSED).prop_map(str::to_owned),
            2 => "[a-zA-Z0-9 ;()*/.&_\\-\n\r]{1,10}",
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

fn arbitrary_string() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..1000).prop_map(|chars| chars.into_iter().collect())
}

fn arbitrary_bytes() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..2000)
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// The nearest char boundary at or before `at` (clamped to the text).
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, &'static str),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn apply(text: &mut String, edit: &Edit) {
    let at =
        |x: usize, t: &String| floor_boundary(t, if t.is_empty() { 0 } else { x % (t.len() + 1) });
    match *edit {
        Edit::Insert(pos, piece) => {
            let p = at(pos, text);
            text.insert_str(p, piece);
        }
        Edit::Delete(pos, len) => {
            let p = at(pos, text);
            let q = floor_boundary(text, p + len % 64);
            text.replace_range(p..q, "");
        }
        Edit::Duplicate(pos, len) => {
            let p = at(pos, text);
            let q = floor_boundary(text, p + len % 256);
            let piece = text[p..q].to_owned();
            text.insert_str(q, &piece);
        }
        Edit::Truncate(pos) => {
            let p = at(pos, text);
            text.truncate(p);
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        6 => (any::<usize>(), prop::sample::select(TRICKY)).prop_map(|(p, s)| Edit::Insert(p, s)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(p, n)| Edit::Delete(p, n)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(p, n)| Edit::Duplicate(p, n)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// The seed corpus, read once per worker.
fn corpus_texts() -> Vec<String> {
    CORPUS
        .iter()
        .map(|case| {
            let path = Path::new(CORPUS_DIR).join(case.file);
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        })
        .collect()
}

fn mutated_corpus() -> impl Strategy<Value = String> {
    let texts = corpus_texts();
    (
        prop::sample::select(texts),
        prop::collection::vec(edit(), 0..6),
    )
        .prop_map(|(mut text, edits)| {
            for e in &edits {
                apply(&mut text, e);
            }
            text
        })
}

// Valid SQL, built so that PostgreSQL's grammar accepts it.

/// Characters for literal and comment bodies: the ones that matter to the lexer, and others.
fn body_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![
            ';', '\'', '"', '$', '-', '/', '*', '\\', '(', ')', '\n', '\r', '\t', ' ', 'E', 'e',
            'U', '&', '.', 'a', 'z', '0', '9', 'é', '🎉', '\u{a0}',
        ]),
        1 => any::<char>().prop_filter("no NUL (C strings)", |c| *c != '\0'),
    ]
}

fn body(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(body_char(), 0..max).prop_map(|c| c.into_iter().collect())
}

/// `'…'` with quotes doubled; backslashes are literal.
fn standard_string() -> impl Strategy<Value = String> {
    body(24).prop_map(|b| format!("'{}'", b.replace('\'', "''")))
}

/// `E'…'` with escapes PostgreSQL accepts.
fn escape_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => body_char()
                .prop_filter("escapes are chosen below", |c| *c != '\\' && *c != '\'')
                .prop_map(String::from),
            1 => prop::sample::select(vec!["\\'", "''", "\\\\", "\\n", "\\t", "\\x41", "\\101", "\\u00e9", "\\;"])
                .prop_map(str::to_owned),
        ],
        0..16,
    )
    .prop_map(|parts| format!("E'{}'", parts.concat()))
}

/// A string continued on the next line (`'a'\n'b'` is `'ab'`), possibly over a line comment; an
/// `E'…'` continues as an escape string.
fn continued_string() -> impl Strategy<Value = String> {
    let gap = || {
        prop::sample::select(vec![
            "\n",
            "\r\n",
            "\r",
            " \n  ",
            "\t-- between ; parts '\n",
            "\n-- c\n",
        ])
    };
    prop_oneof![
        (standard_string(), gap(), standard_string())
            .prop_map(|(a, gap, b)| format!("{a}{gap}{b}")),
        (escape_string(), gap(), escape_string())
            .prop_map(|(a, gap, b)| format!("{a}{gap}{}", &b[1..])),
    ]
}

fn dollar_quoted() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["", "a", "tag", "_x1", "é", "fn", "A"]),
        body(24),
    )
        .prop_filter_map("the body must not close the quote early", |(tag, body)| {
            let delim = format!("${tag}$");
            let text = format!("{body}{delim}");
            (text.find(&delim) == Some(body.len())).then(|| format!("{delim}{text}"))
        })
}

fn quoted_ident() -> impl Strategy<Value = String> {
    body(16)
        .prop_filter("a quoted identifier is not empty", |b| !b.is_empty())
        .prop_map(|b| format!("\"{}\"", b.replace('"', "\"\"")))
}

fn block_comment() -> impl Strategy<Value = String> {
    let flat = || {
        body(16).prop_map(|b| {
            // A body without `*/` or `/*` of its own, so that the nesting is ours.
            b.replace(['*', '/'], "")
        })
    };
    prop_oneof![
        flat().prop_map(|b| format!("/*{b}*/")),
        (flat(), flat(), flat()).prop_map(|(a, b, c)| format!("/*{a}/*{b}*/{c}*/")),
        (flat(), flat()).prop_map(|(a, b)| format!("/*/{a}/* /*{b}*/ */**/")),
    ]
}

fn line_comment() -> impl Strategy<Value = String> {
    (
        body(16).prop_map(|b| b.replace(['\n', '\r'], " ")),
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
    )
        .prop_map(|(b, end)| format!("--{b}{end}"))
}

/// Whitespace and comments.
fn trivia() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec![" ", "\n", "\t", "\r\n", "\r", "  \n", "\x0c", "\x0b"]).prop_map(str::to_owned),
            1 => block_comment(),
            1 => line_comment(),
        ],
        0..4,
    )
    .prop_map(|parts| parts.concat())
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => standard_string(),
        3 => escape_string(),
        1 => continued_string(),
        2 => dollar_quoted(),
        1 => "[01]{0,8}".prop_map(|b| format!("B'{b}'")),
        1 => "[0-9a-fA-F]{0,8}".prop_map(|h| format!("X'{h}'")),
        1 => standard_string().prop_map(|s| format!("N{s}")),
        1 => standard_string()
            .prop_filter("no backslash: it starts a Unicode escape", |s| !s.contains('\\'))
            .prop_map(|s| format!("U&{s}")),
        1 => Just("$1".to_owned()),
        1 => prop_oneof![
            "[0-9]{1,4}(\\.[0-9]{1,3})?",
            "[0-9]{0,3}\\.[0-9]{1,3}([eE][+-]?[0-9]{1,2})?",
            "0[xX][0-9a-fA-F]{1,4}|0[oO][0-7]{1,4}|0[bB][01]{1,4}|1_000(_000)?",
        ],
    ]
}

/// An expression with literals, comments and parentheses.
fn expression() -> impl Strategy<Value = String> {
    let leaf = (literal(), trivia()).prop_map(|(l, t)| format!("{l}{t}"));
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) || ({b})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("CASE WHEN ({a}) IS NULL THEN {b} ELSE {c} END")),
            inner.prop_map(|a| format!("coalesce(({a}), NULL)")),
        ]
    })
}

/// The keywords the splitter reacts to, where PostgreSQL reads them as names: after `AS` and
/// after `.` any keyword is a label. (Not `SELECT begin atomic`, a column `begin` aliased
/// `atomic` without `AS`: see the module docs.)
fn keyword_as_name() -> impl Strategy<Value = String> {
    let kw = || {
        prop::sample::select(vec![
            "end", "case", "begin", "atomic", "copy", "from", "stdin",
        ])
    };
    prop_oneof![
        kw().prop_map(|k| format!("1 AS {k}")),
        kw().prop_map(|k| format!("t.{k}")),
        kw().prop_map(|k| format!("t /* c */ . {k}")),
        Just("atomic AS begin".to_owned()),
    ]
}

/// One statement PostgreSQL's grammar accepts, with the kind of content that confuses splitters.
fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (expression(), trivia(), quoted_ident())
            .prop_map(|(e, t, i)| format!("SELECT {e}{t} AS {i}")),
        2 => (quoted_ident(), literal(), literal())
            .prop_map(|(i, a, b)| format!("INSERT INTO {i} VALUES ({a}), ({b})")),
        2 => (dollar_quoted(), trivia())
            .prop_map(|(body, t)| format!("CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS{t} {body}")),
        1 => dollar_quoted().prop_map(|body| format!("DO {body}")),
        2 => (expression(), trivia(), expression()).prop_map(|(a, t, b)| format!(
            "CREATE FUNCTION g(x int) RETURNS text LANGUAGE sql\nBEGIN ATOMIC\n  SELECT {a};{t}  RETURN CASE WHEN x > 0 THEN {b} END;\nEND"
        )),
        1 => trivia().prop_map(|t| format!("BEGIN{t}")),
        1 => Just("COMMIT".to_owned()),
        1 => keyword_as_name().prop_map(|n| format!("SELECT {n} FROM t")),
        1 => (keyword_as_name(), expression()).prop_map(|(n, e)| format!(
            "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT {n} FROM t; SELECT {e}; END"
        )),
        1 => (quoted_ident(), trivia()).prop_map(|(i, t)| format!("CREATE TABLE {i}{t}(id int, \"b;\" text)")),
        1 => expression().prop_map(|e| format!(
            "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO l VALUES ({e}); DELETE FROM l)"
        )),
    ]
}

/// `COPY … FROM STDIN` in its spellings, with comments between the words.
fn copy_statement() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["COPY", "copy"]),
        prop::sample::select(vec![" t", " \"t;\" (a, \"b\")", " s.t(a)"]),
        prop::sample::select(vec![" FROM", " /* ; */ from", "\nFROM"]),
        prop::sample::select(vec![" STDIN", " stdin", " -- c\n StdIn"]),
        prop::sample::select(vec![
            "",
            " WITH (FORMAT csv, DELIMITER ';')",
            " (FORMAT text)",
        ]),
    )
        .prop_map(|(c, t, f, s, o)| format!("{c}{t}{f}{s}{o}"))
}

/// COPY data lines: anything but a `\.` line.
fn copy_data_lines() -> impl Strategy<Value = String> {
    prop::collection::vec(body(20).prop_map(|b| b.replace(['\n', '\r'], "\t")), 0..4).prop_map(
        |lines| {
            lines
                .into_iter()
                .filter(|l| !is_copy_end_line(l))
                .map(|l| l + "\n")
                .collect()
        },
    )
}

/// A script of valid statements separated by `;` with whitespace and comments around them, and
/// maybe a `COPY … FROM STDIN` with data. Returns the script and how many statements it holds.
fn valid_script() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            (
                trivia(),
                prop_oneof![
                    8 => statement().prop_map(|s| (s, None)),
                    1 => (copy_statement(), copy_data_lines()).prop_map(|(c, d)| (c, Some(d))),
                ],
                trivia(),
                prop::sample::select(vec![";", ";;", "; ;"]),
            ),
            1..6,
        ),
        trivia(),
        any::<bool>(),
    )
        .prop_map(|(parts, tail, final_semicolon)| {
            let mut sql = String::new();
            let n = parts.len();
            for (i, (before, (stmt, data), after, semis)) in parts.into_iter().enumerate() {
                sql.push_str(&before);
                sql.push_str(&stmt);
                let last = i + 1 == n;
                if let Some(data) = data {
                    // The rest of the `;` line is ignored (as in Flyway); keep it a comment.
                    sql.push_str(if data.len() % 2 == 0 {
                        ";\n"
                    } else {
                        "; -- data ;'\n"
                    });
                    sql.push_str(&data);
                    sql.push_str("\\.\n");
                } else {
                    sql.push_str(&after);
                    if !last || final_semicolon {
                        sql.push_str(semis);
                    }
                }
            }
            sql.push_str(&tail);
            sql
        })
}

// ---------------------------------------------------------------------------------------------
// The seed corpus
// ---------------------------------------------------------------------------------------------

/// What a corpus file must split into.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// This many statements.
    Statements(usize),
    /// Refused; the `describe`d error.
    Refused(&'static str),
}

/// What PostgreSQL's parser must say about a corpus file.
#[derive(Clone, Copy, Debug)]
enum Pg {
    /// The same statements (COPY data blanked).
    Agrees,
    /// A syntax error, as we refuse the file too.
    Refuses,
    /// Not compared, for the reason given.
    Excluded(&'static str),
}

struct Case {
    file: &'static str,
    expect: Expect,
    pg: Pg,
}

const fn ok(file: &'static str, n: usize) -> Case {
    Case {
        file,
        expect: Expect::Statements(n),
        pg: Pg::Agrees,
    }
}

const fn refused(file: &'static str, error: &'static str) -> Case {
    Case {
        file,
        expect: Expect::Refused(error),
        pg: Pg::Refuses,
    }
}

/// Every file in `testdata/split_corpus/`, with its expected split.
const CORPUS: &[Case] = &[
    ok("backslash_not_meta.sql", 3),
    ok("begin_atomic.sql", 5),
    ok("begin_atomic_keyword_names.sql", 2),
    ok("comment_only.sql", 0),
    ok("copy_from_stdin.sql", 4),
    ok("cr_line_ends.sql", 3),
    ok("create_rule_parens.sql", 2),
    ok("crlf_line_ends.sql", 3),
    ok("dollar_nested_tags.sql", 5),
    ok("dollar_quote_semicolons.sql", 4),
    ok("double_dash_at_eof.sql", 1),
    ok("empty_statements.sql", 2),
    ok("escape_string_quote.sql", 6),
    ok("line_comment_at_eof.sql", 2),
    ok("nested_comments.sql", 4),
    ok("operators_and_params.sql", 7),
    ok("plpgsql_trigger.sql", 4),
    ok("prefixed_strings.sql", 3),
    ok("quoted_identifiers.sql", 4),
    ok("statement_then_comment_at_eof.sql", 2),
    ok("string_continuation.sql", 2),
    ok("transaction_control.sql", 11),
    ok("unicode.sql", 4),
    refused("meta_after_comment_line.sql", "meta-command \\c"),
    refused("meta_connect.sql", "meta-command \\connect"),
    refused("meta_copy_terminator_outside_copy.sql", "meta-command \\."),
    refused("meta_include_indented.sql", "meta-command \\i"),
    refused("meta_set_first_line.sql", "meta-command \\set"),
    refused(
        "err_unterminated_dollar_quote.sql",
        "unterminated dollar quote $body$",
    ),
    refused("err_unterminated_escape_string.sql", "unterminated string"),
    refused(
        "err_unterminated_nested_comment.sql",
        "unterminated comment",
    ),
    refused(
        "err_unterminated_quoted_identifier.sql",
        "unterminated quoted identifier",
    ),
    refused("err_unterminated_string.sql", "unterminated string"),
    Case {
        file: "err_copy_without_terminator.sql",
        expect: Expect::Refused("unterminated copy data"),
        pg: Pg::Excluded(
            "COPY data is not SQL, and without its \\. line it cannot be blanked out; psql would \
             end the data at the end of the file, we refuse it",
        ),
    },
];

fn describe(kind: &SplitErrorKind) -> String {
    match kind {
        SplitErrorKind::UnterminatedString => "unterminated string".into(),
        SplitErrorKind::UnterminatedQuotedIdentifier => "unterminated quoted identifier".into(),
        SplitErrorKind::UnterminatedDollarQuote { tag } => {
            format!("unterminated dollar quote ${tag}$")
        }
        SplitErrorKind::UnterminatedComment => "unterminated comment".into(),
        SplitErrorKind::UnterminatedCopyData => "unterminated copy data".into(),
        SplitErrorKind::MetaCommand { command } => format!("meta-command {command}"),
    }
}

fn check_corpus_file(case: &Case, sql: &str) -> Result<(), String> {
    let result = check_input(sql)?;
    match (case.expect, &result) {
        (Expect::Statements(n), Ok(statements)) if statements.len() == n => {}
        (Expect::Refused(error), Err(e)) if describe(&e.kind) == error => {}
        (expect, result) => {
            return Err(format!("expected {expect:?}, got {result:?}"));
        }
    }
    match case.pg {
        Pg::Agrees => check_against_postgres(sql, result.as_ref().unwrap()),
        Pg::Refuses => match pg_statements(sql) {
            Err(_) => Ok(()),
            Ok(theirs) => Err(format!(
                "we refuse it, PostgreSQL's parser finds {} statement(s)",
                theirs.len()
            )),
        },
        Pg::Excluded(reason) => {
            eprintln!("{}: not compared with PostgreSQL: {reason}", case.file);
            Ok(())
        }
    }
}

#[test]
fn seed_corpus_splits_as_expected_and_as_postgres_does() {
    let mut on_disk: Vec<String> = fs::read_dir(CORPUS_DIR)
        .unwrap_or_else(|e| panic!("read {CORPUS_DIR}: {e}"))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|c| c.file.to_owned()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every file in {CORPUS_DIR} is listed in CORPUS (tests/split_fuzz.rs) and vice versa"
    );
    let failures: Vec<String> = CORPUS
        .iter()
        .zip(corpus_texts())
        .filter_map(|(case, sql)| {
            check_corpus_file(case, &sql)
                .err()
                .map(|e| format!("{}: {e}", case.file))
        })
        .collect();
    // The line-end cases are only tests if the files keep their CRs (see .gitattributes).
    let text = |file: &str| fs::read_to_string(Path::new(CORPUS_DIR).join(file)).unwrap();
    assert!(
        text("cr_line_ends.sql").contains("\r") && !text("cr_line_ends.sql").contains("\n"),
        "cr_line_ends.sql must have CR-only line ends"
    );
    assert!(
        text("crlf_line_ends.sql").contains("\r\n"),
        "crlf_line_ends.sql must have CRLF line ends"
    );
    assert!(
        failures.is_empty(),
        "{} corpus file(s) fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The issue's list of seeds, so that none is dropped from the corpus by accident.
#[test]
fn seed_corpus_covers_the_issue_list() {
    let texts: Vec<(&str, String)> = CORPUS.iter().map(|c| c.file).zip(corpus_texts()).collect();
    let has = |what: &str, pred: &dyn Fn(&str) -> bool| {
        assert!(
            texts.iter().any(|(_, t)| pred(t)),
            "no corpus file has {what}"
        );
    };
    has("a dollar quote holding ;", &|t| t.contains("$$;$$"));
    has("nested dollar tags", &|t| {
        t.contains("$outer$") && t.contains("$inner$")
    });
    has("E'\\''", &|t| t.contains("E'\\''"));
    has("nested comments", &|t| t.contains("/* /* /*"));
    has("-- at the end of the file", &|t| {
        t.rsplit('\n')
            .next()
            .is_some_and(|l| l.trim_start().starts_with("--"))
    });
    has("\\connect", &|t| t.contains("\n\\connect "));
    has("COPY FROM STDIN data", &|t| t.contains("FROM STDIN;"));
    has("BEGIN ATOMIC", &|t| t.contains("BEGIN ATOMIC"));
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn holds(sql: &str) -> Result<(), String> {
    check_input(sql).map(drop)
}

#[test]
fn arbitrary_strings_never_panic_or_hang_and_join_back() {
    fuzz("arbitrary strings", arbitrary_string, holds);
}

#[test]
fn arbitrary_bytes_decoded_lossily_never_panic_or_hang_and_join_back() {
    fuzz("arbitrary bytes", arbitrary_bytes, holds);
}

#[test]
fn tricky_token_soup_never_panics_or_hangs_and_joins_back() {
    fuzz("tricky token soup", tricky_soup, holds);
}

#[test]
fn mutated_corpus_never_panics_or_hangs_and_joins_back() {
    fuzz("mutated corpus", mutated_corpus, holds);
}

#[test]
fn valid_sql_splits_as_postgres_does() {
    fuzz("valid SQL against PostgreSQL", valid_script, |sql| {
        let statements = check_input(sql)?
            .map_err(|e| format!("valid SQL refused: {e}\n{}", excerpt(sql, 2000)))?;
        check_against_postgres(sql, &statements)
            .map_err(|e| format!("{e}\nscript: {}", excerpt(sql, 2000)))
    });
}

const META_COMMANDS: &[&str] = &[
    "\\connect other",
    "\\set ON_ERROR_STOP on",
    "  \\i x.sql",
    "\\c db",
];

/// A valid script with a meta-command line put at the end of one of its statements (or first).
fn script_with_meta_command() -> impl Strategy<Value = String> {
    (
        valid_script(),
        any::<prop::sample::Index>(),
        prop::sample::select(META_COMMANDS),
    )
        .prop_map(|(sql, at, meta)| {
            let ends: Vec<usize> = split(&sql)
                .map(|s| {
                    s.iter()
                        .filter(|s| s.copy_data.is_none())
                        .map(|s| s.end)
                        .collect()
                })
                .unwrap_or_default();
            let pos = if ends.is_empty() {
                0
            } else {
                ends[at.index(ends.len())]
            };
            format!("{}\n{meta}\n{}", &sql[..pos], &sql[pos..])
        })
}

#[test]
fn meta_commands_between_valid_statements_are_refused() {
    fuzz("meta-commands", script_with_meta_command, |sql| {
        let at = META_COMMANDS
            .iter()
            .filter_map(|meta| sql.find(&format!("\n{meta}\n")))
            .min()
            .ok_or("no meta-command line")?;
        let line = line_col(sql, at + 1).0;
        match check_input(sql)? {
            Err(SplitError {
                kind: SplitErrorKind::MetaCommand { .. },
                line: l,
                ..
            }) if l == line => Ok(()),
            other => Err(format!(
                "expected the meta-command on line {line} to be refused, got {other:?}"
            )),
        }
    });
}

// ---------------------------------------------------------------------------------------------
// No hang: inputs built to make a careless scanner quadratic
// ---------------------------------------------------------------------------------------------

#[test]
fn pathological_inputs_split_in_linear_time() {
    const N: usize = 100_000;
    let long_tag = "t".repeat(1000);
    let cases: Vec<(&str, String)> = vec![
        ("100k nested /* (unterminated)", "/*".repeat(N)),
        (
            "100k nested /* then */",
            "/*".repeat(N) + &"*/".repeat(N) + "SELECT 1",
        ),
        ("/*/ repeated", "/*/".repeat(N)),
        ("1M dollar signs", "$".repeat(10 * N)),
        ("1M+1 dollar signs", "$".repeat(10 * N + 1)),
        ("$a repeated", "$a".repeat(N)),
        ("$a$ repeated", "$a$".repeat(N) + "x"),
        ("$1 repeated", "$1".repeat(N)),
        (
            "near-miss closing tags",
            format!("${long_tag}$") + &format!("${}x", &long_tag[1..]).repeat(1000),
        ),
        ("'''' (even)", "'".repeat(10 * N)),
        ("''''' (odd)", "'".repeat(10 * N + 1)),
        ("E'\\\\\\\\", format!("E'{}", "\\".repeat(10 * N))),
        ("E'\\' repeated", "E'\\'".repeat(N)),
        ("E'' repeated", "E''\n".repeat(N)),
        ("\"\"\"\"", "\"".repeat(10 * N + 1)),
        ("-- with CR only", "--\r".repeat(3 * N)),
        ("-- with LF", "--\n".repeat(3 * N)),
        ("-- then ; with CR", "-- x\r;".repeat(2 * N)),
        ("long dashes", "-".repeat(10 * N)),
        ("100k (", "(".repeat(N) + ";"),
        ("100k ()", "()".repeat(N) + ";"),
        ("200k statements", "a;".repeat(2 * N)),
        ("200k empty statements", ";".repeat(2 * N)),
        ("1M newlines", "\n".repeat(10 * N)),
        ("1M spaces then \\", " ".repeat(10 * N) + "x \\"),
        (
            "\\ after spaces, repeated",
            format!("x{}", "    \\".repeat(N)),
        ),
        (
            "BEGIN ATOMIC with 100k CASE",
            "BEGIN ATOMIC ".to_owned() + &"CASE ".repeat(N) + &"END ".repeat(N + 1) + ";",
        ),
        (
            "COPY with 100k data lines",
            "COPY t FROM STDIN;\n".to_owned() + &"a;b'c$$d/*\n".repeat(N) + "\\.\nSELECT 1;",
        ),
        ("COPY 100k times", "COPY t FROM STDIN;\n\\.\n".repeat(N)),
        (
            "COPY without end, 100k lines",
            "COPY t FROM STDIN;\n".to_owned() + &"x\n".repeat(N),
        ),
        ("U&' repeated", "U&'x'".repeat(N)),
        ("words", "abcdefghij ".repeat(N)),
        ("non-ASCII", "é🎉".repeat(N)),
    ];
    // Linear code splits each of these (up to ~1 MB) in at most ~100 ms in a debug build; a scan
    // that restarts from each token to the end of the input takes from seconds (memchr) to hours.
    let limit = Duration::from_secs(if cfg!(debug_assertions) { 3 } else { 1 });
    for (name, sql) in cases {
        let len = sql.len();
        let (done_tx, done_rx) = mpsc::channel();
        let started = Instant::now();
        // On a thread, so that a hang fails the test instead of stopping it.
        thread::spawn(move || {
            let result = panic::catch_unwind(AssertUnwindSafe(|| split(&sql).map(drop)));
            let took = started.elapsed();
            let checked = check_input(&sql).map(drop);
            let _ = done_tx.send((result, took, checked));
        });
        match done_rx.recv_timeout(limit * 10) {
            Ok((Ok(_), took, Ok(()))) => {
                eprintln!("{name}: {took:?} for {len} bytes");
                assert!(
                    took < limit,
                    "{name}: {took:?} for {len} bytes (limit {limit:?})"
                );
            }
            Ok((Ok(_), _, Err(e))) => panic!("{name}: {e}"),
            Ok((Err(_), _, _)) => panic!("{name}: split panicked"),
            Err(_) => panic!(
                "{name}: no result after {:?} for {len} bytes (a hang)",
                limit * 10
            ),
        }
    }
}
