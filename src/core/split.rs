//! Statements of a migration script: where each starts and ends, its `COPY … FROM STDIN` data,
//! whether PostgreSQL refuses it inside a transaction, and how a server error position maps back
//! to a line and column of the file.
//!
//! Splitting follows Flyway's PostgreSQL parser: `;` ends a statement only at parenthesis depth 0
//! and outside `BEGIN ATOMIC … END` bodies; everything else (strings, dollar quotes, comments) is
//! decided by the [lexer](super::lexer), never by searching raw text.

use std::fmt;

use super::lexer::{Lexer, Token, TokenKind};

/// One statement of a script, as byte offsets into the script text.
///
/// The range runs from the statement's first significant token to the end of its last one:
/// comments and whitespace before and after it, and the terminating `;`, are outside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Statement {
    pub start: usize,
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    /// For `COPY … FROM STDIN`: the data lines after the statement, up to but excluding the `\.`
    /// line (so it ends with the last data line's newline; empty when there is no data).
    pub copy_data: Option<(usize, usize)>,
}

impl Statement {
    /// The statement text, as it is sent to the server.
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }

    /// The `COPY … FROM STDIN` data, as it is sent to the server.
    pub fn copy_data_text<'a>(&self, sql: &'a str) -> Option<&'a str> {
        self.copy_data.map(|(start, end)| &sql[start..end])
    }
}

/// What stops a script from being split; see [`SplitError`] for where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SplitErrorKind {
    UnterminatedString,
    UnterminatedQuotedIdentifier,
    UnterminatedDollarQuote {
        tag: String,
    },
    UnterminatedComment,
    UnterminatedCopyData,
    /// A psql meta-command such as `\connect`; `command` is its first word.
    MetaCommand {
        command: String,
    },
}

/// A script that cannot be split, with the 1-based line and column (in characters) of the token
/// or statement at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitError {
    pub kind: SplitErrorKind,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: ", self.line, self.column)?;
        match &self.kind {
            SplitErrorKind::UnterminatedString => f.write_str(
                "string literal is not closed before the end of the script; \
                 add the closing ' (a quote inside a string is written '')",
            ),
            SplitErrorKind::UnterminatedQuotedIdentifier => f.write_str(
                "quoted identifier is not closed before the end of the script; \
                 add the closing \" (a quote inside an identifier is written \"\")",
            ),
            SplitErrorKind::UnterminatedDollarQuote { tag } => write!(
                f,
                "dollar-quoted string opened with ${tag}$ is not closed before the end of \
                 the script; close it with the same ${tag}$"
            ),
            SplitErrorKind::UnterminatedComment => f.write_str(
                "block comment is not closed before the end of the script; add the missing */ \
                 (block comments nest, so every /* needs its own */)",
            ),
            SplitErrorKind::UnterminatedCopyData => f.write_str(
                "COPY … FROM STDIN has no end-of-data line; \
                 put the data on the lines after the statement and end it with a line holding only \\.",
            ),
            SplitErrorKind::MetaCommand { command } => write!(
                f,
                "{command} is a psql meta-command, not SQL; remove it (meta-commands such as \
                 \\connect, \\set and \\i only work in psql)"
            ),
        }
    }
}

impl std::error::Error for SplitError {}

/// The longest meta-command name quoted back in an error; the rest of the line may hold
/// arguments (host names, passwords) that do not belong in logs.
const META_COMMAND_MAX_CHARS: usize = 32;

fn error_at(sql: &str, offset: usize, kind: SplitErrorKind) -> SplitError {
    let (line, column) = line_col(sql, offset);
    SplitError { kind, line, column }
}

/// The error for a token of a [refused](TokenKind::is_refused) kind.
fn refused_token_error(sql: &str, tok: &Token) -> SplitError {
    let kind = match tok.kind {
        TokenKind::UnterminatedString => SplitErrorKind::UnterminatedString,
        TokenKind::UnterminatedQuotedIdent => SplitErrorKind::UnterminatedQuotedIdentifier,
        TokenKind::UnterminatedDollarQuote => SplitErrorKind::UnterminatedDollarQuote {
            tag: tok.dollar_tag(sql).unwrap_or_default().to_owned(),
        },
        TokenKind::UnterminatedBlockComment => SplitErrorKind::UnterminatedComment,
        _ => {
            let text = tok.text(sql);
            let word = text.split(char::is_whitespace).next().unwrap_or(text);
            SplitErrorKind::MetaCommand {
                command: word.chars().take(META_COMMAND_MAX_CHARS).collect(),
            }
        }
    };
    error_at(sql, tok.start, kind)
}

/// The words the splitter reacts to, and the `.` before a field name.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Keyword {
    #[default]
    Other,
    As,
    Dot,
    Begin,
    Atomic,
    Case,
    End,
    Copy,
    From,
    Stdin,
}

#[inline]
fn keyword(word: &[u8]) -> Keyword {
    // Length and first letter settle almost every word before any comparison.
    let is = |kw: &[u8]| word.eq_ignore_ascii_case(kw);
    match (word.len(), word.first().map_or(0, |b| b | 0x20)) {
        (2, b'a') if is(b"AS") => Keyword::As,
        (3, b'e') if is(b"END") => Keyword::End,
        (4, b'c') if is(b"CASE") => Keyword::Case,
        (4, b'c') if is(b"COPY") => Keyword::Copy,
        (4, b'f') if is(b"FROM") => Keyword::From,
        (5, b'b') if is(b"BEGIN") => Keyword::Begin,
        (5, b's') if is(b"STDIN") => Keyword::Stdin,
        (6, b'a') if is(b"ATOMIC") => Keyword::Atomic,
        _ => Keyword::Other,
    }
}

/// What the splitter knows about the statement being read.
#[derive(Default)]
struct Pending {
    start: Option<usize>,
    end: usize,
    paren: usize,
    /// Open `BEGIN ATOMIC` bodies plus the `CASE`s open inside them; each closes with `END`.
    block: usize,
    /// The previous significant token, if it was a word the splitter reacts to.
    prev: Keyword,
    is_copy: bool,
    copy_stdin: bool,
}

impl Pending {
    #[inline]
    fn feed(&mut self, sql: &str, tok: &Token) {
        let first = self.start.is_none();
        if first {
            self.start = Some(tok.start);
        }
        self.end = tok.end;
        let word = match tok.kind {
            // After `AS` or `.` any keyword is a name (`SELECT p.end`, `1 AS case`): PostgreSQL
            // takes a `ColLabel` there, and that must not close a `BEGIN ATOMIC` body.
            TokenKind::Word if matches!(self.prev, Keyword::As | Keyword::Dot) => Keyword::Other,
            TokenKind::Word => keyword(&sql.as_bytes()[tok.start..tok.end]),
            TokenKind::Punct if sql.as_bytes()[tok.start] == b'.' => Keyword::Dot,
            TokenKind::OpenParen => {
                self.paren += 1;
                Keyword::Other
            }
            TokenKind::CloseParen => {
                self.paren = self.paren.saturating_sub(1);
                Keyword::Other
            }
            _ => Keyword::Other,
        };
        match word {
            Keyword::Other => {}
            // `BEGIN ATOMIC` only ever opens a SQL-standard function body: a transaction's
            // BEGIN is never followed by ATOMIC, and plpgsql's BEGIN lives in a dollar quote.
            Keyword::Atomic if self.prev == Keyword::Begin => self.block += 1,
            Keyword::Case if self.block > 0 => self.block += 1,
            Keyword::End if self.block > 0 => self.block -= 1,
            Keyword::Copy if first => self.is_copy = true,
            Keyword::Stdin if self.is_copy && self.paren == 0 && self.prev == Keyword::From => {
                self.copy_stdin = true;
            }
            _ => {}
        }
        self.prev = word;
    }
}

/// Counts lines forward as statements are found, so the whole script is scanned once.
struct LineCounter {
    pos: usize,
    line: usize,
}

impl LineCounter {
    fn line_at(&mut self, sql: &str, offset: usize) -> usize {
        self.line += count_newlines(&sql.as_bytes()[self.pos..offset]);
        self.pos = offset;
        self.line
    }
}

/// Line ends: `\n`, `\r\n`, and a lone `\r` (old Mac files), as PostgreSQL and Flyway's
/// checksum count them.
fn count_newlines(bytes: &[u8]) -> usize {
    let lf = count_byte(bytes, b'\n');
    if memchr::memchr(b'\r', bytes).is_none() {
        return lf;
    }
    let crlf = bytes.windows(2).filter(|w| *w == b"\r\n").count();
    lf + count_byte(bytes, b'\r') - crlf
}

fn count_byte(bytes: &[u8], byte: u8) -> usize {
    // Fixed-size chunks summed into a `u8` let the compiler compare 16 bytes per instruction; a
    // plain `filter().count()` widens every byte to a `usize` lane.
    let mut chunks = bytes.chunks_exact(32);
    let mut total = 0usize;
    for chunk in &mut chunks {
        total += usize::from(chunk.iter().map(|&b| u8::from(b == byte)).sum::<u8>());
    }
    total + chunks.remainder().iter().filter(|&&b| b == byte).count()
}

/// After the `;` of a `COPY … FROM STDIN` at `after`: the data range and where SQL resumes, or
/// `None` when no `\.` line follows. The rest of the statement's own line is ignored, as in Flyway.
fn copy_data(sql: &str, after: usize) -> Option<((usize, usize), usize)> {
    let data_start = after + sql[after..].find('\n')? + 1;
    let mut line_start = data_start;
    while line_start < sql.len() {
        let line_end = sql[line_start..]
            .find('\n')
            .map_or(sql.len(), |i| line_start + i);
        // Java's `String.trim()`, as Flyway uses it: everything up to U+0020 is blank.
        if sql[line_start..line_end].trim_matches(|c: char| c <= ' ') == "\\." {
            return Some(((data_start, line_start), (line_end + 1).min(sql.len())));
        }
        line_start = line_end + 1;
    }
    None
}

/// Splits a script into statements.
///
/// `;` ends a statement at parenthesis depth 0 outside `BEGIN ATOMIC … END`; a last statement
/// without `;` counts; chunks holding only comments and whitespace are dropped. A
/// `COPY … FROM STDIN;` takes the lines after it up to a `\.` line as its data. Unbalanced
/// parentheses are not an error here: the statement runs to the end and the server reports it.
pub fn split(sql: &str) -> Result<Vec<Statement>, SplitError> {
    let mut out = Vec::new();
    let mut lexer = Lexer::new(sql);
    let mut pending = Pending::default();
    let mut lines = LineCounter { pos: 0, line: 1 };
    while let Some(tok) = lexer.next_significant() {
        match tok.kind {
            TokenKind::Semicolon if pending.paren == 0 && pending.block == 0 => {
                if let Some(start) = pending.start {
                    let mut stmt = Statement {
                        start,
                        end: pending.end,
                        line: lines.line_at(sql, start),
                        copy_data: None,
                    };
                    if pending.copy_stdin {
                        let Some((data, resume)) = copy_data(sql, tok.end) else {
                            return Err(error_at(sql, start, SplitErrorKind::UnterminatedCopyData));
                        };
                        stmt.copy_data = Some(data);
                        lexer.reset(resume);
                    }
                    out.push(stmt);
                }
                pending = Pending::default();
                continue;
            }
            _ => {}
        }
        if tok.kind.is_refused() {
            return Err(refused_token_error(sql, &tok));
        }
        pending.feed(sql, &tok);
    }
    if let Some(start) = pending.start {
        if pending.copy_stdin {
            return Err(error_at(sql, start, SplitErrorKind::UnterminatedCopyData));
        }
        out.push(Statement {
            start,
            end: pending.end,
            line: lines.line_at(sql, start),
            copy_data: None,
        });
    }
    Ok(out)
}

/// Calls `f` with each token of `text` that is not whitespace or a comment, and its parenthesis
/// depth (the depth inside it for `(`, outside it for `)`). Stops when `f` returns false.
fn for_each_significant(text: &str, mut f: impl FnMut(&Token, usize) -> bool) {
    let mut depth = 0usize;
    let mut lexer = Lexer::new(text);
    while let Some(tok) = lexer.next_significant() {
        match tok.kind {
            TokenKind::OpenParen => depth += 1,
            TokenKind::CloseParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        let at = if tok.kind == TokenKind::OpenParen {
            depth - 1
        } else {
            depth
        };
        if !f(&tok, at) {
            return;
        }
    }
}

/// Whether a word token counts as a keyword in Flyway's simplified statement: ASCII letters and
/// `_` only, and not one part of a dotted name.
fn is_keyword_token(text: &str, tok: &Token) -> bool {
    let bytes = text.as_bytes();
    tok.kind == TokenKind::Word
        && tok
            .text(text)
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'_')
        && (tok.start == 0 || bytes[tok.start - 1] != b'.')
        && bytes.get(tok.end) != Some(&b'.')
}

/// The first `max` keywords of a statement, upper-cased: unquoted words of letters and `_` at
/// parenthesis depth 0, skipping comments, quoted and dotted names, literals and punctuation.
/// Table and column names made of letters count too, as in Flyway's simplified statement.
pub fn leading_keywords(stmt_text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    if max == 0 {
        return out;
    }
    for_each_significant(stmt_text, |tok, depth| {
        if depth == 0 && is_keyword_token(stmt_text, tok) {
            out.push(tok.text(stmt_text).to_ascii_uppercase());
        }
        out.len() < max
    });
    out
}

/// How many keywords are read to classify a statement. Flyway stops at 10, exactly what
/// `ALTER TABLE IF EXISTS ONLY t DETACH PARTITION p CONCURRENTLY` needs; two more are slack.
const CLASSIFY_KEYWORDS: usize = 12;

/// The keywords [`non_transactional_reason`] looks at; any other keyword is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kw {
    Create,
    Drop,
    Alter,
    Reindex,
    Vacuum,
    Discard,
    Database,
    Tablespace,
    Subscription,
    System,
    Index,
    Unique,
    Concurrently,
    Verbose,
    Schema,
    All,
    Table,
    Detach,
    Partition,
    Other,
}

impl Kw {
    fn of(word: &str) -> Kw {
        const WORDS: [(&str, Kw); 19] = [
            ("CREATE", Kw::Create),
            ("DROP", Kw::Drop),
            ("ALTER", Kw::Alter),
            ("REINDEX", Kw::Reindex),
            ("VACUUM", Kw::Vacuum),
            ("DISCARD", Kw::Discard),
            ("DATABASE", Kw::Database),
            ("TABLESPACE", Kw::Tablespace),
            ("SUBSCRIPTION", Kw::Subscription),
            ("SYSTEM", Kw::System),
            ("INDEX", Kw::Index),
            ("UNIQUE", Kw::Unique),
            ("CONCURRENTLY", Kw::Concurrently),
            ("VERBOSE", Kw::Verbose),
            ("SCHEMA", Kw::Schema),
            ("ALL", Kw::All),
            ("TABLE", Kw::Table),
            ("DETACH", Kw::Detach),
            ("PARTITION", Kw::Partition),
        ];
        WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map_or(Kw::Other, |&(_, kw)| kw)
    }

    /// Whether a statement starting with `prefix` needs more keywords to be classified; most
    /// statements are settled by their first one or two, so the rest is never lexed.
    fn wants_more(prefix: &[Kw]) -> bool {
        use Kw::*;
        matches!(
            prefix,
            [Create | Drop | Alter | Discard]
                | [Create, Index | Unique]
                | [Create, Unique, Index]
                | [Drop, Index]
                | [Alter, Table, ..]
                | [Reindex, ..]
        )
    }
}

/// A short label when PostgreSQL refuses `stmt_text` inside a transaction block (SQLSTATE
/// 25001), so the script must run without one; `None` when it may run in a transaction.
///
/// Detected: `CREATE|DROP DATABASE|TABLESPACE|SUBSCRIPTION`, `ALTER SYSTEM`,
/// `CREATE [UNIQUE] INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`,
/// `REINDEX … SCHEMA|DATABASE|SYSTEM`, `REINDEX … CONCURRENTLY` (also as a `( … )` option),
/// `VACUUM`, `DISCARD ALL`, `ALTER TABLE … DETACH PARTITION … CONCURRENTLY`. The first six are
/// Flyway's list; the `REINDEX … CONCURRENTLY` and `DETACH PARTITION` forms Flyway misses.
/// `ALTER TYPE … ADD VALUE` runs in a transaction since PostgreSQL 12 and is not listed.
pub fn non_transactional_reason(stmt_text: &str) -> Option<&'static str> {
    use Kw::*;
    let mut keywords = [Other; CLASSIFY_KEYWORDS];
    let mut n = 0;
    for_each_significant(stmt_text, |tok, depth| {
        if depth == 0 && is_keyword_token(stmt_text, tok) {
            keywords[n] = Kw::of(tok.text(stmt_text));
            n += 1;
            return n < CLASSIFY_KEYWORDS && Kw::wants_more(&keywords[..n]);
        }
        true
    });
    match &keywords[..n] {
        [Create, Database, ..] => Some("CREATE DATABASE"),
        [Drop, Database, ..] => Some("DROP DATABASE"),
        [Create, Tablespace, ..] => Some("CREATE TABLESPACE"),
        [Drop, Tablespace, ..] => Some("DROP TABLESPACE"),
        [Create, Subscription, ..] => Some("CREATE SUBSCRIPTION"),
        [Drop, Subscription, ..] => Some("DROP SUBSCRIPTION"),
        [Alter, System, ..] => Some("ALTER SYSTEM"),
        [Create, Index, Concurrently, ..] | [Create, Unique, Index, Concurrently, ..] => {
            Some("CREATE INDEX CONCURRENTLY")
        }
        [Drop, Index, Concurrently, ..] => Some("DROP INDEX CONCURRENTLY"),
        [Reindex, rest @ ..] => reindex_reason(stmt_text, rest),
        [Vacuum, ..] => Some("VACUUM"),
        [Discard, All, ..] => Some("DISCARD ALL"),
        [Alter, Table, rest @ ..] => {
            let detach = rest.windows(2).position(|w| w == [Detach, Partition])?;
            rest[detach + 2..]
                .contains(&Concurrently)
                .then_some("ALTER TABLE DETACH PARTITION CONCURRENTLY")
        }
        _ => None,
    }
}

/// `REINDEX [ ( option, … ) ] [ VERBOSE ] { INDEX | TABLE | SCHEMA | DATABASE | SYSTEM }
/// [ CONCURRENTLY ] name`. CONCURRENTLY cannot be an unquoted table or index name, so any
/// such keyword at depth 0 is the option.
fn reindex_reason(stmt_text: &str, rest: &[Kw]) -> Option<&'static str> {
    let target = match rest {
        [Kw::Verbose, target, ..] | [target, ..] => *target,
        [] => return None,
    };
    match target {
        Kw::Schema => Some("REINDEX SCHEMA"),
        Kw::Database => Some("REINDEX DATABASE"),
        Kw::System => Some("REINDEX SYSTEM"),
        _ if rest.contains(&Kw::Concurrently) || reindex_option_concurrently(stmt_text) => {
            Some("REINDEX CONCURRENTLY")
        }
        _ => None,
    }
}

/// Whether the option list right after `REINDEX` turns CONCURRENTLY on: `(CONCURRENTLY)`,
/// `(VERBOSE, CONCURRENTLY true)`, but not `(CONCURRENTLY false)`.
fn reindex_option_concurrently(stmt_text: &str) -> bool {
    let mut options: Vec<Token> = Vec::new();
    let mut index = 0;
    for_each_significant(stmt_text, |tok, depth| {
        index += 1;
        match index {
            1 => true,
            2 => tok.kind == TokenKind::OpenParen,
            _ if depth == 0 => false,
            _ => {
                options.push(*tok);
                true
            }
        }
    });
    let is = |tok: &Token, word: &str| {
        tok.text(stmt_text)
            .trim_matches('\'')
            .eq_ignore_ascii_case(word)
    };
    options
        .split(|tok| tok.kind == TokenKind::Punct && is(tok, ","))
        .any(|option| match option {
            [name, value @ ..] if is_keyword_token(stmt_text, name) && is(name, "CONCURRENTLY") => {
                !value
                    .first()
                    .is_some_and(|v| ["false", "off", "0"].iter().any(|off| is(v, off)))
            }
            _ => false,
        })
}

/// 1-based line and column (in characters) of a byte offset, clamped to the text.
pub fn line_col(sql: &str, byte_offset: usize) -> (usize, usize) {
    let mut offset = byte_offset.min(sql.len());
    while !sql.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &sql[..offset];
    let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let line = 1 + count_newlines(before.as_bytes());
    let column = 1 + before[line_start..].chars().count();
    (line, column)
}

/// The byte offset in `sql` of a server error `position` — PostgreSQL's 1-based character index
/// into the statement text it received. Out-of-range positions clamp to the statement's
/// start or end (the server reports "at end of input" one past the last character).
pub fn statement_char_offset(sql: &str, stmt: &Statement, position: usize) -> usize {
    let start = stmt.start.min(sql.len());
    let end = stmt.end.clamp(start, sql.len());
    let Some(text) = sql.get(start..end) else {
        return start;
    };
    match position.checked_sub(1) {
        None => start,
        Some(index) => text
            .char_indices()
            .nth(index)
            .map_or(end, |(i, _)| start + i),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_lone_cr_ends_a_line_for_locations() {
        let sql = "SELECT 1;\rSELECT 2;\r\nSELECT\rx;";
        let st = split(sql).unwrap();
        assert_eq!(st.iter().map(|s| s.line).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(line_col(sql, sql.len() - 2), (4, 1));
    }

    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split(sql).unwrap().iter().map(|s| s.text(sql)).collect()
    }

    fn err(sql: &str) -> SplitError {
        split(sql).unwrap_err()
    }

    #[test]
    fn splits_on_semicolons_and_keeps_last_statement() {
        assert_eq!(texts("a; b;c"), vec!["a", "b", "c"]);
        assert_eq!(texts("a;;; ;b;"), vec!["a", "b"]);
        assert_eq!(texts(""), Vec::<&str>::new());
        assert_eq!(texts(" -- x\n/* y */ ; -- z"), Vec::<&str>::new());
    }

    #[test]
    fn statement_range_excludes_surrounding_comments() {
        let sql = "-- head\n/* c */ SELECT 1 /* mid */ + 2 -- tail\n;";
        let s = split(sql).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].text(sql), "SELECT 1 /* mid */ + 2");
        assert_eq!(s[0].line, 2);
    }

    #[test]
    fn lines_are_one_based_and_follow_crlf() {
        let sql = "a;\r\n\r\nb;\r\n  c\r\n";
        let s = split(sql).unwrap();
        let lines: Vec<usize> = s.iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![1, 3, 4]);
        assert_eq!(s[2].text(sql), "c");
    }

    #[test]
    fn semicolons_inside_parentheses_do_not_split() {
        assert_eq!(texts("select (1; 2); x"), vec!["select (1; 2)", "x"]);
        assert_eq!(
            texts(") ; x"),
            vec![")", "x"],
            "a stray ) does not go negative"
        );
    }

    #[test]
    fn begin_atomic_bodies() {
        let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN true THEN 1 ELSE 2 END;\n  SELECT 2;\nEND;\nSELECT 3;";
        let t = texts(sql);
        assert_eq!(t.len(), 2);
        assert!(t[0].ends_with("SELECT 2;\nEND"));
        assert_eq!(t[1], "SELECT 3");
        assert_eq!(
            texts("begin /* c */ atomic select 1; end; x"),
            vec!["begin /* c */ atomic select 1; end", "x"]
        );
        // Keywords as names after `.` and `AS` neither close nor open a body.
        let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC\n  SELECT p.end, p . case, 1 AS end, 2 AS begin FROM p;\n  SELECT t.begin atomic FROM t;\nEND; x";
        assert_eq!(texts(sql).len(), 2);
        assert!(texts(sql)[0].ends_with("FROM t;\nEND"));
    }

    #[test]
    fn transaction_begin_and_plpgsql_begin_do_not_open_blocks() {
        assert_eq!(
            texts("BEGIN; CREATE TABLE t(); COMMIT;"),
            vec!["BEGIN", "CREATE TABLE t()", "COMMIT"]
        );
        assert_eq!(
            texts("DO $$ BEGIN PERFORM 1; END $$; SELECT 1"),
            vec!["DO $$ BEGIN PERFORM 1; END $$", "SELECT 1"]
        );
        assert_eq!(
            texts("SELECT 1 AS begin; SELECT CASE WHEN x THEN 1 END; SELECT 2"),
            vec![
                "SELECT 1 AS begin",
                "SELECT CASE WHEN x THEN 1 END",
                "SELECT 2"
            ]
        );
    }

    #[test]
    fn copy_from_stdin() {
        let sql = "COPY t (a, b) FROM stdin; -- ignored\n1\tx\n2\ty\n\\.\nSELECT 1;";
        let s = split(sql).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].text(sql), "COPY t (a, b) FROM stdin");
        assert_eq!(s[0].copy_data_text(sql), Some("1\tx\n2\ty\n"));
        assert_eq!(s[1].text(sql), "SELECT 1");
        assert_eq!(s[1].line, 5);
        assert_eq!(s[1].copy_data, None);
    }

    #[test]
    fn copy_data_edges() {
        let sql = "COPY t FROM STDIN;\n  \\.  \r\n";
        let s = split(sql).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].copy_data_text(sql), Some(""));
        // Data lines may hold `;`, quotes and `\` without confusing the splitter.
        let sql = "COPY t FROM STDIN;\n';\"$$\n\\N\n\\.";
        let s = split(sql).unwrap();
        assert_eq!(s[0].copy_data_text(sql), Some("';\"$$\n\\N\n"));
        // Not COPY FROM STDIN: no data expected.
        assert_eq!(texts("COPY t TO STDOUT; x"), vec!["COPY t TO STDOUT", "x"]);
        assert_eq!(
            texts("COPY (SELECT 1 FROM stdin) TO STDOUT; x").len(),
            2,
            "FROM STDIN inside parentheses is not COPY FROM STDIN"
        );
        assert_eq!(texts("SELECT 1 FROM stdin; x").len(), 2);
    }

    #[test]
    fn copy_without_end_marker_is_an_error() {
        for sql in [
            "SELECT 1;\nCOPY t FROM STDIN;\n1\n2\n",
            "COPY t FROM STDIN;",
            "COPY t FROM STDIN",
            "COPY t FROM STDIN;\n\\.x\n",
            "COPY t FROM STDIN;\n\\.\u{a0}\n",
        ] {
            let e = err(sql);
            assert_eq!(e.kind, SplitErrorKind::UnterminatedCopyData, "{sql:?}");
        }
        assert_eq!(err("SELECT 1;\nCOPY t FROM STDIN;\n1\n").line, 2);
    }

    #[test]
    fn unterminated_tokens_are_errors_with_positions() {
        let e = err("SELECT 1;\nSELECT 'abc");
        assert_eq!(e.kind, SplitErrorKind::UnterminatedString);
        assert_eq!((e.line, e.column), (2, 8));
        assert_eq!(
            err("x;\n  é \"q").kind,
            SplitErrorKind::UnterminatedQuotedIdentifier
        );
        assert_eq!((err("x;\n  é \"q").column), 5, "columns count characters");
        assert_eq!(
            err("DO $body$ BEGIN END $bod$;").kind,
            SplitErrorKind::UnterminatedDollarQuote { tag: "body".into() }
        );
        assert_eq!(
            err("/* a /* b */ SELECT 1;").kind,
            SplitErrorKind::UnterminatedComment
        );
    }

    #[test]
    fn meta_commands_are_refused() {
        let e = err("SELECT 1;\n\\connect other user secret\nSELECT 2;");
        assert_eq!(
            e.kind,
            SplitErrorKind::MetaCommand {
                command: "\\connect".into()
            }
        );
        assert_eq!((e.line, e.column), (2, 1));
        let msg = e.to_string();
        assert!(msg.contains("remove it"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let msg = err("SELECT $x$ 1").to_string();
        assert_eq!(
            msg,
            "line 1, column 8: dollar-quoted string opened with $x$ is not closed before the \
             end of the script; close it with the same $x$"
        );
        assert!(err("COPY t FROM STDIN;\n").to_string().contains("\\."));
    }

    #[test]
    fn leading_keywords_skip_comments_literals_and_nested() {
        assert_eq!(
            leading_keywords(
                "/* x */ create -- y\n unique index \"Ix\" on public.t (concurrently) where a1 = 'b'",
                10
            ),
            vec!["CREATE", "UNIQUE", "INDEX", "ON", "WHERE"]
        );
        assert_eq!(leading_keywords("select a, b", 2), vec!["SELECT", "A"]);
        assert!(leading_keywords("select", 0).is_empty());
    }

    #[test]
    fn line_col_counts_characters() {
        let sql = "ab\nçé x\n";
        assert_eq!(line_col(sql, 0), (1, 1));
        assert_eq!(line_col(sql, 3), (2, 1));
        assert_eq!(line_col(sql, 8), (2, 4));
        assert_eq!(line_col(sql, 5), (2, 2), "inside a character: its start");
        assert_eq!(line_col(sql, 999), (3, 1));
    }

    #[test]
    fn server_positions_map_to_file_positions() {
        let sql = "SELECT 1;\n-- c\nSELECT 'é',\n  nope;";
        let s = split(sql).unwrap();
        let stmt = &s[1];
        // PostgreSQL: position 15 is `nope` in "SELECT 'é',\n  nope" (characters, 1-based).
        let off = statement_char_offset(sql, stmt, 15);
        assert_eq!(&sql[off..off + 4], "nope");
        assert_eq!(line_col(sql, off), (4, 3));
        assert_eq!(statement_char_offset(sql, stmt, 0), stmt.start);
        assert_eq!(statement_char_offset(sql, stmt, 1), stmt.start);
        assert_eq!(statement_char_offset(sql, stmt, 1000), stmt.end);
        let bogus = Statement {
            start: 500,
            end: 900,
            line: 1,
            copy_data: None,
        };
        assert_eq!(statement_char_offset(sql, &bogus, 3), sql.len());
    }

    #[test]
    fn non_transactional_forms() {
        let cases = [
            ("CREATE DATABASE app", "CREATE DATABASE"),
            ("drop database if exists app", "DROP DATABASE"),
            (
                "CREATE TABLESPACE fast LOCATION '/ssd'",
                "CREATE TABLESPACE",
            ),
            ("DROP TABLESPACE fast", "DROP TABLESPACE"),
            (
                "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p",
                "CREATE SUBSCRIPTION",
            ),
            ("DROP SUBSCRIPTION s", "DROP SUBSCRIPTION"),
            ("ALTER SYSTEM SET work_mem = '64MB'", "ALTER SYSTEM"),
            (
                "CREATE INDEX CONCURRENTLY i ON t (a)",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "create unique index concurrently i on t (a)",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "/* build */ CREATE -- online\n INDEX CONCURRENTLY ON t (a)",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "DROP INDEX CONCURRENTLY IF EXISTS i",
                "DROP INDEX CONCURRENTLY",
            ),
            ("REINDEX SCHEMA app", "REINDEX SCHEMA"),
            ("REINDEX VERBOSE DATABASE app", "REINDEX DATABASE"),
            ("REINDEX (VERBOSE) SYSTEM app", "REINDEX SYSTEM"),
            ("REINDEX TABLE CONCURRENTLY t", "REINDEX CONCURRENTLY"),
            ("REINDEX INDEX CONCURRENTLY app.i", "REINDEX CONCURRENTLY"),
            ("REINDEX (CONCURRENTLY) TABLE t", "REINDEX CONCURRENTLY"),
            (
                "REINDEX (VERBOSE, CONCURRENTLY true) INDEX i",
                "REINDEX CONCURRENTLY",
            ),
            ("VACUUM", "VACUUM"),
            ("vacuum (analyze) t", "VACUUM"),
            ("DISCARD ALL", "DISCARD ALL"),
            (
                "ALTER TABLE measurement DETACH PARTITION measurement_y2006m02 CONCURRENTLY",
                "ALTER TABLE DETACH PARTITION CONCURRENTLY",
            ),
            (
                "ALTER TABLE IF EXISTS ONLY app.m DETACH PARTITION app.p CONCURRENTLY",
                "ALTER TABLE DETACH PARTITION CONCURRENTLY",
            ),
        ];
        for (sql, label) in cases {
            assert_eq!(non_transactional_reason(sql), Some(label), "{sql}");
        }
    }

    #[test]
    fn transactional_near_misses() {
        for sql in [
            "CREATE INDEX i ON t (a)",
            "CREATE UNIQUE INDEX i ON t (a)",
            "CREATE INDEX /* CONCURRENTLY */ i ON t (a)",
            "CREATE INDEX -- CONCURRENTLY\n i ON t (a)",
            "CREATE INDEX \"concurrently\" ON t (a)",
            "CREATE INDEX concurrently_idx ON t (a)",
            "CREATE INDEX i ON t (a) WHERE concurrently",
            "DROP INDEX i",
            "ALTER TYPE mood ADD VALUE 'meh'",
            "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' BEFORE 'sad'",
            "REINDEX TABLE t",
            "REINDEX (VERBOSE) INDEX i",
            "REINDEX (CONCURRENTLY false) TABLE t",
            "REINDEX (CONCURRENTLY off, VERBOSE) TABLE t",
            "ALTER TABLE m DETACH PARTITION p",
            "ALTER TABLE m DETACH PARTITION p FINALIZE",
            "ALTER TABLE m ADD COLUMN concurrently int",
            "CREATE TABLE database (id int)",
            "SELECT 'VACUUM'",
            "-- VACUUM\nSELECT 1",
            "DISCARD PLANS",
            "ALTER DATABASE app SET work_mem = '1MB'",
            "",
        ] {
            assert_eq!(non_transactional_reason(sql), None, "{sql}");
        }
    }
}
