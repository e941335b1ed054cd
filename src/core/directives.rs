//! `schemagate:` directives: read from a script's comment tokens (never from strings or function bodies), checked, and turned into the script's phase.
//!
//! A directive is a comment whose text starts with `schemagate:` (`-- schemagate:contract`,
//! `/* schemagate:backfill */`). The phase directives (`expand`, `contract`, `backfill`, SPEC
//! §11) belong in the leading comments, before the first statement, so that they are part of
//! the file's checksum from the day it is written and a Flyway run of the same folder sees a
//! plain comment. `allow` and `allow-file` (SPEC §8) are the lint's; their shape is checked
//! here so that a malformed one is caught as early as a misspelt phase.
//!
//! Every mistake is an error naming the line: a typo must never turn a contract into an expand.

use std::fmt;
use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::hint::closest;
use super::lexer::{TokenKind, tokens};
use super::split::line_col;

/// What a script does during a rolling update (SPEC §11).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Adds; the old and the new app version both keep working. The default.
    #[default]
    Expand,
    /// Removes or tightens what only the old version needed: runs once no old client is left.
    Contract,
    /// Moves data in batches, each in its own short transaction, until nothing is left to move.
    Backfill,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Expand, Phase::Contract, Phase::Backfill];

    /// The directive's name, and what `info` and the phase table show.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Expand => "expand",
            Phase::Contract => "contract",
            Phase::Backfill => "backfill",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a script's directives say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directives {
    pub phase: Phase,
    /// The line of the phase directive, when there is one.
    pub phase_line: Option<usize>,
}

const PREFIX: &str = "schemagate:";
const ALLOW: &str = "allow";
const ALLOW_FILE: &str = "allow-file";
const NAMES: [&str; 5] = ["expand", "contract", "backfill", ALLOW, ALLOW_FILE];

/// Every pod start reads every script's directives, and almost no script has one: a SIMD
/// search for the prefix, built once, decides that without lexing.
static FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(PREFIX.as_bytes()));

/// The directive in a comment token's text, if the comment is one: the text after
/// `schemagate:`, and whether it was a line comment.
pub fn directive_text(comment: &str) -> Option<&str> {
    let body = if let Some(b) = comment.strip_prefix("--") {
        b
    } else {
        let b = comment.strip_prefix("/*")?;
        b.strip_suffix("*/").unwrap_or(b)
    };
    body.trim_start().strip_prefix(PREFIX)
}

/// Reads and checks every directive of `sql`. `Err` holds one message per mistake, each
/// starting with `line N:`.
pub fn read(sql: &str) -> Result<Directives, Vec<String>> {
    let mut out = Directives::default();
    if FINDER.find(sql.as_bytes()).is_none() {
        return Ok(out);
    }
    let mut problems = Vec::new();
    // The line of the first statement, once one has been seen.
    let mut first_statement: Option<usize> = None;
    for tok in tokens(sql) {
        let comment = matches!(tok.kind, TokenKind::LineComment | TokenKind::BlockComment);
        if !comment {
            if !tok.is_trivia() && first_statement.is_none() {
                first_statement = Some(line_col(sql, tok.start).0);
            }
            continue;
        }
        let Some(text) = directive_text(tok.text(sql)) else {
            continue;
        };
        let line = line_col(sql, tok.start).0;
        let text = text.trim_end();
        let (name, args) = match text.find(char::is_whitespace) {
            Some(i) => (&text[..i], text[i..].trim()),
            None => (text, ""),
        };
        if let Some(phase) = Phase::parse(name) {
            if !args.is_empty() {
                problems.push(format!(
                    "line {line}: `schemagate:{name}` takes nothing after it, found `{args}`; put a note on a comment line of its own"
                ));
            } else if let Some(first) = first_statement {
                problems.push(format!(
                    "line {line}: `schemagate:{name}` comes after the first statement (line {first}); a phase directive belongs in the script's leading comments, before any statement"
                ));
            } else if let Some(earlier) = out.phase_line.filter(|_| out.phase != phase) {
                problems.push(format!(
                    "line {line}: `schemagate:{name}` contradicts `schemagate:{}` on line {earlier}; a script has one phase",
                    out.phase
                ));
            } else {
                out.phase = phase;
                out.phase_line.get_or_insert(line);
            }
        } else if name == ALLOW || name == ALLOW_FILE {
            if let Err(why) = check_allow(args) {
                problems.push(format!("line {line}: `schemagate:{name}` {why}"));
            } else if name == ALLOW_FILE && first_statement.is_some() {
                problems.push(format!(
                    "line {line}: `schemagate:allow-file` comes after the first statement; put it in the script's leading comments, or use `schemagate:allow` right before the statement"
                ));
            }
        } else if name.is_empty() && !args.is_empty() {
            let word = args.split_whitespace().next().unwrap_or_default();
            problems.push(format!(
                "line {line}: `schemagate: {word}` has a space after the colon, so it is no directive; write `schemagate:{word}`"
            ));
        } else {
            let hint = match closest(name, NAMES) {
                Some(n) => format!("did you mean `schemagate:{n}`?"),
                None => format!(
                    "known directives: schemagate:{}",
                    NAMES.join(", schemagate:")
                ),
            };
            problems.push(format!(
                "line {line}: unknown directive `schemagate:{name}`; {hint}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn check_allow(args: &str) -> Result<(), String> {
    parse_allow(args).map(|_| ())
}

/// `<rule>[,<rule>…] reason="<why>"`, the shape SPEC §8 gives: the rule ids and the reason.
/// Which rule ids exist is the lint's to say.
pub fn parse_allow(args: &str) -> Result<(Vec<&str>, &str), String> {
    let (rules, rest) = match args.find(char::is_whitespace) {
        Some(i) => (&args[..i], args[i..].trim()),
        None => (args, ""),
    };
    let rule_ok = |r: &str| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if rules.is_empty() || rules.starts_with("reason=") || !rules.split(',').all(rule_ok) {
        return Err(
            "needs the rule ids it allows, comma-separated, then reason=\"<why>\": `-- schemagate:allow lock-index-not-concurrent reason=\"table is empty\"`".into(),
        );
    }
    let reason = rest
        .strip_prefix("reason=\"")
        .and_then(|r| r.strip_suffix('"'))
        .map(str::trim);
    match reason {
        Some(r) if !r.is_empty() => Ok((rules.split(',').collect(), r)),
        _ => Err(format!(
            "for {rules} needs a reason: end it with reason=\"<why this is safe>\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(sql: &str) -> Phase {
        read(sql).unwrap_or_else(|e| panic!("{e:?}")).phase
    }

    fn errors(sql: &str) -> String {
        read(sql).expect_err("accepted").join("\n")
    }

    #[test]
    fn phase_directives_in_leading_comments() {
        assert_eq!(phase("ALTER TABLE t DROP COLUMN c;"), Phase::Expand);
        assert_eq!(
            phase("-- schemagate:contract\nALTER TABLE t DROP COLUMN c;"),
            Phase::Contract
        );
        assert_eq!(
            phase(
                "-- drop the old column\n--   schemagate:contract   \r\nALTER TABLE t DROP COLUMN c;"
            ),
            Phase::Contract
        );
        assert_eq!(
            phase("/* schemagate:backfill */ UPDATE t SET a = 1 WHERE false;"),
            Phase::Backfill
        );
        assert_eq!(phase("-- schemagate:expand\nSELECT 1;"), Phase::Expand);
        let d = read("\n\n-- schemagate:contract\n-- schemagate:contract\nSELECT 1;").unwrap();
        assert_eq!(d.phase_line, Some(3));
    }

    #[test]
    fn near_misses_are_not_directives() {
        // In a string, a dollar quote or a function body: not a comment token.
        for sql in [
            "SELECT '-- schemagate:contract';",
            "CREATE FUNCTION f() RETURNS int AS $$\n-- schemagate:contract\nSELECT 1 $$ LANGUAGE sql;",
            "-- see schemagate: contract docs\nSELECT 1;",
            "-- Schemagate:contract\nSELECT 1;",
            "-- schemagate contract\nSELECT 1;",
        ] {
            assert_eq!(read(sql).map(|d| d.phase), Ok(Phase::Expand), "{sql}");
        }
    }

    #[test]
    fn typos_and_misplaced_directives_name_the_line() {
        let e = errors("-- schemagate:contrct\nALTER TABLE t DROP COLUMN c;");
        assert_eq!(
            e,
            "line 1: unknown directive `schemagate:contrct`; did you mean `schemagate:contract`?"
        );
        let e = errors("SELECT 1;\n-- schemagate:contract\nSELECT 2;");
        assert!(
            e.starts_with("line 2: `schemagate:contract` comes after the first statement (line 1)"),
            "{e}"
        );
        let e = errors("-- schemagate:contract\n-- schemagate:backfill\nSELECT 1;");
        assert!(e.contains("line 2") && e.contains("contradicts"), "{e}");
        let e = errors("-- schemagate:contract drop phone\nSELECT 1;");
        assert!(e.contains("takes nothing after it"), "{e}");
        let e = errors("-- schemagate: contract\nSELECT 1;");
        assert!(e.contains("write `schemagate:contract`"), "{e}");
        let e = errors("-- schemagate:\nSELECT 1;");
        assert!(
            e.starts_with("line 1: unknown directive `schemagate:`; known directives"),
            "{e}"
        );
        // Every mistake at once.
        assert_eq!(
            read("-- schemagate:x\n-- schemagate:y\nSELECT 1;")
                .unwrap_err()
                .len(),
            2
        );
    }

    #[test]
    fn allow_directives_have_rules_and_a_reason() {
        assert!(
            read("-- schemagate:allow-file rewrite-column-type reason=\"empty table\"\nSELECT 1;")
                .is_ok()
        );
        assert!(
            read("SELECT 1;\n-- schemagate:allow a-rule,other-rule reason=\"checked\"\nSELECT 2;")
                .is_ok()
        );
        let e = errors("-- schemagate:allow a-rule\nSELECT 1;");
        assert!(e.contains("needs a reason"), "{e}");
        let e = errors("-- schemagate:allow reason=\"x\"\nSELECT 1;");
        assert!(e.contains("needs the rule ids"), "{e}");
        let e = errors("SELECT 1;\n-- schemagate:allow-file a reason=\"x\"\n");
        assert!(e.contains("after the first statement"), "{e}");
    }
}
